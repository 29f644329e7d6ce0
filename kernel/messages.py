"""Customer-facing messages written in Python (pure, imports nothing of ours): marked
for the catalog here, translated where a page shows them (issue 19).

`N_` marks a constant message (Babel extracts it); `Message` is an English message
with values filled in that remembers its catalog id and values, so that a JSON client
gets the English text (it is a `str`: API answers stay English) while a page shows
`translate(message, gettext)` in the customer's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - gettext's name for it, which Babel extracts
    """Marks a message for the catalog; translated where it is shown."""
    return message


class Message(str):
    """English `msgid % values`, keeping `msgid` and `values` for translation."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Message:
        self = super().__new__(cls, msgid % values if values else msgid)
        self.msgid = msgid
        self.values = values
        return self


def translate(message: str, gettext: Callable[[str], str]) -> str:
    """`message` in the language of `gettext` (a plain str is its own msgid)."""
    if isinstance(message, Message):
        text = gettext(message.msgid)
        return text % message.values if message.values else text
    return gettext(message)
