"""Admin calls right after the controller broker crashes (SIGKILL), before coord has
noticed: the other broker is alive and answers Metadata, so describing a topic must work,
and creating one must wait for the new controller rather than fail at once with
"cannot connect to broker" (what `pybroker topics describe` printed in QA)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from client import AsyncAdmin, NewTopic
from tests.broker_cluster.cluster import start_cluster
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster


def test_describe_and_create_right_after_controller_sigkill(procs, tmp_path: Path):
    cluster = start_cluster(procs, tmp_path, n=2)
    try:

        async def setup() -> None:
            async with AsyncAdmin(cluster.bootstrap) as admin:
                await admin.create_topics([NewTopic("t", num_partitions=1, replication_factor=2)])

        asyncio.run(setup())
        controller, _ = wait_until("a controller", cluster.controller)
        survivor = next(i for i in cluster.ports if i != controller)
        procs.kill(f"broker{controller}")

        async def after_crash() -> None:
            async with AsyncAdmin(f"127.0.0.1:{cluster.ports[survivor]}", request_timeout_ms=20000) as admin:
                [desc] = await admin.describe_topics(["t"])
                assert desc.name == "t"
                await admin.create_topics([NewTopic("t2", num_partitions=1, replication_factor=1)])

        asyncio.run(asyncio.wait_for(after_crash(), 30))
    finally:
        cluster.close()
