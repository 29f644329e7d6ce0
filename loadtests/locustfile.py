"""The spike test's locustfile: customers, shape, recording listeners and the SLO gate
(loadtests/spike/). It needs the stack and a run config: start it through
`python -m loadtests.spike` (make loadtest), which runs
`locust -f loadtests/locustfile.py --headless --spike-run OUT/run.json ...`."""

from __future__ import annotations

from loadtests.spike import gate
from loadtests.spike.customers import Customer, SpikeShape

__all__ = ["Customer", "SpikeShape", "gate"]
