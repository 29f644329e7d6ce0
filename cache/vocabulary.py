"""The indexed words, for the search's typo tolerance and its hyphenated-word alternatives.

A word is folded as FTS5's ``unicode61 remove_diacritics 2`` tokenizer sees it (lowercase,
no diacritics). ``Vocabulary.correct`` replaces an unknown word by the closest indexed one
that keeps its first or last letter (difflib ratio >= CORRECTION_CUTOFF, ties to the more
frequent word); ``complete`` finishes an as-you-type prefix; ``alternatives`` gives the
joined and split forms of "wi-fi" / "wifi". The rules are in ``cache.search``'s docstring.
"""

from __future__ import annotations

import bisect
import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Final

CORRECTION_CUTOFF: Final = 0.8
MIN_CORRECTABLE: Final = 4
MAX_CORRECTABLE: Final = 30

_JOINER = re.compile(r"['\u2019.\-]")
_PART = re.compile(r"[^\W_]+")
# cache.search's _WORD with a joiner, anchored at a word start and possessive (Python 3.11):
# no backtracking.
_COMPOUND = re.compile(r"(?<![^\W_])[^\W_]++(?:['\u2019.\-][^\W_]++)+")
# The combining diacritical mark blocks: the marks remove_diacritics folds away.
_DIACRITIC = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


class Vocabulary:
    """Words of the indexed text, folded (lowercase, no diacritics), for typo correction."""

    def __init__(self, texts: Iterable[str]):
        self.compounds: dict[str, str] = {}  # "wifi" -> "wi fi"
        words: list[str] = []
        for text in texts:
            folded = fold(text)
            words += _PART.findall(folded)
            for compound in _COMPOUND.findall(folded):
                parts = _JOINER.split(compound)
                words.append("".join(parts))
                self.compounds.setdefault("".join(parts), " ".join(parts))
        self.freq = Counter(words)
        self.sorted = sorted(w for w in self.freq if w.isalpha())
        # Correction candidates by (length, first letter) and (length, last letter).
        self.by_end: dict[tuple[int, str], list[str]] = {}
        for w in self.sorted:
            self.by_end.setdefault((len(w), w[0]), []).append(w)
            self.by_end.setdefault((-len(w), w[-1]), []).append(w)
        self.memo: dict[str, str | None] = {}

    def alternatives(self, word: str) -> list[str]:
        """Phrases any of which stands for `word`: itself, its joined or split form."""
        parts = _JOINER.split(word)
        if len(parts) > 1:
            return [" ".join(parts), "".join(parts)]
        split = self.compounds.get(fold(word))
        return [word] if split is None else [word, split]

    def complete(self, prefix: str) -> str | None:
        """The most frequent word starting with `prefix`, for a prefix longer than its stem:
        the index holds porter stems, so "dropp" * misses "drop" while "dropping" finds it."""
        key = fold(prefix)
        start = bisect.bisect_left(self.sorted, key)
        best: str | None = None
        for w in self.sorted[start : start + 1000]:
            if not w.startswith(key):
                break
            if best is None or self.freq[w] > self.freq[best]:
                best = w
        return best

    def correct(self, word: str) -> str | None:
        key = fold(word)
        if not (MIN_CORRECTABLE <= len(key) <= MAX_CORRECTABLE and key.isalpha()):
            return None
        if key not in self.memo:
            if len(self.memo) >= 4096:  # bounded: queries are user input
                self.memo.clear()
            self.memo[key] = self._closest(key)
        return self.memo[key]

    def _closest(self, key: str) -> str | None:
        # Candidates keep the first or the last letter (typos rarely hit both ends: this
        # makes the scan ~6x cheaper), and are 2/3..3/2 as long: ratio = 2M / (a + b) >= 0.8
        # needs that.
        lengths = range(len(key) * 2 // 3, len(key) * 3 // 2 + 1)
        ends = [(n, key[0]) for n in lengths] + [(-n, key[-1]) for n in lengths]
        pool = list(dict.fromkeys(w for end in ends for w in self.by_end.get(end, ())))
        close = difflib.get_close_matches(key, pool, n=3, cutoff=CORRECTION_CUTOFF)
        if not close:
            return None

        def rank(w: str) -> tuple[float, int]:
            return difflib.SequenceMatcher(None, key, w).ratio(), self.freq[w]

        return max(close, key=rank)


def fold(text: str) -> str:
    """Lowercase without diacritics, as unicode61 remove_diacritics=2 sees words."""
    if text.isascii():
        return text.lower()
    bare = _DIACRITIC.sub("", unicodedata.normalize("NFKD", text.lower()))
    return unicodedata.normalize("NFC", bare)
