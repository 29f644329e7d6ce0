"""The one-machine cluster (deploy/cluster/), started once for the module's tests: each
test leaves it healthy again (or the next one's `healthy` wait fails, naming what)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from deploy.cluster.topology import Cluster


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    workdir = tmp_path_factory.mktemp("cluster")
    async with Cluster(workdir, admin_token=secrets.token_urlsafe(24)) as c:
        yield c
