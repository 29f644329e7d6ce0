"""Words of a request path, and the failover topic boost built from them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.ranking import (
    STOPWORDS,
    TopicBoost,
    WordCount,
    words_of,
)

# --- words -------------------------------------------------------------------------------


def test_words_are_lowercased_unicode_words_without_stopwords() -> None:
    assert words_of("The Wi-Fi in MY flat drops; Straße & café 5G!") == {
        "wi",
        "fi",
        "flat",
        "drops",
        "straße",
        "café",
        "5g",
    }
    assert words_of("") == set()
    assert words_of("the and of") == set()
    assert "the" in STOPWORDS


def test_absurdly_long_words_are_dropped() -> None:
    assert words_of("x" * 41 + " router") == {"router"}


# --- failover topic boost ----------------------------------------------------------------

FADE = 600.0


def boosted(arrivals: Sequence[str], *, start: float = 0.0) -> TopicBoost:
    boost = TopicBoost()
    for i, path in enumerate(arrivals):
        boost = boost.record(path.split("/"), start + i)
    return boost


def test_boost_appears_for_matching_words_during_failover() -> None:
    boost = boosted(["router/wifi-drops"] * 20 + ["billing/refund"] * 3)
    wifi = words_of("Wifi keeps dropping? Restart the router")
    billing = words_of("How refunds work")  # "refunds" is not "refund": no stemming
    assert boost.count("router") == 20
    assert boost.factor(wifi, 100.0, recovered_at=None, fade_half_life=FADE) > 1.5
    assert boost.factor(billing, 100.0, recovered_at=None, fade_half_life=FADE) == 1.0
    assert (
        boost.factor(words_of("Paying by card"), 100.0, recovered_at=None, fade_half_life=FADE)
        == 1.0
    )


def test_one_arrival_counts_each_word_once_and_ignores_stopwords() -> None:
    boost = TopicBoost().record(["the", "wifi", "WiFi", "wifi"], 1.0)
    assert boost.count("wifi") == 1
    assert boost.count("the") == 0
    assert boost.arrivals == 1


def test_more_arrivals_boost_more_but_log_damped() -> None:
    words = {"outage"}

    def excess(n: int) -> float:
        b = TopicBoost(entries=(WordCount(word="outage", count=n),))
        return b.factor(words, 0.0, recovered_at=None, fade_half_life=FADE) - 1.0

    assert 0 < excess(1) < excess(10) < excess(100) < excess(10_000)
    assert excess(10_000) / excess(100) < 2.1  # 100x the arrivals, about 2x the boost


def test_boost_is_bounded_for_huge_counts() -> None:
    boost = TopicBoost(entries=(WordCount(word="outage", count=10**15),), max_factor=4.0)
    assert boost.factor({"outage"}, 0.0, recovered_at=None, fade_half_life=FADE) == 4.0


def test_boost_fades_to_one_after_recovery() -> None:
    boost = boosted(["router/wifi"] * 50)
    words = {"wifi"}
    during = boost.factor(words, 1000.0, recovered_at=None, fade_half_life=FADE)
    at_recovery = boost.factor(words, 1000.0, recovered_at=1000.0, fade_half_life=FADE)
    one_half_life = boost.factor(words, 1000.0 + FADE, recovered_at=1000.0, fade_half_life=FADE)
    ten = boost.factor(words, 1000.0 + 10 * FADE, recovered_at=1000.0, fade_half_life=FADE)
    assert during == at_recovery > 1.0
    assert math.isclose(one_half_life - 1.0, (during - 1.0) / 2)
    assert 1.0 < ten < 1.0 + (during - 1.0) / 1000
    assert boost.factor(words, 1e12, recovered_at=1000.0, fade_half_life=FADE) == 1.0
    # A clock stepping back before the recovery does not boost beyond the failover level.
    assert boost.factor(words, 0.0, recovered_at=1000.0, fade_half_life=FADE) == during


def test_boost_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="fade_half_life"):
        TopicBoost().factor({"x"}, 0.0, recovered_at=None, fade_half_life=0.0)
    with pytest.raises(ValueError, match="max_words"):
        TopicBoost(max_words=0)
    with pytest.raises(ValueError, match="max_factor"):
        TopicBoost(max_factor=0.5)


def test_a_full_boost_makes_room_for_a_new_topic_without_over_boosting_it() -> None:
    boost = TopicBoost(max_words=2)
    boost = boost.record(["wifi"], 1.0).record(["wifi"], 2.0).record(["billing"], 3.0)
    boost = boost.record(["earthquake"], 4.0)  # takes billing's slot (the smaller count)
    assert {e.word for e in boost.entries} == {"wifi", "earthquake"}
    assert boost.count("earthquake") == 1  # guaranteed count, not the inherited estimate
    assert boost.count("billing") == 0


@settings(max_examples=200)
@given(
    arrivals=st.lists(
        st.lists(
            st.sampled_from(["wifi", "router", "billing", "sim", "roaming", "tv", "fibre"]),
            max_size=3,
        ),
        max_size=80,
    ),
    max_words=st.integers(1, 5),
)
def test_boost_stays_bounded_and_never_overstates_a_word(
    arrivals: list[list[str]], max_words: int
) -> None:
    boost = TopicBoost(max_words=max_words)
    truth: Counter[str] = Counter()
    for i, words in enumerate(arrivals):
        boost = boost.record(words, float(i))
        truth.update(set(words))
    assert len(boost.entries) <= max_words
    assert boost.arrivals == len(arrivals)
    total = sum(truth.values())
    for e in boost.entries:
        assert e.guaranteed <= truth[e.word] <= e.count
    for word, n in truth.items():
        if n > total / max_words:  # Space-Saving: every frequent word is kept
            assert any(e.word == word for e in boost.entries)
    for e in boost.entries:
        f = boost.factor({e.word}, float(len(arrivals)), recovered_at=None, fade_half_life=FADE)
        assert 1.0 <= f <= boost.max_factor
