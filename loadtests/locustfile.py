"""The spike test's locustfile: the customer mix (`spike/customers.py`), the spike
shape (`spike/shape.py`), the listeners that record the run (`spike/listeners.py`) and
the SLO gate at the end (`spike/gate.py`).

It needs the stack and a run config, so start it through the orchestrator:

    python -m loadtests.spike --profile full    # or: make loadtest / make loadtest-ci

which starts redis-server, the simulators and the front door, then runs
`locust -f loadtests/locustfile.py --headless --spike-run OUT/run.json ...` pinned to its
own core. loadtests/README.md has the details.
"""

from __future__ import annotations

from loadtests.spike import gate, listeners
from loadtests.spike.customers import Customer
from loadtests.spike.shape import SpikeShape

__all__ = ["Customer", "SpikeShape", "gate", "listeners"]
