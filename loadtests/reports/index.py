"""The search-index bench's report (loadtests/results/index.md)."""

from __future__ import annotations

from loadtests.tables import render, table


def index(rows: list[tuple[int, tuple[float, float], tuple[float, float]]]) -> str:
    """bench_index: (bulletins, (build s, longest wait s) on the loop, the same in a thread)."""
    head = ["bulletins", "build, on the loop", "longest wait, on the loop", "build, in a thread",
            "longest wait, in a thread"]  # fmt: skip
    cells = [(f"{n:,}", f"{on[0] * 1000:.0f} ms", f"{on[1] * 1000:.0f} ms",
              f"{off[0] * 1000:.0f} ms", f"{off[1] * 1000:.1f} ms")
             for n, on, off in rows]  # fmt: skip
    return render("index.md", rows=table(head, cells, align="r"))
