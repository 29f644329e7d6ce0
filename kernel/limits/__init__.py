"""Per-client rate limits and "counted once per client" checks (issue 14, point 6).

Modules: ``identity`` (pure: which client a request counts against), ``gcra`` (pure:
the rate-limit arithmetic and its verdicts), ``script`` (the same in one Redis Lua
script, and its keys), ``limiter`` (Redis first, per process when Redis does not answer
in time), ``wiring`` (built from ``[limits]``; the aiohttp side: a request's client,
the 429 answer). Sizes and their arithmetic: docs/security.md, "Limits".

Errors: none escape to a caller. A Redis failure is a per-process decision, never an
exception and never a 5xx; a wrong call (a subject where none is expected) is a
ValueError, a bug of ours.
"""
