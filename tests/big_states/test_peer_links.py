"""Peer links carry a message larger than one frame: a proposal of more than 64 MiB (a
closeSession listing very many ephemerals) crosses intact, cut into frames, and the
messages after it still arrive in order (coord.zab.transport, real sockets)."""

from __future__ import annotations

import asyncio

import pytest

from coord.zab.messages import Message, Proposal
from coord.zab.transport import MAX_FRAME, PeerNetwork
from tests.support.ports import free_ports


async def _exchange(messages: list[Message]) -> list[Message]:
    ports = free_ports(2)
    addresses = {1: ("127.0.0.1", ports[0]), 2: ("127.0.0.1", ports[1])}
    got: list[Message] = []
    arrived = asyncio.Event()

    def on_message(sender: int, msg: Message) -> None:
        got.append(msg)
        if len(got) == len(messages):
            arrived.set()

    a = PeerNetwork(1, addresses, lambda s, m: None)
    b = PeerNetwork(2, addresses, on_message)
    await a.start()
    await b.start()
    try:
        for msg in messages:
            a.send(2, msg)
        await asyncio.wait_for(arrived.wait(), 60)
    finally:
        await a.close()
        await b.close()
    return got


@pytest.mark.slow
def test_a_proposal_larger_than_a_frame_crosses_intact() -> None:
    big = bytes(range(256)) * ((MAX_FRAME + (6 << 20)) // 256)
    sent = [Proposal(1, [(1, b"small")]), Proposal(1, [(2, big)]), Proposal(1, [(3, b"after")])]
    got = asyncio.run(_exchange(sent))
    assert [m.entries[0][0] for m in got] == [1, 2, 3]
    assert got[1].entries[0][1] == big
