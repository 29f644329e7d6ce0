"""JSON request bodies: one object, or a refusal with a reason; deep nesting is measured
before parsing (issue 14, point 5: 4,000-deep arrays were a 503 and an outage alert)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.jsonbody import MAX_DEPTH, JsonBodyError, depth_of, loads_object


def nested(depth: int, *, array: bool = True) -> bytes:
    inner = b"[" * depth + b"]" * depth if array else b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"name": ' + inner + b"}"


def true_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((true_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((true_depth(v) for v in value.values()), default=0)
    return 0


def test_the_issue_body_4000_deep_8_kb_is_refused_as_too_deep_not_a_recursion_error() -> None:
    body = nested(4000)
    assert 8000 <= len(body) <= 8200
    with pytest.raises(JsonBodyError, match="nested deeper than 32"):
        loads_object(body)


@pytest.mark.parametrize("array", [True, False])
def test_the_limit_is_exact_one_level_more_is_refused(array: bool) -> None:
    # The object around the value is one level: MAX_DEPTH - 1 inside it is MAX_DEPTH.
    assert loads_object(nested(MAX_DEPTH - 1, array=array))
    with pytest.raises(JsonBodyError, match="nested deeper"):
        loads_object(nested(MAX_DEPTH, array=array))


def test_brackets_and_escaped_quotes_inside_strings_do_not_count() -> None:
    text = '"\\"' + "[{" * 500 + '\\\\"'
    body = json.dumps({"note": text, "name": "[[[" * 100}).encode()
    assert depth_of(body) == 1
    assert loads_object(body)["name"] == "[[[" * 100


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"1", b'"x"', b"null", b"{", b'{"a": }', b"\xff\xfe{}", b"{}}" + b"]" * 50,
     b'{"a": NaN', b"\x00" * 100],
)  # fmt: skip
def test_anything_but_one_object_is_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(JsonBodyError, match="JSON object"):
        loads_object(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=60,
)


@given(json_values)
def test_the_depth_scan_agrees_with_the_parsed_value(value: Any) -> None:
    body = json.dumps(value, ensure_ascii=False).encode()
    assert depth_of(body, stop_above=1000) == true_depth(value)


@given(st.binary(max_size=2000))
def test_no_bytes_raise_anything_but_the_refusal(body: bytes) -> None:
    with contextlib.suppress(JsonBodyError):
        loads_object(body)


@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"a", b":", b","]),
                max_size=3000))  # fmt: skip
def test_bracket_soup_is_refused_or_parsed_never_a_recursion_error(parts: list[bytes]) -> None:
    try:
        value = loads_object(b"".join(parts))
    except JsonBodyError:
        return
    assert true_depth(value) <= MAX_DEPTH
