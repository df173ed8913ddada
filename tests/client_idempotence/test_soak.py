"""Soak (`-m soak`): a seeded mix of faults under a pipelined producer on three partitions:
answers swallowed after the write, links cut and healed, the broker SIGKILLed or stopped
and restarted. Every acknowledged record exactly once, in send order per partition.
SOAK_SEED picks the schedule, SOAK_ROUNDS its length (default 12)."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from client import AsyncProducer
from tests.client_idempotence.test_exactly_once import SETTINGS, create, read_all
from tests.support.node import bootstrap

pytestmark = pytest.mark.soak


async def test_seeded_faults_never_duplicate_or_reorder(node, proxied) -> None:
    seed = int(os.environ.get("SOAK_SEED", random.randrange(1 << 30)))
    rounds = int(os.environ.get("SOAK_ROUNDS", "12"))
    rng = random.Random(seed)
    node.start()
    bs = bootstrap(node)
    await create(bs, "soak", 3)
    sent: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
    futures = []
    async with AsyncProducer(bs, batch_size=2048, **SETTINGS) as producer:
        for round_ in range(rounds):
            fault = rng.choice(["drop", "drop", "cut", "kill", "stop", "none"])
            for i in range(rng.randrange(50, 400)):
                p = rng.randrange(3)
                value = b"%d-%d" % (round_, i)
                sent[p].append(value)
                futures.append((p, value, await producer.send("soak", value, partition=p)))
                if i == 25 and fault == "drop":
                    proxied.drop_replies(rng.randrange(1, 4))
                elif i == 25 and fault == "cut":
                    proxied.cut()
                    await asyncio.sleep(rng.random() / 2)
                    proxied.heal()
                elif i == 25 and fault in ("kill", "stop"):
                    proxied.drop_replies(1, then_cut=True)
                    await asyncio.sleep(0.05)
                    node.kill() if fault == "kill" else node.stop()
                    node.start()
                    proxied.heal()
            async with asyncio.timeout(90):
                await asyncio.gather(*(f for _, _, f in futures), return_exceptions=True)
            proxied.drop_replies(0)
            proxied.heal()
    failed = [(p, v, f.exception()) for p, v, f in futures if f.exception() is not None]
    assert not failed, f"seed {seed}: {failed[:3]}"
    records = await read_all(bs, "soak", 3, sum(map(len, sent.values())))
    for p in range(3):
        got = [r.value for r in records if r.partition == p]
        assert got == sent[p], f"seed {seed}: partition {p} differs"
    for p, value, f in futures:
        assert f.result().offset == sent[p].index(value), f"seed {seed}: wrong offset for {value!r}"
