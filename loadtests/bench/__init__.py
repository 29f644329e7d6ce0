"""Pieces of the benchmarks (loadtests/README.md, "The code"); reports: loadtests/reports/."""
