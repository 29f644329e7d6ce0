"""JSON-lines logs and request ids (`kernel/logs.py`)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.logs import (
    REQUEST_ID,
    TEXT_FORMAT,
    JsonFormatter,
    accept_request_id,
    configure,
    new_request_id,
)

RFC3339_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class Lines(logging.Handler):
    """Formats each record as it is emitted, like a StreamHandler, into a list."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def objects(self) -> list[dict[str, Any]]:
        out = []
        for text in self.lines:
            assert "\n" not in text
            text.encode("ascii")  # escaped: survives any stream encoding
            obj = json.loads(text)
            assert isinstance(obj, dict)
            out.append(obj)
        return out


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, Lines]]:
    logger = logging.getLogger("switchboard.test_logs")
    handler = Lines()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def test_each_record_is_one_json_object_with_time_level_logger_and_formatted_message(
    logged: tuple[logging.Logger, Lines],
) -> None:
    log, out = logged
    log.warning("routing: %s -> %s (%s)", "primary", "self-help", "line one\nline two")
    (obj,) = out.objects()
    assert set(obj) == {"ts", "level", "logger", "msg"}
    assert RFC3339_UTC_MS.fullmatch(obj["ts"])
    assert obj["level"] == "WARNING"
    assert obj["logger"] == "switchboard.test_logs"
    assert obj["msg"] == "routing: primary -> self-help (line one\nline two)"


def test_extra_fields_are_carried_and_cannot_overwrite_ours(
    logged: tuple[logging.Logger, Lines],
) -> None:
    log, out = logged
    extra = {"event": "route_change", "from": "primary", "to": "self-help",
             "reason": "primary down", "backend": "primary", "attempts": 2,
             "level": "fake", "ts": "fake", "logger": "fake"}  # fmt: skip
    with pytest.raises(KeyError):  # the stdlib itself refuses record attributes
        log.warning("x", extra={"message": "fake"})
    log.warning("routing changed", extra=extra)
    (obj,) = out.objects()
    assert obj["event"] == "route_change"
    assert (obj["from"], obj["to"], obj["reason"]) == ("primary", "self-help", "primary down")
    assert (obj["backend"], obj["attempts"]) == ("primary", 2)
    assert (obj["level"], obj["logger"]) == ("WARNING", "switchboard.test_logs")
    assert obj["msg"] == "routing changed"
    assert obj["ts"] != "fake"


def test_an_exception_is_logged_with_its_traceback_in_exc(
    logged: tuple[logging.Logger, Lines],
) -> None:
    log, out = logged
    try:
        int("the bad thing")
    except ValueError:
        log.exception("support handler failed")
    (obj,) = out.objects()
    assert obj["level"] == "ERROR"
    assert obj["msg"] == "support handler failed"
    assert obj["exc"].startswith("Traceback (most recent call last):")
    assert obj["exc"].endswith(
        "ValueError: invalid literal for int() with base 10: 'the bad thing'"
    )


def test_request_id_comes_from_the_context_and_only_while_it_is_set(
    logged: tuple[logging.Logger, Lines],
) -> None:
    log, out = logged
    log.info("before")
    token = REQUEST_ID.set("req-1")
    try:
        log.info("during")

        def other_request() -> None:
            REQUEST_ID.set("req-2")
            log.info("other")

        contextvars.copy_context().run(other_request)
        log.info("during again", extra={"request_id": "explicit"})
    finally:
        REQUEST_ID.reset(token)
    log.info("after")
    ids = [obj.get("request_id") for obj in out.objects()]
    assert ids == [None, "req-1", "req-2", "explicit", None]


def test_unicode_is_escaped_and_round_trips(logged: tuple[logging.Logger, Lines]) -> None:
    log, out = logged
    text = "Zürich ☎ 東京 🌋 \udcff"  # the last: a lone surrogate, as surrogateescape makes
    log.warning("topic %s", text, extra={"topic": text})
    (obj,) = out.objects()
    assert obj["msg"] == f"topic {text}"
    assert obj["topic"] == text


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_values_json_cannot_hold_become_text_and_the_line_is_kept(
    logged: tuple[logging.Logger, Lines],
) -> None:
    log, out = logged
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    log.warning("one", extra={"thing": object(), "raw": b"\x00\xff", "tags": {"a"}})
    log.warning("two", extra={"broken": BrokenRepr(), "nan": float("nan")})
    log.warning("three", extra={"cycle": cycle, "keys": {("a", 1): 2}, "backend": "primary"})
    one, two, three = out.objects()
    assert one["thing"].startswith("<object object at")
    assert (one["raw"], one["tags"]) == ("b'\\x00\\xff'", "{'a'}")
    assert (two["broken"], two["nan"]) == ("<unrepresentable BrokenRepr>", "nan")
    assert three["cycle"] == "{'self': {...}}"
    assert three["keys"] == "{('a', 1): 2}"
    assert (three["backend"], three["msg"], three["level"]) == ("primary", "three", "WARNING")


@given(
    msg=st.text(),
    extra=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).map("x_".__add__),
        st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.lists(st.text())),
        max_size=4,
    ),
)
def test_any_message_and_extras_make_exactly_one_valid_json_line(
    msg: str, extra: dict[str, object]
) -> None:
    record = logging.LogRecord("switchboard", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    line.encode("ascii")
    obj = json.loads(line)  # strict: no NaN or Infinity either
    assert obj["msg"] == msg
    assert set(extra) <= set(obj)


@pytest.mark.parametrize(
    "incoming",
    ["3f2a9c1e-77b1-4c2e-9d4a-0b1f2e3d4c5b", "4bf92f3577b34da6a3ce929d0e0e4736",
     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "edge:1.2_x", "a", "x" * 128],
)  # fmt: skip
def test_a_sane_incoming_request_id_is_kept(incoming: str) -> None:
    assert accept_request_id(incoming) == incoming


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 129, "has space", "new\nline", "<script>", "quote\"d", "tab\t", "Zürich",
     "Root=1-5759e988", "a/b", "a;b", "%41"],
)  # fmt: skip
def test_a_junk_incoming_request_id_is_replaced_by_a_new_one(incoming: str) -> None:
    replaced = accept_request_id(incoming)
    assert replaced != incoming
    assert SANE.fullmatch(replaced)


def test_new_request_ids_are_sane_short_and_distinct() -> None:
    ids = [accept_request_id(None) for _ in range(1000)] + [new_request_id() for _ in range(10)]
    assert len(set(ids)) == len(ids)
    assert all(SANE.fullmatch(i) and len(i) <= 32 for i in ids)


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_configure_puts_one_handler_of_the_chosen_format_on_the_root_logger(
    root_logging: logging.Logger,
) -> None:
    configure("json", logging.DEBUG)
    (handler,) = root_logging.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert root_logging.level == logging.DEBUG
    configure("text", "WARNING")
    (handler,) = root_logging.handlers
    assert handler.formatter is not None
    assert not isinstance(handler.formatter, JsonFormatter)
    assert handler.formatter._fmt == TEXT_FORMAT
    assert root_logging.level == logging.WARNING
