"""The one process harness: what the demo, the spike test, the soak, the benchmarks and the
test fixtures start their children with. Never imported by the product (sims/ is the
outside world and the means to set it up).

- `ports`: free loopback ports (never 6379, the machine's own Redis), bounded readiness
  waits over TCP, HTTP and log text;
- `procs`: children with the parent-death signal (PR_SET_PDEATHSIG), optional `taskset`
  core pinning, log files, a clean environment, bounded stops;
- `redis`: redis-server on a free port, sync (stacks) and async (tests, with kill,
  restart, pause for fault tests);
- `frontdoor`: a front door's TOML from parts, and the front door as a process.
"""
