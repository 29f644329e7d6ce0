"""Pieces of `python -m loadtests.bench_proxy`: the stage (nginx upstream and the
contenders), the wall-clock run (wrk), the instruction-count run (callgrind), the report."""
