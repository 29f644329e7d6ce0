"""Typed views of the few locust APIs that are not annotated (`EventHook.add_listener`,
a response's `success`/`failure`, `LoadTestShape.start_time`), so that the locust side
passes mypy strict without `type: ignore` scattered over it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


class _Hook(Protocol):
    def add_listener(self, handler: Callable[..., Any]) -> Callable[..., Any]: ...


class Settle(Protocol):
    def success(self) -> None: ...
    def failure(self, exc: object) -> None: ...


def on(hook: object) -> Callable[[F], F]:
    """`@on(events.quitting)`: `@events.quitting.add_listener`, typed."""

    def register(handler: F) -> F:
        cast(_Hook, hook).add_listener(handler)
        return handler

    return register


def settle(response: object, *, ok: bool, reason: str) -> None:
    """Mark a `catch_response` answer as a success or a failure with `reason`."""
    view = cast(Settle, response)
    if ok:
        view.success()
    else:
        view.failure(reason)
