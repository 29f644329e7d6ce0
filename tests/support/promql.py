"""A PromQL reader for the monitoring-asset tests: the metric selectors (with their
label matchers), grouping clauses and function names of an expression. Not a full
parser: enough to know what an expression asks for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

_TOKEN = re.compile(
    r"""
      (?P<space>\s+|\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])                       # [5m], [1h:1m], [$__rate_interval]
    | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
                 (?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)   # 0.25, 1e3, 5m, 1h30m
    | (?P<variable>\$\{[^}]*\}|\$\w+)             # Grafana: $job, ${DS_PROMETHEUS}
    | (?P<ident>[A-Za-z_:][\w:]*)
    | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])
    """,
    re.VERBOSE,
)
AGGREGATORS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
})  # fmt: skip
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PromQL:
    selectors: tuple[Selector, ...]
    grouping: tuple[tuple[str, tuple[str, ...]], ...]  # ("by", ("job", "route")), ...
    functions: frozenset[str]

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors}


def tokenize(expr: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[pos : pos + 20]!r} in {expr!r}")
        kind = cast(str, match.lastgroup)
        if kind != "space":
            yield kind, match[0]
        pos = match.end()


def _unquote(token: str) -> str:
    if token[0] == '"':
        return cast(str, json.loads(token))
    return token[1:-1]


def parse_promql(expr: str) -> PromQL:
    """Metric selectors (with their label matchers), grouping clauses and function
    names of an expression. Not a full parser: enough to know what it asks for."""
    toks = list(tokenize(expr))
    selectors: list[Selector] = []
    grouping: list[tuple[str, tuple[str, ...]]] = []
    functions: set[str] = set()
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        after = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text in GROUPING:
            if after == "(":
                labels, i = _label_list(toks, i + 2)
                grouping.append((text, labels))
            else:
                i += 1
        elif kind == "ident" and (text in AGGREGATORS or after == "("):
            functions.add(text)
            i += 1
        elif kind == "ident" and text.lower() in KEYWORDS:
            i += 1
        elif kind == "ident":
            matchers: tuple[Matcher, ...] = ()
            i += 1
            if after == "{":
                matchers, i = _matchers(toks, i + 1)
            selectors.append(Selector(metric=text, matchers=matchers))
        elif text == "{":  # {__name__="..."}
            matchers, i = _matchers(toks, i + 1)
            names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
            if len(names) != 1:
                raise ValueError(f"a selector without one metric name in {expr!r}")
            rest = tuple(m for m in matchers if m.label != "__name__")
            selectors.append(Selector(metric=names[0], matchers=rest))
        else:
            i += 1
    return PromQL(selectors=tuple(selectors), grouping=tuple(grouping),
                  functions=frozenset(functions))  # fmt: skip


def _label_list(toks: list[tuple[str, str]], i: int) -> tuple[tuple[str, ...], int]:
    labels: list[str] = []
    while toks[i][1] != ")":
        kind, text = toks[i]
        if kind == "ident":
            labels.append(text)
        elif text != ",":
            raise ValueError(f"unexpected {text!r} in a label list")
        i += 1
    return tuple(labels), i + 1


def _matchers(toks: list[tuple[str, str]], i: int) -> tuple[tuple[Matcher, ...], int]:
    out: list[Matcher] = []
    while toks[i][1] != "}":
        if toks[i][1] == ",":
            i += 1
            continue
        (lkind, label), (_, op), (vkind, value) = toks[i : i + 3]
        if lkind != "ident" or op not in ("=", "!=", "=~", "!~") or vkind != "string":
            raise ValueError(f"not a label matcher: {label} {op} {value}")
        out.append(Matcher(label=label, op=op, value=_unquote(value)))
        i += 3
    return tuple(out), i + 1
