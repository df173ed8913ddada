"""Soak (excluded by default; `pytest -m soak tests/coord_client/test_soak.py`): writers
pipeline creates through a proxy that is cut and healed at random; every acknowledged
create must exist afterwards, the session and its ephemeral must survive, and the client
must end CONNECTED. Seeded: a failure message names the seed to replay."""

from __future__ import annotations

import asyncio
import os
import random
import time

import pytest

from coord.client import ConnState, CoordClient
from coord.protocol.errors import ConnectionLossError
from tests.support.faultproxy import FaultProxy
from tests.support.waiting import wait_until_async

SECONDS = float(os.environ.get("COORD_SOAK_SECONDS", "30"))


@pytest.mark.soak
@pytest.mark.timeout(SECONDS * 4 + 60)
@pytest.mark.parametrize("seed", [11, 12])
async def test_acknowledged_creates_survive_random_cuts(zk_server, seed: int) -> None:
    rnd = random.Random(seed)
    acked: list[str] = []
    with FaultProxy(zk_server.port) as proxy:
        async with CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=10) as c:
            sid = c.session_id
            base = f"/soak-{seed}"
            await c.create(base)
            await c.create(f"{base}-eph", ephemeral=True)
            stop = time.monotonic() + SECONDS

            async def writer() -> None:
                while time.monotonic() < stop:
                    try:
                        acked.append(await c.create(f"{base}/n-", sequence=True))
                    except ConnectionLossError:
                        await c.wait_connected(5)

            async def chaos() -> None:
                while time.monotonic() < stop:
                    await asyncio.sleep(rnd.uniform(0.2, 1.5))
                    proxy.cut()
                    await asyncio.sleep(rnd.uniform(0.0, 1.0))
                    proxy.heal()

            await asyncio.gather(chaos(), *(writer() for _ in range(16)))
            proxy.heal()
            await wait_until_async("the client connected again", lambda: c.state == ConnState.CONNECTED, 15)
            present = set(await c.get_children(base))
            missing = [p for p in acked if p.rsplit("/", 1)[1] not in present]
            assert not missing, f"seed {seed}: acknowledged but missing: {missing[:5]}"
            assert c.session_id == sid and await c.exists(f"{base}-eph") is not None, f"seed {seed}"
            assert len(acked) > 100, f"seed {seed}: only {len(acked)} creates acknowledged"
            await c.delete(base, recursive=True)
