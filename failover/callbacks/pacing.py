"""A token bucket, pure: how long to wait before the next delivery (`now` is a parameter).

A recovering call center must not be flooded with the whole backlog at once, so each
front door delivers at most `rate` callbacks a second, `burst` back to back.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second, > 0
    burst: int  # bucket size, >= 1
    _tokens: float = field(init=False)
    _at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.burst < 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got {self.rate}, {self.burst}")
        self._tokens = float(self.burst)

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        if self._at is None or now > self._at:
            self._at = now

    def wait(self, now: float) -> float:
        """Seconds until a token is free (0.0: take one now with `take`)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one token; call after `wait` returned 0 (the bucket may go into debt)."""
        self._refill(now)
        self._tokens -= 1
