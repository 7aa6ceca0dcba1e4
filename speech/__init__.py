"""CTC speech recognition."""
