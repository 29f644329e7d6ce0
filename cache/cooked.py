"""Discourse's cooked markup made plain HTML before sanitizing: the parts that only work
with Discourse's JavaScript or assets become what a reader should see.

- ``<img class="emoji">``: its character or ``:name:`` as text (``cache.emoji``).
- ``<span class="discourse-local-date">``: the date as readable text (``cache.localdates``).
- ``<img class="avatar">`` (quotes, oneboxes): dropped; a face is not content.
- any other ``<img>``: a link to its source, ``[image: alt]``, so that reading a bulletin
  loads nothing remote (a remote image leaks the visit to whoever wrote the post); inside a
  link already (Discourse's lightbox, ``<a class="lightbox" href=original><img ...></a>``)
  only the text, so the page gets no empty link; the lightbox's ``<div class="meta">``
  (file name, size) is dropped, as ``cache.text`` drops it from excerpts.
- ``<a class="hashtag-cooked">``: its "#", which Discourse draws as an icon, is written out.

Everything else is passed through as it came (start tags verbatim, text re-escaped), for
nh3 to judge: this pass only rewrites, it makes nothing safe, and it reads the markup with
the stdlib's forgiving ``html.parser``, so on hostile input it may see other elements than a
browser would. Whatever it emits still goes through the sanitizer's allow-list.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Final

from cache import emoji, localdates

LOCAL_DATE_CLASS: Final = "discourse-local-date"
MAX_DATE_TEXT: Final = 200  # a cooked date is under 60 characters; more is not one
# A body without any of these has nothing for this pass: it is handed on as it came. The
# pass reads about 0.2 ms a KiB on the event loop (a 111 KiB body: 22 ms, noisy machine).
_WORK: Final = re.compile(r"<img|discourse-local-date|hashtag-cooked", re.IGNORECASE)


DateFormat = Callable[[dict[str, str | None], str], str]  # (attributes, fallback) -> text


def _classes(attrs: list[tuple[str, str | None]]) -> list[str]:
    return next((v or "" for k, v in attrs if k == "class"), "").split()


def _attr(attrs: list[tuple[str, str | None]], name: str) -> str | None:
    return next((v for k, v in attrs if k == name), None)


class _Plain(HTMLParser):
    def __init__(self, format_date: DateFormat) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._format_date = format_date
        self._anchors = 0  # <a> elements open around what is read now
        self._date: dict[str, str | None] | None = None  # the local date being read
        self._date_depth = 0  # spans open inside it
        self._date_text: list[str] = []
        self._skipping = 0  # <div>s open inside a dropped <div class="meta">, itself counted
        self._hash = False  # a hashtag's first text is still to come

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._date is not None:
            self._date_depth += tag == "span"
            return
        if self._skipping:
            self._skipping += tag == "div"
            return
        classes = _classes(attrs)
        if tag == "img":
            self._image(attrs)
            return
        if tag == "span" and LOCAL_DATE_CLASS in classes:
            self._date, self._date_depth, self._date_text = dict(attrs), 0, []
            return
        if tag == "div" and "meta" in classes:
            self._skipping = 1
            return
        if tag == "a":
            self._anchors += 1
            self._hash = "hashtag-cooked" in classes
        self.out.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._date is not None or self._skipping:
            return
        if tag == "img":
            self._image(attrs)
        else:
            self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if self._date is not None:
            if tag == "span":
                if self._date_depth == 0:
                    self._end_date()
                else:
                    self._date_depth -= 1
            return
        if self._skipping:
            self._skipping -= tag == "div"
            return
        if tag == "a":
            self._anchors, self._hash = max(0, self._anchors - 1), False
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._date is not None:
            self._date_text.append(data)
        elif not self._skipping:
            if self._hash and data.strip():
                self._hash = False
                data = data if data.lstrip().startswith("#") else f"#{data.lstrip()}"
            self.out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        if self._date is not None:
            self._end_date()

    def _end_date(self) -> None:
        attrs, self._date = self._date or {}, None
        fallback = " ".join("".join(self._date_text).split())[:MAX_DATE_TEXT]
        self.out.append(html.escape(self._format_date(attrs, fallback), quote=False))

    def _image(self, attrs: list[tuple[str, str | None]]) -> None:
        classes = _classes(attrs)
        alt = " ".join((_attr(attrs, "alt") or "").split())[:120]
        if "emoji" in classes:
            self.out.append(html.escape(emoji.as_text(alt, _attr(attrs, "title")), quote=False))
            return
        if "avatar" in classes:
            return
        label = html.escape(f"[image: {alt}]" if alt else "[image]", quote=False)
        src = (_attr(attrs, "src") or "").strip()
        if self._anchors or not src:
            self.out.append(label)
        else:
            self.out.append(f'<a href="{html.escape(src)}">{label}</a>')


def english_date(attrs: dict[str, str | None], fallback: str) -> str:
    return localdates.render(attrs, fallback)


def plain(cooked: str, format_date: DateFormat = english_date) -> str:
    """`cooked` with emoji, local dates and images made plain (see the module docstring).

    `format_date(attributes, fallback_text)` renders a local date; the default is English."""
    if _WORK.search(cooked) is None:
        return cooked
    parser = _Plain(format_date)
    parser.feed(cooked)
    parser.close()
    return "".join(parser.out)
