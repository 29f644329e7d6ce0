"""Full-text search over the cached bulletins: SQLite FTS5, in-process, rebuilt whole.

Life cycle: `SearchIndex.build(bulletins, hits)` makes a fresh in-memory database from
the cached set. To refresh, the caller builds a new index and then replaces its
reference, so a search never sees a half-built index. `update_hits` refreshes only the
popularity boost, without a rebuild.

Threading: an index belongs to the one event-loop thread that built it and serves it
(sqlite3's default `check_same_thread=True` enforces this). Over the ~300 seeded
bulletins a query takes 0.02-1.6 ms (median), a build ~75 ms
(`python -m tests.unit.test_search_queries`, shared dev box): searches run inline on the loop.

Ranking, documented because the template and the tests rely on it:

    relevance = -bm25(docs, 10, 4, 1, 0.5, 0.5)      title >> tags > body > author = category
    boost     = 1 + ALPHA * log1p(hits) / log1p(max hits in the set),   ALPHA = 0.3
    score     = relevance * boost

FTS5's bm25() is "more negative is better" (sqlite.org/fts5.html#the_bm25_function),
hence the minus. The boost lies in [1, 1 + ALPHA]: popularity reorders near-ties, and a
text match more than 1.3x better always wins, however popular the other bulletin is.

Query safety: user text is never FTS5 syntax. The query is cut to MAX_QUERY_CHARS,
split into words here (letters and digits, joined by - ' . inside a word), cut to
MAX_TERMS, and every word goes to MATCH as a double-quoted string, so NEAR, *, ^,
column filters, AND/OR/NOT and stray quotes are only text. Terms are ANDed; when AND
finds nothing, ORed. The last word is a prefix (as-you-type) unless the query ends
in a separator.

Typo tolerance: a word that matches nothing in the index is replaced by the closest word
of the indexed vocabulary that keeps its first or last letter (difflib ratio >= 0.8, ties
to the more frequent word); the result says so in `corrected_query`. Words with digits,
or shorter than 4 letters, are never corrected: "ax3000" is a model number, and short
words have too many neighbours. Only the first MAX_CORRECTIONS unknown words of a query
are looked up, which bounds its cost. A last word that is a prefix of a vocabulary word
only longer than its porter stem ("dropp") is completed, not corrected.

Hyphenated words: unicode61 splits "Wi-Fi" into "wi" "fi", so a typed "wifi" would not
find it. Joined forms seen at build time ("wifi" -> phrase "wi fi") are searched as
alternatives, and a typed "wi-fi" also tries "wifi".

Bodies are indexed as plain text (cache.text); the vocabulary behind typo tolerance and
hyphenated words is cache.vocabulary.

Errors:
    RuntimeError
     └── SearchUnavailableError    SQLite is too old or built without FTS5
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from cache import text as html_text
from cache.model import Bulletin
from cache.vocabulary import Vocabulary

MIN_SQLITE: Final = (3, 27, 0)  # the remove_diacritics=2 option arrived in SQLite 3.27.0
MAX_QUERY_CHARS: Final = 200
MAX_TERMS: Final = 12
MAX_LIMIT: Final = 100
ALPHA: Final = 0.3
# bm25 weights, in column order: title, tags, body, author, category.
WEIGHTS: Final = (10.0, 4.0, 1.0, 0.5, 0.5)
SNIPPET_TOKENS: Final = 16
MAX_CORRECTIONS: Final = 4  # words looked up per query: bounds a query of 12 typos (~1 ms)

_BODY_COLUMN: Final = 2
_HL_ON, _HL_OFF = "\x02", "\x03"  # control characters are stripped from indexed text
_WORD = re.compile(r"[^\W_]+(?:['\u2019.\-][^\W_]+)*")
# Control characters (our snippet markers among them) and lone surrogates, which JSON
# "\ud800" escapes can carry and SQLite cannot encode.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACE = re.compile(r"\s+")
# Never indexed: what excerpts skip, but for svg and math. An unclosed <svg onload=...> must
# not hide the rest of a body from search; a browser ends the svg at the next <p>.
_INDEX_SKIPPED: Final = html_text.SKIPPED - {"svg", "math"}

_SCHEMA: Final = """
CREATE VIRTUAL TABLE docs USING fts5(
    title, tags, body, author, category,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE boost (id INTEGER PRIMARY KEY, factor REAL NOT NULL);
"""
_RANKED: Final = """
SELECT docs.rowid, -bm25(docs, ?, ?, ?, ?, ?) * boost.factor AS score
FROM docs JOIN boost ON boost.id = docs.rowid
WHERE docs MATCH ?
ORDER BY score DESC, docs.rowid
LIMIT ?
"""
# Separate from _RANKED: the sorter would compute a snippet for every match, not `limit`.
_SNIPPET: Final = """
SELECT snippet(docs, ?, char(2), char(3), '\u2026', ?) FROM docs WHERE docs MATCH ? AND rowid = ?
"""


class SearchUnavailableError(RuntimeError):
    """The Python's SQLite cannot do what the index needs (version, FTS5)."""


Segment = tuple[str, bool]  # (text, highlighted): plain text, the template escapes it


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    id: int
    score: float
    title: str
    snippet: tuple[Segment, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    hits: tuple[SearchHit, ...]
    corrected_query: str | None = None  # set when a typo was corrected: "router firmware"


class SearchIndex:
    """An immutable-by-content FTS5 index of one cached set of bulletins."""

    def __init__(self, conn: sqlite3.Connection, titles: dict[int, str], vocab: Vocabulary):
        self._conn = conn
        self._titles = titles
        self._vocab = vocab

    @classmethod
    def build(cls, bulletins: Iterable[Bulletin], hits: Mapping[int, int]) -> SearchIndex:
        """Index `bulletins` (a later duplicate id replaces an earlier one) in a new database.
        Built in a worker thread and then used by the event loop's (one at a time), so the
        connection is not tied to the thread that made it."""
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        _require_fts5(conn)
        rows: dict[int, tuple[str, str, str, str, str]] = {}
        for b in bulletins:
            rows[b.id] = (
                _clean(b.title),
                _clean(" ".join(b.tags)),
                _clean(html_to_text(b.body_html)),
                _clean(b.author_name),
                _clean(b.category),
            )
        vocab = Vocabulary(text for row in rows.values() for text in row)
        with conn:
            conn.executemany(
                "INSERT INTO docs(rowid, title, tags, body, author, category)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(i, *row) for i, row in rows.items()],
            )
            conn.executemany("INSERT INTO boost(id, factor) VALUES (?, 1.0)", [(i,) for i in rows])
            conn.execute("INSERT INTO docs(docs) VALUES ('optimize')")  # one segment: faster
        index = cls(conn, {i: row[0] for i, row in rows.items()}, vocab)
        index.update_hits(hits)
        return index

    def __len__(self) -> int:
        return len(self._titles)

    def update_hits(self, hits: Mapping[int, int]) -> None:
        """Recompute every popularity boost from `hits` (missing ids count as 0)."""
        counts = {i: max(0, hits.get(i, 0)) for i in self._titles}
        top = math.log1p(max(counts.values(), default=0))
        factors = [
            (1.0 + ALPHA * math.log1p(c) / top if top else 1.0, i) for i, c in counts.items()
        ]
        with self._conn:
            self._conn.executemany("UPDATE boost SET factor = ? WHERE id = ?", factors)

    def search(self, query: str, *, limit: int = 20) -> SearchResult:
        """Best `limit` (at most MAX_LIMIT) bulletins for free text `query`; never raises on it."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        terms, corrected = self._plan(query)
        if not terms:
            return SearchResult(hits=())
        expr = " AND ".join(terms)
        rows = self._ranked(expr, min(limit, MAX_LIMIT))
        if not rows and len(terms) > 1:
            expr = " OR ".join(terms)
            rows = self._ranked(expr, min(limit, MAX_LIMIT))
        hits = tuple(
            SearchHit(id=i, score=score, title=self._titles[i], snippet=self._snippet(expr, i))
            for i, score in rows
        )
        return SearchResult(hits=hits, corrected_query=corrected)

    def _plan(self, query: str) -> tuple[list[str], str | None]:
        """MATCH expressions, one per word, and the corrected query if a word was replaced."""
        text = unicodedata.normalize("NFKC", query[:MAX_QUERY_CHARS]).lower()
        words = _WORD.findall(text)[:MAX_TERMS]
        as_you_type = bool(words) and text.endswith(words[-1])
        exprs: list[str] = []
        shown: list[str] = []
        corrected, tries = False, 0
        for n, word in enumerate(words):
            prefix = as_you_type and n == len(words) - 1
            expr = _any_of(self._vocab.alternatives(word), prefix=prefix)
            if not self._matches(expr):
                completion = self._vocab.complete(word) if prefix else None
                if completion is not None:  # not a typo, just not typed to the end yet
                    expr = _any_of(self._vocab.alternatives(completion), prefix=False)
                elif tries < MAX_CORRECTIONS and (fix := self._vocab.correct(word)) is not None:
                    expr = _any_of(self._vocab.alternatives(fix), prefix=False)
                    word, corrected = fix, True  # noqa: PLW2901 - shown as searched
                tries += completion is None
            exprs.append(expr)
            shown.append(word)
        return exprs, (" ".join(shown) if corrected else None)

    def _matches(self, expr: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM docs WHERE docs MATCH ? LIMIT 1", (expr,))
        return row.fetchone() is not None

    def _ranked(self, expr: str, limit: int) -> list[tuple[int, float]]:
        rows = self._conn.execute(_RANKED, (*WEIGHTS, expr, limit))
        return [(int(i), float(score)) for i, score in rows]

    def _snippet(self, expr: str, rowid: int) -> tuple[Segment, ...]:
        params = (_BODY_COLUMN, SNIPPET_TOKENS, expr, rowid)
        row = self._conn.execute(_SNIPPET, params).fetchone()
        return () if row is None else _segments(str(row[0]))


def html_to_text(html: str) -> str:
    """Plain text of an untrusted HTML fragment, for indexing only (``cache.text``)."""
    return html_text.html_to_text(html, skipped=_INDEX_SKIPPED)


def _require_fts5(conn: sqlite3.Connection) -> None:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise SearchUnavailableError(
            f"search needs SQLite >= {'.'.join(map(str, MIN_SQLITE))} with FTS5; this Python"
            f" links SQLite {sqlite3.sqlite_version}"
        )
    try:
        conn.executescript(_SCHEMA)
    except sqlite3.OperationalError as exc:  # "no such module: fts5"
        raise SearchUnavailableError(
            f"search needs SQLite built with FTS5 (SQLITE_ENABLE_FTS5); SQLite"
            f" {sqlite3.sqlite_version} says: {exc}"
        ) from exc


def _clean(text: str) -> str:
    """NFC; control characters and lone surrogates to spaces; spaces collapsed."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFC", text))).strip()


def _any_of(phrases: Iterable[str], *, prefix: bool) -> str:
    star = " *" if prefix else ""
    quoted = ['"' + p.replace('"', '""') + '"' + star for p in phrases]
    return "(" + " OR ".join(quoted) + ")"


def _segments(raw: str) -> tuple[Segment, ...]:
    """Split snippet() output at our markers into (text, highlighted) pairs."""
    out: list[Segment] = []
    head, *rest = raw.split(_HL_ON)
    if head:
        out.append((head, False))
    for chunk in rest:
        marked, _, plain = chunk.partition(_HL_OFF)
        out.extend((t, h) for t, h in ((marked, True), (plain, False)) if t)
    return tuple(out)
