"""Benchmarks: quality on real data and speed as ratios; never run by the test suite."""
