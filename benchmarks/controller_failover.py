"""Controller failover time with many partitions, against a real coord server process.

Two brokers run the real MetadataStore + Controller (their channel records requests
instead of sending them); a third broker is a bare registration. Broker 1 wins, creates
TOPICS x PARTITIONS partitions at RF 3, then its coord session is closed (its ephemerals
vanish at once, as after an expiry). Measured: close -> broker 2 is controller and has
written new leaders for every partition broker 1 led, and queued its LeaderAndIsr.

    PYTHONPATH=$PWD python benchmarks/controller_failover.py [PARTITIONS_TOTAL]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from broker.metadata.controller import Controller
from client.protocol import messages as m
from client.protocol.api import ApiKey
from coord.client import CoordClient
from tests.broker_metadata.test_metadata_coord import start_broker
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port

PER_TOPIC = 2000


class CountingChannel:
    def __init__(self) -> None:
        self.leader_and_isr_entries = 0

    def send(self, broker_id, api_key, body):
        if api_key == ApiKey.LEADER_AND_ISR:
            self.leader_and_isr_entries += sum(len(t.partition_states) for t in body.topic_states)
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(m.API_BY_KEY[api_key].response(error_code=0))
        return fut

    def forget(self, broker_id) -> None:
        pass


async def broker(port: int, broker_id: int) -> tuple[CoordClient, Controller, CountingChannel]:
    return await start_broker(port, 9000 + broker_id, broker_id=broker_id, channel=CountingChannel())


async def main(total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        procs = ProcessGroup(Path(tmp))
        port = free_port()
        procs.start(
            "coord", "coord", "start", "--id", "1", "--data-dir", str(Path(tmp) / "coord"), "--client-port", str(port)
        )
        wait_for_port(port)
        try:
            c1, ctl1, _ = await broker(port, 1)
            c2, ctl2, ch2 = await broker(port, 2)
            c3, _, _ = await broker(port, 3)
            await asyncio.sleep(0.5)
            started = time.monotonic()
            for t in range(0, total, PER_TOPIC):
                refusal = await ctl1.create_topic(f"t{t // PER_TOPIC}", min(PER_TOPIC, total - t), 3, {})
                assert refusal is None, refusal
            print(f"created {total} partitions in {time.monotonic() - started:.1f}s", flush=True)
            settle = time.monotonic() + 120  # until broker 2's cache (from its watches) has them all
            while sum(len(m.states) for m in ctl2.cache.topics.values()) < total and time.monotonic() < settle:
                await asyncio.sleep(0.1)
            led = {(t, p) for t, meta in ctl1.cache.topics.items() for p, st in meta.states.items() if st.leader == 1}
            t0 = time.monotonic()
            await c1.stop()
            deadline = t0 + 120
            while time.monotonic() < deadline:
                cache = ctl2.cache
                moved = ctl2.active and all(cache.topics[t].states[p].leader not in (1, -1) for t, p in led)
                if moved and ch2.leader_and_isr_entries >= total:
                    break
                await asyncio.sleep(0.05)
            print(
                f"controller failover with {total} partitions ({len(led)} led by the dead controller): "
                f"{time.monotonic() - t0:.2f}s",
                flush=True,
            )
            await c2.stop()
            await c3.stop()
        finally:
            procs.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
