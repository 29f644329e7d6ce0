"""Discourse emoji as text: the character for the common ones, ``:name:`` for the rest.

Discourse cooks ``:smile:`` into an image (discourse/discourse spec/lib/pretty_text_spec.rb,
"can handle emoji by translation")::

    <img src="/images/emoji/twitter/wink.png?v=12" title=":wink:" class="emoji only-emoji"
         alt=":wink:" loading="lazy" width="20" height="20">

(hosted sites serve them from emoji.discourse-cdn.com; custom emoji add ``emoji-custom``). A
bulletin page loads no remote image, so each becomes text. Names are Discourse's (from its
emoji set, the same short names as GitHub's gemoji); skin tones are a ``:t1:``..``:t6:``
suffix (``:man:t2:``). A short table covers what support posts use; anything else stays
``:name:``, which is also what Discourse's own search indexer keeps of an emoji
(spec/services/search_indexer_spec.rb, "extracts emoji name from emoji image"). The `emoji`
package on PyPI would know every name, but it is a megabyte of data for a few dozen names
customers actually type, and a missing one still reads fine as ``:name:``.
"""

from __future__ import annotations

import re
from typing import Final

# fmt: off
EMOJI: Final = {
    "smile": "\U0001f604", "smiley": "\U0001f603", "grinning": "\U0001f600",
    "grin": "\U0001f601", "laughing": "\U0001f606", "joy": "\U0001f602",
    "sweat_smile": "\U0001f605", "slightly_smiling_face": "\U0001f642", "wink": "\U0001f609",
    "blush": "\U0001f60a", "innocent": "\U0001f607", "heart_eyes": "\U0001f60d",
    "thinking": "\U0001f914", "neutral_face": "\U0001f610", "expressionless": "\U0001f611",
    "unamused": "\U0001f612", "roll_eyes": "\U0001f644", "confused": "\U0001f615",
    "worried": "\U0001f61f", "slightly_frowning_face": "\U0001f641", "frowning": "\U0001f626",
    "cry": "\U0001f622", "sob": "\U0001f62d", "angry": "\U0001f620", "rage": "\U0001f621",
    "scream": "\U0001f631", "tired_face": "\U0001f62b", "sleeping": "\U0001f634",
    "sunglasses": "\U0001f60e", "open_mouth": "\U0001f62e", "astonished": "\U0001f632",
    "stuck_out_tongue": "\U0001f61b", "upside_down_face": "\U0001f643", "+1": "\U0001f44d",
    "thumbsup": "\U0001f44d", "-1": "\U0001f44e", "thumbsdown": "\U0001f44e",
    "clap": "\U0001f44f", "pray": "\U0001f64f", "wave": "\U0001f44b", "ok_hand": "\U0001f44c",
    "raised_hands": "\U0001f64c", "muscle": "\U0001f4aa", "point_right": "\U0001f449",
    "point_up": "\u261d\ufe0f", "man": "\U0001f468", "woman": "\U0001f469",
    "heart": "\u2764\ufe0f", "broken_heart": "\U0001f494", "star": "\u2b50", "fire": "\U0001f525",
    "tada": "\U0001f389", "sparkles": "\u2728", "rocket": "\U0001f680", "bulb": "\U0001f4a1",
    "warning": "\u26a0\ufe0f", "no_entry": "\u26d4", "x": "\u274c", "white_check_mark": "\u2705",
    "heavy_check_mark": "\u2714\ufe0f", "question": "\u2753",
    "exclamation": "\u2757", "zap": "\u26a1", "hourglass": "\u231b", "phone": "\u260e\ufe0f",
    "telephone_receiver": "\U0001f4de", "iphone": "\U0001f4f1", "computer": "\U0001f4bb",
    "tv": "\U0001f4fa", "signal_strength": "\U0001f4f6", "wrench": "\U0001f527",
    "hammer_and_wrench": "\U0001f6e0\ufe0f", "gear": "\u2699\ufe0f", "lock": "\U0001f512",
    "key": "\U0001f511", "email": "\U0001f4e7", "envelope": "\u2709\ufe0f", "link": "\U0001f517",
    "calendar": "\U0001f4c6", "alarm_clock": "\u23f0", "money_with_wings": "\U0001f4b8",
    "snowflake": "\u2744\ufe0f", "christmas_tree": "\U0001f384", "eyes": "\U0001f440",
    "100": "\U0001f4af", "arrow_right": "\u27a1\ufe0f", "arrow_left": "\u2b05\ufe0f",
}
# fmt: on
_NAME: Final = re.compile(r":([a-z0-9_+\-]{1,64})(?::t([1-6]))?:")
# Fitzpatrick modifiers for :t2: .. :t6: (:t1: is the default yellow).
_TONES: Final = {"2": "\U0001f3fb", "3": "\U0001f3fc", "4": "\U0001f3fd", "5": "\U0001f3fe",
                 "6": "\U0001f3ff"}  # fmt: skip


def as_text(alt: str | None, title: str | None = None) -> str:
    """The text for an emoji image: its character, else its ``:name:``, else its alt text
    (at most 64 characters), else ""."""
    for label in (alt, title):
        found = _NAME.fullmatch(label.strip()) if label else None
        if found is None:
            continue
        name, tone = found.groups()
        char = EMOJI.get(name)
        if char is None:
            return found.group(0)
        return char.removesuffix("\ufe0f") + _TONES[tone] if tone in _TONES else char
    return " ".join((alt or "").split())[:64]
