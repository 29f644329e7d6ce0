"""Pieces of the benchmarks (loadtests/README.md, "The code"); reports: loadtests/tables.py."""
