"""Benchmarks (issue 7): the mirror vs Cognito GetUser per request. Run with `make bench`."""
