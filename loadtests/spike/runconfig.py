"""What the orchestrator (`python -m loadtests.spike`) tells the locust process: one
JSON file in the output folder, named by `--spike-run`. Pure values and (de)serialising.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.spike.profile import Profile
from loadtests.spike.slo import Latency, Slo


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    profile: Profile
    host: str  # the front door's base URL
    ops: str  # its ops listener's base URL (/metrics)
    controls: dict[str, str]  # call center -> simulator control URL
    door_pid: int | None  # for its CPU in the timeline
    out: Path
    slo: Slo
    drain_s: float  # how long the gate waits for callbacks to be delivered

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "profile": dataclasses.asdict(self.profile),
            "host": self.host,
            "ops": self.ops,
            "controls": self.controls,
            "door_pid": self.door_pid,
            "out": str(self.out),
            "slo": dataclasses.asdict(self.slo),
            "drain_s": self.drain_s,
        }
        return json.dumps(doc, indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        doc = json.loads(text)
        slo = dict(doc["slo"])
        slo["latency"] = {k: Latency(**v) for k, v in slo["latency"].items()}
        return cls(
            profile=Profile(**doc["profile"]),
            host=doc["host"],
            ops=doc["ops"],
            controls=dict(doc["controls"]),
            door_pid=doc["door_pid"],
            out=Path(doc["out"]),
            slo=Slo(**slo),
            drain_s=float(doc["drain_s"]),
        )

    def write(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n")

    @classmethod
    def read(cls, path: Path) -> RunConfig:
        return cls.from_json(path.read_text())
