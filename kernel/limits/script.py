"""The limit check in Redis: one Lua script, so that every replica sees one atomic
decision per request (EVALSHA; redis-py loads it again after a SCRIPT FLUSH or a
failover to a replica that never saw it).

Keys (``prefix`` defaults to ``sb:``; `client` is an identity from
`kernel.limits.identity`, at most 48 characters; `subject` a bulletin id)::

    sb:rl:<action>:<client>               string  the client's GCRA TAT, epoch ms;
                                                  expires when it no longer matters
    sb:once:<action>:<subject>:<client>   string  "1": counted in this window; expires
                                                  with the window
    sb:once:<action>:count                string  pairs remembered since this counter
                                                  was made; expires after one window

So Redis holds at most: one TAT key per client active within `burst * interval`, and
at most 2 x `cap` "once" keys per action (the counter's window, and the keys of the
window before it that have not expired yet).

Time is Redis's own (TIME): replicas whose clocks disagree still share one clock for
a shared limit. Per item, in order (items of one call may name the same client):

0. the item's lead (ms; for a client a process let through on its own while Redis did
   not answer, kernel/limits/local.py) moves the client's TAT to at least now + lead,
   whatever the verdict: those requests were served;
1. a subject this client was counted for within the window -> REPEAT (-1);
2. the window's budget of remembered pairs used up -> SATURATED (-2);
3. over the limit -> LIMITED: the milliseconds to wait (> 0);
4. else ALLOWED (0): the TAT moves on, the pair is remembered.

The arithmetic is `kernel.limits.gcra.decide`, step for step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kernel.limits.gcra import ALLOWED, REPEAT, SATURATED, Outcome, Verdict

# KEYS[1] = the action's counter of remembered pairs; then, per item, KEYS[2i] = the
# client's TAT key and KEYS[2i+1] = the pair's key (the TAT key again when no subject).
# ARGV = interval_ms, tolerance_ms, once_ms (0 = no subject), cap, limiting (1/0), then
# per item its lead in ms (0 when none; may be left out).
LUA: Final = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local once, cap, limiting = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local out = {}
for i = 2, #KEYS, 2 do
  local rate_key, seen_key = KEYS[i], KEYS[i + 1]
  local lead = tonumber(ARGV[5 + i / 2]) or 0
  if limiting and lead > 0 then
    local tat = tonumber(redis.call('GET', rate_key))
    if tat == nil or tat < now + lead then
      redis.call('SET', rate_key, string.format('%d', now + lead), 'PX', lead)
    end
  end
  local verdict = 0
  if once > 0 and redis.call('EXISTS', seen_key) == 1 then
    verdict = -1
  elseif once > 0 and (tonumber(redis.call('GET', KEYS[1])) or 0) >= cap then
    verdict = -2
  elseif limiting then
    local tat = tonumber(redis.call('GET', rate_key))
    if tat == nil or tat < now then tat = now end
    local late = tat - now - tolerance
    if late > 0 then
      verdict = late
    else
      local next_tat = tat + interval
      redis.call('SET', rate_key, string.format('%d', next_tat), 'PX', next_tat - now)
    end
  end
  if verdict == 0 and once > 0 then
    redis.call('SET', seen_key, '1', 'PX', once)
    if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], once) end
  end
  out[#out + 1] = verdict
end
return out
"""


class Keys:
    """Key names under one prefix (see the module docstring)."""

    def __init__(self, prefix: str = "sb:") -> None:
        self.prefix = prefix

    def rate(self, action: str, client: str) -> str:
        return f"{self.prefix}rl:{action}:{client}"

    def once(self, action: str, subject: int | str, client: str) -> str:
        return f"{self.prefix}once:{action}:{subject}:{client}"

    def counter(self, action: str) -> str:
        return f"{self.prefix}once:{action}:count"


def script_keys(
    keys: Keys, action: str, items: Sequence[tuple[str, int | str | None]]
) -> list[str]:
    """KEYS for one call over `items` of (client, subject or None)."""
    out = [keys.counter(action)]
    for client, subject in items:
        rate = keys.rate(action, client)
        out += [rate, rate if subject is None else keys.once(action, subject, client)]
    return out


def verdict_of(code: int) -> Verdict:
    """One item of the script's answer."""
    if code == 0:
        return ALLOWED
    if code == -1:
        return REPEAT
    if code == -2:
        return SATURATED
    if code > 0:
        return Verdict(Outcome.LIMITED, code)
    raise ValueError(f"limit script: unexpected answer {code}")
