"""Performance and cost measurements (`make bench`). Results go to benchmarks/RESULTS.md."""
