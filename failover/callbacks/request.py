"""The callback request a customer submits, and its validation (pure: no I/O, no clock).

`validate` turns the submitted fields (an HTML form or a JSON object, both as a mapping
of field name to value) into a `CallbackRequest`, or an `Invalid` whose `errors` map
each offending field to a message a customer can act on (English, as JSON clients get
it; marked for the catalog, so the form shows it in the customer's language). It never
raises on customer input, whatever it is; a valid result validates again to itself
(`to_fields`).

Rules:

- Every value is stripped of surrounding whitespace; a blank value counts as absent.
- `name` and `topic` are required; at least one of `phone` and `email` is (reported
  on the pseudo-field `contact`); `note` and `preferred_time` are optional.
- Every field has a length limit (`LIMITS`, in characters, after stripping).
- Control characters (and bidi overrides, lone surrogates) are refused; only `note`
  may hold line breaks and tabs (it comes from a textarea), with CRLF/CR folded to LF.
  The Unicode line and paragraph separators (U+2028, U+2029: categories Zl, Zp) are
  line breaks too: refused outside `note` like LF.
- `phone` is parsed with `phonenumbers` (national numbers in `default_region`,
  or international with a leading `+`) and stored in E.164 (`+14155552671`).
- `email` gets a pragmatic check: one `@`, a non-empty local part, a dotted domain,
  no whitespace. Deliverability is not our question.

`ticket_id` derives the ticket a customer is shown from the submission's idempotency
key, so a retried submission (same key) gets the same ticket.
"""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import phonenumbers

from kernel.messages import N_, Message

__all__ = [
    "FIELDS",
    "LIMITS",
    "CallbackRequest",
    "Invalid",
    "ticket_id",
    "validate",
]

FIELDS: Final = ("name", "phone", "email", "topic", "note", "preferred_time")

LIMITS: Final[Mapping[str, int]] = {
    "name": 100,
    "phone": 40,  # raw input, before normalisation; E.164 itself is at most 16
    "email": 254,  # RFC 5321 path limit
    "topic": 200,
    "note": 1000,
    "preferred_time": 100,
}

_REQUIRED: Final = frozenset({"name", "topic"})
_MULTILINE: Final = frozenset({"note"})
_LINE_CHARS: Final = frozenset("\n\t\u2028\u2029")  # LF, tab, line and paragraph separators
# Bidi embedding/override/isolate controls (category Cf) that can disguise text.
_BIDI: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackRequest:
    """A validated request to be called back. Build it with `validate`."""

    name: str
    phone: str | None  # E.164, e.g. "+14155552671"
    email: str | None
    topic: str
    note: str = ""
    preferred_time: str | None = None  # free text, e.g. "after 18:00"

    def to_fields(self) -> dict[str, str]:
        """The request as submitted fields (absent as ""); `validate` maps it back to self."""
        return {
            "name": self.name,
            "phone": self.phone or "",
            "email": self.email or "",
            "topic": self.topic,
            "note": self.note,
            "preferred_time": self.preferred_time or "",
        }

    def to_json(self, **extra: str) -> str:
        """Compact JSON with every field (absent as null) and `extra`, keys sorted."""
        return json.dumps(
            {
                **extra,
                "name": self.name,
                "phone": self.phone,
                "email": self.email,
                "topic": self.topic,
                "note": self.note,
                "preferred_time": self.preferred_time,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> CallbackRequest:
        """Read `to_json` output back. Raises ValueError if it is not one."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"callback request: not JSON: {exc}") from exc
        if not isinstance(data, dict) or set(data) != set(FIELDS):
            raise ValueError(f"callback request: expected an object with keys {FIELDS}")
        wrong = [
            key
            for key in FIELDS
            if not isinstance(data[key], str)
            and not (data[key] is None and key in ("phone", "email", "preferred_time"))
        ]
        if wrong:
            raise ValueError(f"callback request: wrong type for {', '.join(wrong)}")
        return cls(
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            topic=data["topic"],
            note=data["note"],
            preferred_time=data["preferred_time"],
        )


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a submission was refused: field -> message (`contact` for phone-or-email)."""

    errors: dict[str, str]

    def messages(self) -> list[str]:
        """One "field: message" line per error, in form order."""
        order = {name: i for i, name in enumerate((*FIELDS, "contact"))}
        return [
            f"{field}: {message}"
            for field, message in sorted(
                self.errors.items(), key=lambda item: order.get(item[0], len(order))
            )
        ]


def validate(
    fields: Mapping[str, object], *, default_region: str = "US"
) -> CallbackRequest | Invalid:
    """Check and normalise submitted fields; unknown fields (e.g. a CSRF token) are ignored.

    `default_region` (ISO 3166-1 alpha-2) is how phone numbers without a leading `+`
    are read. Raises ValueError only for an unknown `default_region` (a configuration
    error, never the customer's).
    """
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {default_region!r}")
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for field in FIELDS:
        value, error = _text(field, fields.get(field))
        if error is not None:
            errors[field] = error
        elif value:
            clean[field] = value
        elif field in _REQUIRED:
            errors[field] = N_("required")

    phone = None
    if "phone" in clean:
        phone, error = _phone(clean["phone"], region)
        if error is not None:
            errors["phone"] = error
    email = None
    if "email" in clean:
        email = clean["email"]
        if not _looks_like_email(email):
            errors["email"] = N_("must look like name@example.com")
    if "phone" not in clean and "email" not in clean and not {"phone", "email"} & set(errors):
        errors["contact"] = N_("give a phone number or an email address so we can reach you")

    if errors:
        return Invalid(errors)
    return CallbackRequest(
        name=clean["name"],
        phone=phone,
        email=email,
        topic=clean["topic"],
        note=clean.get("note", ""),
        preferred_time=clean.get("preferred_time"),
    )


def ticket_id(idempotency_key: str) -> str:
    """The ticket for a submission: "cb_" + 16 lowercase base32 characters (80 bits).

    Deterministic (same key, same ticket: a retry gets the ticket it was first given),
    URL-safe, and reveals nothing of the key. Raises ValueError for an empty key.
    """
    if not idempotency_key:
        raise ValueError("idempotency key must not be empty")
    digest = hashlib.blake2b(
        idempotency_key.encode("utf-8", "surrogatepass"), digest_size=10, person=b"sb-callback"
    ).digest()
    return "cb_" + base64.b32encode(digest).decode("ascii").lower()


def _text(field: str, raw: object) -> tuple[str, str | None]:
    """The stripped value of one field, or an error message."""
    if raw is None:
        return "", None
    if not isinstance(raw, str):
        return "", N_("must be text")
    value = raw.strip()
    if field in _MULTILINE:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    limit = LIMITS[field]
    if len(value) > limit:
        return "", Message(N_("at most %(limit)d characters"), limit=limit)
    allowed = _LINE_CHARS if field in _MULTILINE else frozenset()
    if any(_is_forbidden(ch) and ch not in allowed for ch in value):
        return "", N_("must not contain control characters")
    return value, None


def _is_forbidden(ch: str) -> bool:
    return ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")


def _phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """`raw` in E.164, or an error message."""
    message = (
        N_("not a valid international phone number")
        if raw.startswith("+")
        else Message(
            N_(
                "not a valid phone number for region %(region)s"
                " (start with + and the country code for other countries)"
            ),
            region=region,
        )
    )
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, message
    if not phonenumbers.is_valid_number(number):
        return None, message
    if number.extension:
        return None, N_("extensions are not supported; give a number that reaches you directly")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _looks_like_email(value: str) -> bool:
    if value.count("@") != 1 or any(ch.isspace() for ch in value):
        return False
    local, domain = value.split("@")
    labels = domain.split(".")
    return bool(local) and len(labels) >= 2 and all(labels)
