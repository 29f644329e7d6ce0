"""Rankings of bulletins and authors (pure: no I/O, no clock).

All-time: by hits, ties by id ascending so a page never reshuffles between requests.

Trending uses forward decay (G. Cormode, V. Shkapenyuk, D. Srivastava, B. Xu, "Forward
Decay: A Practical Time Decay Model for Streaming Systems", ICDE 2009). Rather than
aging every count as time passes (backward decay), each hit at time t adds the weight
g(t - L) = exp(ln 2 * (t - L) / half_life) = 2 ** ((t - L) / half_life), measured
forward from a fixed landmark L; the paper's decayed weight of a hit is
g(t_i - L) / g(now - L), and with an exponential g it is exactly backward exponential
decay. The decayed count at `now` is score / g(now - L), the sum of
2 ** (-(now - t_i) / half_life). The divisor is the same for every bulletin, so raw
scores already rank as decayed counts do, and a Redis sorted set can keep them with a
plain ZINCRBY. Weights grow without bound; before they overflow a float the driver picks
a later landmark and multiplies every score by `rescale_factor` (the paper's remedy for
exponential g: move the landmark, rescale the stored sums), which keeps both the order
and the decayed counts.

During a failover, customers arrive through /support/<topic>; `TopicBoost` counts their
topic words (bounded, with the Space-Saving algorithm: A. Metwally, D. Agrawal,
A. El Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data Streams",
ICDT 2005) and lifts bulletins that match, log-damped so one topic cannot crowd out the
rest, fading by half every `fade_half_life` once the call centers are back.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

# --- words, shared with search ---------------------------------------------------------

_STOPWORD_TEXT: Final = """
a an and are as at be but by can do for from has have how i in is it its my no not
of on or our so that the this to was we what when where which who why will with you
your
"""
STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())
_WORD: Final = re.compile(r"\w+")  # str patterns match Unicode word characters
MAX_WORD_CHARS: Final = 40  # a longer "word" is noise or an attack, not a topic


def words_of(text: str) -> set[str]:
    """Lower-cased Unicode words of `text`, without stopwords; too-long words dropped."""
    return {
        word
        for word in _WORD.findall(text.lower())
        if word not in STOPWORDS and len(word) <= MAX_WORD_CHARS
    }


# --- all-time and trending ---------------------------------------------------------------


def top_all_time(hits: Mapping[int, int], n: int) -> list[int]:
    """The `n` most-hit bulletin ids, most hits first, ties by id ascending."""
    if n <= 0:
        return []
    return [bid for bid, _ in heapq.nsmallest(n, hits.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendingPolicy:
    half_life_seconds: float = 3600.0
    # Hits older than this no longer count: `prune_threshold` gives the raw score below
    # which a bulletin is dropped from the trending set (one hit a window ago).
    window_seconds: float = 86_400.0

    def __post_init__(self) -> None:
        if not 0 < self.half_life_seconds < math.inf:
            raise ValueError("half_life_seconds must be positive and finite")
        if not 0 < self.window_seconds < math.inf:
            raise ValueError("window_seconds must be positive and finite")


# 2 ** 664 ~ 1e200: far from float overflow (~1.8e308), and past it the next ZINCRBY of
# a fresh hit (a larger weight still) could overflow Redis's double.
RESCALE_ABOVE: Final = 1e200


def _scale2(value: float, exponent: float) -> float:
    """value * 2 ** exponent, exact for whole exponents and without an intermediate
    underflow: the whole part goes through ldexp. Raises OverflowError when too large."""
    whole = math.floor(exponent)
    return math.ldexp(value * float(2.0 ** (exponent - whole)), whole)


def weight(t: float, landmark: float, half_life: float) -> float:
    """What one hit at `t` adds to a forward-decay score: 2 ** ((t - landmark) / half_life).
    Raises OverflowError past ~1024 half-lives from the landmark; rescale well before."""
    return _scale2(1.0, (t - landmark) / half_life)


def decayed(score: float, now: float, landmark: float, half_life: float) -> float:
    """The exponentially decayed count at `now` of a forward-decay `score`:
    score / g(now - landmark)."""
    return _scale2(score, -(now - landmark) / half_life)


def needs_rescale(max_score: float, *, limit: float = RESCALE_ABOVE) -> bool:
    """Whether scores are near float limits and the landmark must move forward."""
    return not abs(max_score) <= limit  # also NaN and infinity


def rescale_factor(old_landmark: float, new_landmark: float, half_life: float) -> float:
    """Multiply every score by this when moving the landmark (Redis: ZUNIONSTORE with
    WEIGHTS). g(t - new) = g(t - old) * 2 ** ((old - new) / half_life)."""
    return _scale2(1.0, (old_landmark - new_landmark) / half_life)


def prune_threshold(now: float, landmark: float, policy: TrendingPolicy) -> float:
    """Raw scores below this are worth less than one hit `window_seconds` ago: drop them
    (Redis: ZREMRANGEBYSCORE -inf (threshold)."""
    return weight(now - policy.window_seconds, landmark, policy.half_life_seconds)


VIEW_SLACK: Final = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendingGate:
    """What a bulletin needs before "Trending now" may rank it (issue 19: a handful of
    views in a short session put a near-empty bulletin, "ok click", on top).

    `min_views`: its decayed count of views, each one a distinct customer's (a view
    counts once per client per `[limits] view_window_s`, cache/views.py), so a few
    customers, or one refreshing, cannot make it trend. `min_chars`: the text of its
    body, so that a one-line post is never what the landing page shows first."""

    min_views: float = 5.0
    min_chars: int = 100

    def admits(self, views: float, chars: Callable[[], int]) -> bool:
        """`chars` is asked only when the views suffice (it parses the body). `views` is a
        decayed count: VIEW_SLACK of a view spare, so that a view a few minutes old
        still counts as one (at a one-hour half-life, 0.05 is about 4 minutes)."""
        return views + VIEW_SLACK >= self.min_views and chars() >= self.min_chars


def trending(scores: Mapping[int, float], boost_factors: Mapping[int, float], n: int) -> list[int]:
    """The `n` bulletins with the highest score times boost (1.0 if absent), ties by id.

    Scores may be raw forward-decay scores: they share the landmark, so they rank as
    decayed counts do."""
    if n <= 0:
        return []
    return [
        bid
        for bid, _ in heapq.nsmallest(
            n,
            scores.items(),
            key=lambda kv: (-(kv[1] * boost_factors.get(kv[0], 1.0)), kv[0]),
        )
    ]


# --- failover topic boost ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WordCount:
    """A Space-Saving counter: the true count lies in [count - error, count]."""

    word: str
    count: int
    error: int = 0
    last_seen: float = 0.0

    @property
    def guaranteed(self) -> int:
        return self.count - self.error


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicBoost:
    """Topic words of customers sent to self-help during one failover; a new failover
    starts from an empty one."""

    entries: tuple[WordCount, ...] = ()
    arrivals: int = 0
    max_words: int = 64
    strength: float = 0.25  # boost per e-fold of matching arrivals
    max_factor: float = 4.0

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError("max_words must be >= 1")
        if not 0 <= self.strength < math.inf or not 1.0 <= self.max_factor < math.inf:
            raise ValueError("need strength >= 0 and 1 <= max_factor, both finite")

    def count(self, word: str) -> int:
        """The guaranteed (never over-estimated) arrivals that carried `word`."""
        return sum(e.guaranteed for e in self.entries if e.word == word)

    def record(self, words: Sequence[str], now: float) -> TopicBoost:
        """One customer arrived with these topic words; each distinct word counts once."""
        table = {e.word: e for e in self.entries}
        for word in sorted(words_of(" ".join(words))):
            seen = table.get(word)
            if seen is not None:
                table[word] = replace(seen, count=seen.count + 1, last_seen=now)
            elif len(table) < self.max_words:
                table[word] = WordCount(word=word, count=1, last_seen=now)
            else:
                # Space-Saving: the new word takes the least-counted slot (least recently
                # seen among equals) and inherits its count as possible over-estimate.
                low = min(table.values(), key=lambda e: (e.count, e.last_seen, e.word))
                del table[low.word]
                table[word] = WordCount(
                    word=word, count=low.count + 1, error=low.count, last_seen=now
                )
        ordered = tuple(sorted(table.values(), key=lambda e: (-e.count, e.word)))
        return replace(self, entries=ordered, arrivals=self.arrivals + 1)

    def factor(
        self,
        bulletin_words: set[str],
        now: float,
        *,
        recovered_at: float | None,
        fade_half_life: float,
    ) -> float:
        """Multiplier for a bulletin's trending score: 1.0 when nothing matches; else
        1 + strength * ln(1 + matching arrivals), at most `max_factor`. After recovery
        the part above 1 halves every `fade_half_life` seconds."""
        if not fade_half_life > 0:
            raise ValueError("fade_half_life must be positive")
        matching = sum(e.guaranteed for e in self.entries if e.word in bulletin_words)
        if matching <= 0:
            return 1.0
        excess = min(self.strength * math.log1p(matching), self.max_factor - 1.0)
        if recovered_at is not None:
            faded = max(0.0, now - recovered_at) / fade_half_life
            excess *= 0.5**faded
        return 1.0 + excess


# --- authors ----------------------------------------------------------------------------


def leaderboard(
    bulletins_by_author: Mapping[str, int], hits_by_author: Mapping[str, int], n: int
) -> list[tuple[str, int, int]]:
    """`(author, bulletins, hits)` for the top `n` authors: most hits, then most
    bulletins, then name. An author missing from one mapping has 0 there."""
    if n <= 0:
        return []
    rows = [
        (author, bulletins_by_author.get(author, 0), hits_by_author.get(author, 0))
        for author in bulletins_by_author.keys() | hits_by_author.keys()
    ]
    return heapq.nsmallest(n, rows, key=lambda row: (-row[2], -row[1], row[0]))
