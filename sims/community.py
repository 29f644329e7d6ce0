"""Community-site simulator: a Discourse JSON API over seeded service bulletins, with switches.

Used by the demo, tests and load tests; never imported by the product (failover/, cache/).
The self-help layer's origin (``cache/origin.py``) reads it exactly as it reads a real
Discourse site. Two listeners, so that ``down`` really closes the service socket while the
switches keep working:

- service: ``GET /latest.json?page=N``, ``/t/{id}.json``, ``/t/{slug}/{id}.json``,
  ``/categories.json`` (see ``sims.community_api``), over ``sims.community_seed`` content
  with Discourse's markup and a private message, an unlisted and a deleted topic among the
  listed ones (``sims.community_markup``).
- control: ``POST /_sim/mode`` ``{"mode": ..., **params}``, ``GET /_sim/state``,
  ``POST /_sim/reset`` (zero the request counters).

Modes: up, down (refused), slow (``delay_ms``), error (``status``, default 503), hang (never
answers), and bad payloads answered 200 (``sims.community_faults``): garbage (not JSON),
wrong_types, huge (``megabytes``), deep (JSON nested ``depth``), nested_html (``depth``),
big_html (``kilobytes``, a topic's first post), lone_surrogate, huge_id and far_date. Every
mode but up and down takes ``count``: only the next ``count`` requests meet the fault, then
the site is ``up`` again (a blip, for retry tests).
CLI: ``python -m sims.community --port 9301 --control-port 9302 [--topics 300 --seed N]``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from aiohttp import web

from sims.base import Simulator, add_listener_args, control_app, run_until_signalled
from sims.community_api import PER_PAGE
from sims.community_markup import build_site
from sims.community_model import Seed, Topic
from sims.community_seed import DEFAULT_SEED, build_seed
from sims.community_service import STATE_KEY, CommunityState, Mode, ModeSettings, service_app

# Layout (docs/architecture.md Style 8): words in community_text and community_families
# (the problem families), the content's shapes in community_model, generated content in
# community_seed, API shapes in community_api, modes + faults + routes in
# community_service; this module owns the lifecycle (on sims.base.Simulator), the control
# listener and the CLI, and re-exports the public names.
__all__ = [
    "DEFAULT_SEED",
    "PER_PAGE",
    "STATE_KEY",
    "CommunitySim",
    "Mode",
    "ModeSettings",
    "Seed",
    "Topic",
    "build_seed",
    "main",
]

SIM_KEY: Final = web.AppKey["CommunitySim"]("community_sim")


class CommunitySim(Simulator[ModeSettings]):
    """A simulated Discourse community site: a service listener and a control listener."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int = 0,
        topics: int = 300,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self._state = CommunityState(build_site(topics, seed))
        super().__init__(
            label="community sim",
            gate=self._state,
            host=host,
            port=port,
            control_port=control_port,
        )

    @property
    def seed(self) -> Seed:
        """The content served: topics in /latest order, authors, categories."""
        return self._state.seed

    def make_private(self, topic_id: int) -> None:
        """Turn a public topic into a private message from now on, as moderators can
        ("convert to personal message"): still served by id, answered as a message."""
        seed = self._state.seed
        topic = replace(seed.by_id[topic_id], archetype="private_message")
        self._state.seed = replace(
            seed,
            topics=tuple(t for t in seed.topics if t.id != topic_id),
            not_public=(*seed.not_public, topic),
            by_id={**seed.by_id, topic_id: topic},
        )

    @property
    def requests_by_path(self) -> dict[str, int]:
        """Requests the service listener received, by path (query strings not included)."""
        return dict(self._state.requests)

    @property
    def requests_total(self) -> int:
        return self._state.requests.total()

    def requests_for(self, path: str) -> int:
        return self._state.requests.get(path, 0)

    def reset_counters(self) -> None:
        self._state.requests.clear()

    async def __aenter__(self) -> CommunitySim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            **self._state.settings.as_json(),
            "remaining": self._state.remaining,
            "listening": self.listening,
            "topics": len(self.seed.topics),
            "authors": len({t.author.id for t in self.seed.topics}),
            "requests_total": self.requests_total,
            "requests_by_path": self.requests_by_path,
        }

    def _service_app(self) -> web.Application:
        return service_app(self._state)

    def _control_app(self) -> web.Application:
        app = control_app(self)
        app[SIM_KEY] = self
        app.router.add_post("/_sim/reset", _ctl_reset)
        return app

    def _parse(self, mode: str, params: Mapping[str, object]) -> ModeSettings:
        return ModeSettings.parse(mode, params)

    async def _apply(self, settings: ModeSettings) -> None:
        await self._switch(settings, settings.count)


async def _ctl_reset(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    sim.reset_counters()
    return web.json_response(sim.state())


async def _run(args: argparse.Namespace) -> None:
    sim = CommunitySim(
        host=args.host,
        port=args.port,
        control_port=args.control_port,
        topics=args.topics,
        seed=args.seed,
    )
    await run_until_signalled(sim, "community")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sims.community", description=__doc__)
    add_listener_args(parser)
    parser.add_argument("--topics", type=int, default=300, help="bulletins to generate")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="content seed")
    asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
