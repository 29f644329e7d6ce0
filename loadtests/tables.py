"""What every report shares (the reports themselves: loadtests/reports/): one table shape,
one median, one machine line, and `render`, which fills in a report's Jinja template in
reports/ with tables of its figures (how each bench measures: docs/benchmarks.md,
"Method")."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

from loadtests.bench.stage import renderer


def row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(head: Sequence[str], rows: Iterable[Iterable[object]], *, align: str = "lr") -> list[str]:
    """A markdown table: `head`, its rule, a line per row. `align` has "l" (left) or "r"
    (right) per column, its last letter repeated for the rest: "lr" is a name, then
    numbers."""
    spec = (align + align[-1] * len(head))[: len(head)]
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in spec) + "|"
    return [row(head), rule, *(row(r) for r in rows)]


def median(values: Iterable[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    """'2 cores (model), 4 GiB': what the figures were measured on."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB"


def filesystem(path: Path) -> str:
    """'ext4 (/dev/vda)': the type and device of the mount holding `path`."""
    best: tuple[str, str, str] = ("", "?", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        inside = str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount
        if inside and len(mount) > len(best[0]):
            best = (mount, kind, device)
    return f"{best[1]} ({best[2]})"


render = renderer(Path(__file__).with_name("reports"))  # each report's text
