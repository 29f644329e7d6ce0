"""Benchmark: what one access-log line costs (failover/accesslog.py), in process.

The access logger's `log()` for one prepared request and response, with the JSON
formatter (the default log format) writing to /dev/null, against the same call with the
access log off (aiohttp then skips the call altogether). Best of 5 runs of N calls.

    python -m loadtests.bench_accesslog [--calls 20000]
"""

from __future__ import annotations

import argparse
import logging
import timeit

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from failover.accesslog import ACCESS_LOGGER, JsonAccessLogger
from failover.logs import JsonFormatter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with open("/dev/null", "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        access = JsonAccessLogger(logger, "")
        request = make_mocked_request(
            "GET", "/support/router/setup",
            headers=CIMultiDict({"Host": "127.0.0.1:8080", "User-Agent": "wrk"}),
        )  # fmt: skip
        response = web.Response(text="ok", headers={"X-Request-ID": "abc-1"})
        runs = timeit.repeat(
            lambda: access.log(request, response, 0.0012), number=args.calls, repeat=5
        )
        best = min(runs)
    print(f"access log line (JSON): {best / args.calls * 1e6:.2f} us per request")


if __name__ == "__main__":
    main()
