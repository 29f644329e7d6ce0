"""What the callback routes take a request with (`Intake`, under `INTAKE` at start-up):
built from the settings by failover/callbacks/wiring.py, used by the routes of
switchboard/callbacks_web.py (the form is a self-help page: the routes sit in the
composition root, above both failover/ and cache/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from failover.callbacks.formsecret import FormSecrets
from failover.callbacks.queue import CallbackQueue
from kernel.clock import Clock
from kernel.limits.limiter import Limiter
from monitoring.callbacks import CallbackMetrics


@dataclass(slots=True, kw_only=True)
class Intake:
    queue: CallbackQueue
    secrets: FormSecrets  # shared by the replicas (formsecret.py)
    form_max_age: float
    region: str
    clock: Clock
    metrics: CallbackMetrics
    limiter: Limiter  # per-client limit on submissions (issue 14)
    client_of: Callable[[web.Request], str]


INTAKE: Final[web.AppKey[Intake]] = web.AppKey("callback_intake", Intake)
