"""The soak test's customers (loadtests/soak.py starts locust with this file): a steady
mix of everything customers do, for as long as the soak lasts, with what a real crowd
sends over half an hour besides: topics nobody typed before, searches for random words,
bulletins that do not exist. Anything the front door keeps per distinct input (caches,
metric series, ranking tables) must stay bounded under it, which is what the soak checks.
Every answer must be below 500 (a 404 for a missing bulletin is right).
"""

from __future__ import annotations

import json
import random
import string
import uuid
from typing import Final
from urllib.parse import quote, urlencode

from locust import constant_pacing, task

from loadtests.spike.checks import Verdict
from loadtests.spike.customers import Addressed, settle

PACE_S: Final = 0.5  # each customer does one thing every half second
PAGES: Final = ("router/setup", "billing", "wifi/troubleshooting", "internet/outage", "contact")
PHRASES: Final = ("wifi dropping", "router lights", "bill higher", "password reset", "outage",
                  "modem restart", "wfi keeps droping", "esim", "refund")  # fmt: skip


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9)))


class SoakCustomer(Addressed):
    wait_time = constant_pacing(PACE_S)

    def on_start(self) -> None:
        self.rng = random.Random()
        with self.client.get("/api/v1/bulletins?limit=100", name="/api/v1/bulletins") as resp:
            listed = json.loads(resp.text or "{}").get("bulletins", [])
        self.ids = [int(b["id"]) for b in listed] or [1]
        self.weights = [1 / rank for rank in range(1, len(self.ids) + 1)]

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as r:
            settle(r, Verdict(0 < r.status_code < 500, f"{r.status_code}"))

    def _bulletin(self) -> int:
        return self.rng.choices(self.ids, self.weights)[0]

    @task(25)
    def arrive(self) -> None:
        rng = self.rng
        topic = rng.choice(PAGES) if rng.random() < 0.6 else f"{_word(rng)}/{_word(rng)}"
        self._get(f"/support/{quote(topic)}", "/support/[topic]")

    @task(10)
    def landing(self) -> None:
        self._get("/help", "/help")

    @task(15)
    def search(self) -> None:
        rng = self.rng
        words = rng.choice(PHRASES) if rng.random() < 0.7 else f"{_word(rng)} {_word(rng)}"
        self._get("/help/search?" + urlencode({"q": words}), "/help/search")

    @task(35)
    def read(self) -> None:
        bulletin = (
            self._bulletin() if self.rng.random() < 0.95 else 10**6 + self.rng.randint(0, 9999)
        )
        self._get(f"/help/bulletins/{bulletin}", "/help/bulletins/[id]")

    @task(8)
    def vote(self) -> None:
        path = f"/help/bulletins/{self._bulletin()}/vote"
        form = "helpful=yes" if self.rng.random() < 0.8 else "helpful=no"
        with self.client.post(path, data=form, name="/help/bulletins/[id]/vote",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              allow_redirects=False, catch_response=True) as r:  # fmt: skip
            settle(r, Verdict(r.status_code == 303, f"{r.status_code}"))

    @task(5)
    def api(self) -> None:
        if self.rng.random() < 0.5:
            self._get("/api/v1/bulletins?sort=trending", "/api/v1/bulletins")
        else:
            self._get("/api/v1/search?" + urlencode({"q": self.rng.choice(PHRASES)}),
                      "/api/v1/search")  # fmt: skip

    @task(1)
    def callback(self) -> None:
        key = uuid.uuid4().hex
        body = {"name": f"Soak {key[:6]}", "phone": "+14155552671", "topic": "router lights"}
        with self.client.post("/help/callbacks", json=body, name="/help/callbacks",
                              headers={"Idempotency-Key": f"soak-{key}"},
                              catch_response=True) as r:  # fmt: skip
            settle(r, Verdict(r.status_code == 202, f"{r.status_code}"))

    @task(1)
    def ready(self) -> None:  # what the load balancer asks; /status is on the ops listener
        self._get("/readyz", "/readyz")
