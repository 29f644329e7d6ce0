"""The `[languages]` section (issue 19): the time zone of the customer pages' times."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.settings import CENTER, assert_problem, load, problems


def test_times_are_in_utc_unless_a_zone_is_given(tmp_path: Path) -> None:
    assert load(tmp_path, CENTER).languages.zone() == ZoneInfo("UTC")
    zoned = load(tmp_path, CENTER + '[languages]\ntimezone = "Europe/Berlin"\n')
    assert zoned.languages.zone() == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "CET "])
def test_an_unknown_zone_is_named_with_the_file_and_key(tmp_path: Path, zone: str) -> None:
    message = problems(tmp_path, CENTER + f'[languages]\ntimezone = "{zone}"\n')
    assert_problem(message, tmp_path, "languages.timezone", "unknown time zone")


def test_the_zone_can_come_from_the_environment(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_LANGUAGES__TIMEZONE": "America/New_York"}
    assert load(tmp_path, CENTER, env=env).languages.timezone == "America/New_York"
