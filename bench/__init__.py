"""Benchmarks: the mirror vs Cognito GetUser per request. Run with `make bench`."""
