"""Domain-free building blocks shared by every dlsuite task."""
