"""The configuration of a front door with two worker processes, for the tests that start
one (tests/e2e/test_workers*.py): one call center, `primary`, and Redis."""

from __future__ import annotations


def two_workers(
    port: int, *, redis_url: str, center_url: str, data_dir: str = ".", server: str = "",
    sections: str = "",
) -> str:  # fmt: skip
    """`[server] workers = 2` on `port`; `server`: more `[server]` lines; `sections`: more
    tables, before the call center's."""
    return f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data_dir}"
workers = 2
{server}[redis]
url = "{redis_url}"
{sections}[[callcenters]]
name = "primary"
url = "{center_url}"
"""
