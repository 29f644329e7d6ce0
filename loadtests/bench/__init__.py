"""Pieces of the benchmarks: `stage` (contenders through the process harness, the nginx
upstream, the command line), `measure` (wrk, callgrind), `load` (locust), the baselines
(`bare`, `nginx`), and each bench's own stage (`selfhelp`, `callbacks`, `failover`). Their
reports: loadtests/tables.py."""
