"""Peer links: a broken connection we send on is reported, and what was queued for it is
not delivered on the next one."""

from __future__ import annotations

from coord.zab.messages import Ping
from coord.zab.transport import PeerNetwork
from tests.coord_zab.ensemble import loopback_addresses
from tests.support.waiting import wait_until_async


async def test_a_broken_outgoing_link_is_reported_and_its_queue_dropped() -> None:
    addresses = loopback_addresses(2)
    got: list[tuple[int, object]] = []
    lost_at_1: list[int] = []
    one = PeerNetwork(1, addresses, lambda s, m: None, retry=0.05, on_lost=lost_at_1.append)
    two = PeerNetwork(2, addresses, lambda s, m: got.append((s, m)))
    await one.start()
    await two.start()
    try:
        one.send(2, Ping(1, 1, False))
        await wait_until_async("the first ping delivered", lambda: len(got) == 1)
        # server 2 drops every incoming connection: 1's link to 2 breaks under it
        for writer in list(two._incoming):
            writer.transport.abort()
        one.send(2, Ping(1, 2, False))  # written into the dead connection, or dropped
        await wait_until_async("the lost peer reported", lambda: lost_at_1 == [2])
        # the next connection carries only what is sent after the loss
        one.send(2, Ping(1, 3, False))
        await wait_until_async("the ping after reconnecting", lambda: got[-1][1] == Ping(1, 3, False))
        assert Ping(1, 2, False) not in [m for _, m in got]
    finally:
        await one.close()
        await two.close()
