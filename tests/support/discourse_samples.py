"""Recorded Discourse API samples (tests/data/discourse/) and helpers for parsing tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "discourse"
CATEGORIES = {1: "Uncategorized", 5: "Internet & Wi-Fi", 11: "Billing & Account"}


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
