"""Logic shared by the handlers, the CLI and the benchmarks."""
