"""Callbacks: no customer who asked to be called back is lost during an outage.

Modules: `request` (the validated request, pure), `formtoken` (the form's anti-forgery
token, pure), `queue` (intake: Redis Stream or local spool, never a false success),
`stream` (the Redis Stream and consumer group), `spool` (SQLite, fsynced), `delivery`
(one POST to a call center and what its answer means), `pacing` (token bucket, pure),
`dispatcher` (oldest first, rate-capped, reclaim and dead letters), `runtime` (the
tasks), `intake` (what the HTTP routes take requests with: the routes themselves are
switchboard/callbacks_web.py, as the form is a self-help page), `wiring` (built from
settings).
"""
