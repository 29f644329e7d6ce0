"""Pieces of the benchmarks `python -m loadtests.bench_proxy` and `bench_selfhelp`: the
stage (pinned processes, nginx upstream, contenders), the wall-clock run (wrk), the
instruction-count run (callgrind), the reports; and the self-help ones (selfhelp_*.py,
loadgen.py: a small aiohttp load client)."""
