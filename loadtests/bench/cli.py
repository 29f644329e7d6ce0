"""Command-line options and the report file, shared by the benchmark scripts."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(description: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes: wall-clock rounds, the callgrind mode, --out.
    A script adds its own before parsing; `--out` defaults are set by the caller."""
    p = argparse.ArgumentParser(description=(description or "").splitlines()[0])
    p.add_argument("--seconds", type=int, default=8, help="length of one wrk run")
    p.add_argument("--rounds", type=int, default=3, help="wrk runs per contender")
    p.add_argument(
        "--instructions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also count instructions per request under callgrind (default: on)",
    )
    p.add_argument("--requests", type=int, default=1000, help="GETs counted by callgrind")
    return p


def write_report(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
