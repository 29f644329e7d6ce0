"""Callback request validation: per-field messages, E.164, limits, ticket ids."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.callbacks.request import (
    FIELDS,
    LIMITS,
    CallbackRequest,
    Invalid,
    ticket_id,
    validate,
)

BASE = {"name": "Ann Lee", "phone": "+1 202 456 1111", "topic": "billing"}


def ok(fields: dict[str, str], **kw: str) -> CallbackRequest:
    result = validate(fields, **kw)
    assert isinstance(result, CallbackRequest), result
    return result


def bad(fields: dict[str, str], **kw: str) -> dict[str, str]:
    result = validate(fields, **kw)
    assert isinstance(result, Invalid), result
    return result.errors


def test_valid_request_is_stripped_and_normalised() -> None:
    req = ok(
        {
            "name": "  Ann Lee ",
            "phone": " (202) 456-1111 ",
            "email": " ann@example.com ",
            "topic": " billing ",
            "note": "  line one\r\nline two\rthree\tend  ",
            "preferred_time": " after 18:00 ",
            "csrf_token": "ignored",
        }
    )
    assert req == CallbackRequest(
        name="Ann Lee",
        phone="+12024561111",
        email="ann@example.com",
        topic="billing",
        note="line one\nline two\nthree\tend",
        preferred_time="after 18:00",
    )


def test_optional_fields_absent_or_blank() -> None:
    req = ok({**BASE, "email": "   ", "note": "", "preferred_time": " "})
    assert req.email is None
    assert req.note == ""
    assert req.preferred_time is None


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(202) 456-1111", "US", "+12024561111"),
        ("202-456-1111", "US", "+12024561111"),
        ("202.456.1111", "US", "+12024561111"),
        ("1 202 456 1111", "US", "+12024561111"),
        ("+1 (202) 456-1111", "US", "+12024561111"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("030 123456", "DE", "+4930123456"),
        ("+49 30 123456", "gb", "+4930123456"),
    ],
)
def test_phone_normalised_to_e164(raw: str, region: str, e164: str) -> None:
    assert ok({**BASE, "phone": raw}, default_region=region).phone == e164


@pytest.mark.parametrize("raw", ["12", "555-0000", "not a number", "(000) 000-0000"])
def test_invalid_national_phone_names_the_region(raw: str) -> None:
    errors = bad({**BASE, "phone": raw})
    assert set(errors) == {"phone"}
    assert errors["phone"].startswith("not a valid phone number for region US")


def test_invalid_international_phone() -> None:
    assert bad({**BASE, "phone": "+999 123"}) == {"phone": "not a valid international phone number"}


def test_phone_extension_refused() -> None:
    assert "extensions" in bad({**BASE, "phone": "202-456-1111 ext. 12"})["phone"]


def test_unknown_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        validate(BASE, default_region="XX")


@pytest.mark.parametrize(
    "email", ["ann@example.com", "a.b+tag@mail.example.co.uk", "x@y.z", "ann@EXAMPLE.com"]
)
def test_email_accepted(email: str) -> None:
    assert ok({**BASE, "email": email}).email == email


@pytest.mark.parametrize(
    "email",
    ["ann", "ann@", "@example.com", "ann@example", "ann@@example.com", "a@b@example.com",
     "ann lee@example.com", "ann@example..com", "ann@.com", "ann@example.com."],
)  # fmt: skip
def test_email_refused(email: str) -> None:
    assert bad({**BASE, "email": email}) == {"email": "must look like name@example.com"}


def test_required_fields() -> None:
    assert bad({}) == {
        "name": "required",
        "topic": "required",
        "contact": "give a phone number or an email address so we can reach you",
    }
    assert bad({"name": " ", "topic": "\t", "phone": "", "email": " "}).keys() == {
        "name",
        "topic",
        "contact",
    }


def test_email_alone_is_enough_contact() -> None:
    req = ok({"name": "Ann", "email": "ann@example.com", "topic": "t"})
    assert req.phone is None


def test_bad_contact_is_reported_on_its_field_not_on_contact() -> None:
    assert bad({**BASE, "phone": "12"}).keys() == {"phone"}


def test_every_error_at_once_and_messages_in_form_order() -> None:
    result = validate({"email": "nope", "note": "x" * 1001})
    assert isinstance(result, Invalid)
    assert result.messages() == [
        "name: required",
        "email: must look like name@example.com",
        "topic: required",
        "note: at most 1000 characters",
    ]


@pytest.mark.parametrize(
    ("field", "filler"),
    [("name", "n"), ("topic", "t"), ("note", "x"), ("preferred_time", "p")],
)
def test_length_limit_at_the_boundary(field: str, filler: str) -> None:
    limit = LIMITS[field]
    at = ok({**BASE, field: filler * limit})
    assert getattr(at, field) == filler * limit
    # surrounding whitespace does not count
    ok({**BASE, field: "  " + filler * limit + "  "})
    assert bad({**BASE, field: filler * (limit + 1)}) == {field: f"at most {limit} characters"}


def test_email_length_limit_at_the_boundary() -> None:
    domain = "@example.com"
    at = "a" * (254 - len(domain)) + domain
    assert ok({**BASE, "email": at}).email == at
    assert bad({**BASE, "email": "a" + at}) == {"email": "at most 254 characters"}


def test_limits_cover_every_field() -> None:
    assert set(LIMITS) == set(FIELDS)
    assert (LIMITS["name"], LIMITS["email"], LIMITS["topic"]) == (100, 254, 200)
    assert (LIMITS["note"], LIMITS["preferred_time"]) == (1000, 100)


@pytest.mark.parametrize("field", ["name", "topic", "preferred_time", "email", "phone"])
@pytest.mark.parametrize(
    "char", ["\x00", "\x07", "\x1b", "\x7f", "\n", "\t", "\u202e", "\u2028", "\u2029"]
)
def test_control_characters_refused(field: str, char: str) -> None:
    value = {"email": "a@example.com", "phone": "202 456 1111"}.get(field, "ab")
    value = value[:1] + char + value[1:]
    assert bad({**BASE, field: value}) == {field: "must not contain control characters"}


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\u2066"])
def test_note_refuses_control_characters_but_keeps_lines(char: str) -> None:
    assert bad({**BASE, "note": f"a{char}b"}) == {"note": "must not contain control characters"}
    assert ok({**BASE, "note": "a\nb\tc"}).note == "a\nb\tc"
    assert ok({**BASE, "note": "a\u2028b\u2029c"}).note == "a\u2028b\u2029c"  # Zl, Zp


def test_non_text_values_refused() -> None:
    assert bad({**BASE, "name": 42}) == {"name": "must be text"}  # type: ignore[dict-item]


def test_json_round_trip() -> None:
    req = ok({**BASE, "email": "ann@example.com", "note": "ünïcode\nnote"})
    assert CallbackRequest.from_json(req.to_json()) == req
    assert CallbackRequest.from_json(req.to_json().encode()) == req
    bare = ok(BASE)
    assert '"email":null' in bare.to_json()
    assert CallbackRequest.from_json(bare.to_json()) == bare


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{",
        '{"name": "a"}',
        '{"name":1,"phone":null,"email":null,"topic":"t","note":"","preferred_time":null}',
        '{"name":"a","phone":5,"email":null,"topic":"t","note":"","preferred_time":null}',
    ],
)
def test_from_json_refuses_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="callback request"):
        CallbackRequest.from_json(text)


def test_request_is_frozen() -> None:
    req = ok(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.name = "Bob"  # type: ignore[misc]


def test_ticket_id_stable_url_safe_and_distinct() -> None:
    first = ticket_id("key-1")
    assert first == ticket_id("key-1")
    assert first != ticket_id("key-2")
    assert first.startswith("cb_")
    assert len(first) == 3 + 16
    assert first[3:].isalnum()
    assert first == first.lower()
    with pytest.raises(ValueError, match="empty"):
        ticket_id("")


@given(st.lists(st.text(min_size=1), min_size=2, max_size=20, unique=True))
def test_ticket_ids_distinct_for_distinct_keys(keys: list[str]) -> None:
    assert len({ticket_id(k) for k in keys}) == len(keys)


_values = st.one_of(
    st.text(),
    st.text(alphabet="0123456789 +-().", max_size=25),
    st.emails(),
    st.sampled_from(["+1 202 456 1111", "020 7946 0958", "ann@example.com", " x "]),
)


@given(st.dictionaries(st.sampled_from([*FIELDS, "other"]), _values))
def test_never_raises_and_valid_results_are_fixed_points(fields: dict[str, str]) -> None:
    result = validate(fields)
    assert isinstance(result, CallbackRequest | Invalid)
    if isinstance(result, CallbackRequest):
        assert validate(result.to_fields()) == result
        assert CallbackRequest.from_json(result.to_json()) == result
    else:
        assert result.errors
        assert all(message for message in result.errors.values())


@given(st.dictionaries(st.text(), st.text()))
def test_arbitrary_mappings_never_raise(fields: dict[str, str]) -> None:
    assert isinstance(validate(fields, default_region="GB"), CallbackRequest | Invalid)


_phones = st.one_of(
    st.sampled_from(["", "+1 202 456 1111", "(202) 456-1111", "+44 20 7946 0958", "12"]),
    st.text(alphabet="0123456789 +-().", max_size=20),
)


@given(
    st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=110),
            "topic": st.text(min_size=1, max_size=210),
            "phone": _phones,
            "email": st.one_of(st.just(""), st.emails(), st.text(max_size=30)),
            "note": st.text(max_size=1010),
            "preferred_time": st.text(max_size=110),
        }
    )
)
def test_near_valid_submissions_are_fixed_points(fields: dict[str, str]) -> None:
    result = validate(fields)
    if isinstance(result, CallbackRequest):
        assert validate(result.to_fields()) == result
        assert CallbackRequest.from_json(result.to_json()) == result
        assert result.phone is None or result.phone.startswith("+")
        assert result.phone is not None or result.email is not None
    else:
        assert set(result.errors) <= {*FIELDS, "contact"}
