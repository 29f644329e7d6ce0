"""`GET /metrics` on the ops listener: this process's registry, or with several worker
processes the merge of all of theirs (failover/workers.py, monitoring/aggregate.py).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from failover.appkeys import METRICS, WORKER
from failover.workers import gather_metrics
from monitoring.aggregate import merge


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    worker = request.app.get(WORKER)
    if worker is not None and worker.count > 1 and request.query.get("worker") != "self":
        texts, answered = await gather_metrics(worker, body)
        body = (
            merge(texts)
            + (
                "# HELP switchboard_workers_scraped Worker processes whose metrics this scrape"
                " includes.\n# TYPE switchboard_workers_scraped gauge\n"
                f"switchboard_workers_scraped {answered}\n"
                "# HELP switchboard_workers Worker processes configured.\n"
                f"# TYPE switchboard_workers gauge\nswitchboard_workers {worker.count}\n"
            ).encode()
        )
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
