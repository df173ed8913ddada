"""The leader's ISR writes against a real coord server: conditional on the state version,
an already-stored ISR counts as accepted, a moved-on state is refused, one answer each."""

from __future__ import annotations

from broker.metadata import znodes as Z
from broker.metadata.cache import MetadataCache
from broker.metadata.isr_writer import IsrWriter
from broker.replication.messages import IsrChangeResult, ProposeIsr
from coord.client import CoordClient
from tests.broker_metadata.test_metadata_coord import coord_port  # noqa: F401  (fixture)
from tests.support.waiting import wait_until_async

PATH = Z.state_path("t", 0)


class Owner:
    topic, partition, controller_epoch = "t", 0, 3

    def __init__(self) -> None:
        self.results: list[IsrChangeResult] = []

    def step(self, event: IsrChangeResult) -> None:
        self.results.append(event)


async def wait_for(owner: Owner, n: int) -> None:
    await wait_until_async(f"an answer to ISR proposal {n}", lambda: len(owner.results) >= n, 2)


async def test_isr_writes_are_conditional_and_answered_once(coord_port):  # noqa: F811
    client = CoordClient(f"127.0.0.1:{coord_port}")
    await client.start()
    try:
        await client.create(PATH, Z.encode_state(Z.PartitionState(1, 5, (1, 2, 3), 3)), makepath=True)
        writer, owner = IsrWriter(client, MetadataCache(), 1), Owner()

        shrink = ProposeIsr(frozenset({1, 2}), 5, 0)
        writer.propose(owner, shrink)
        await wait_for(owner, 1)
        assert owner.results[0] == IsrChangeResult(shrink, True, 1)
        data, stat = await client.get(PATH)
        assert Z.decode_state(data, stat.version).isr == (1, 2)

        # the same write again at the old version (a retry after a lost reply): already stored
        writer.propose(owner, shrink)
        await wait_for(owner, 2)
        assert owner.results[1] == IsrChangeResult(shrink, True, 1)

        # the controller moved the partition on (new leader epoch): refused
        await client.set(PATH, Z.encode_state(Z.PartitionState(2, 6, (2, 3), 4)), version=1)
        expand = ProposeIsr(frozenset({1, 2, 3}), 5, 1)
        writer.propose(owner, expand)
        await wait_for(owner, 3)
        assert owner.results[2] == IsrChangeResult(expand, False, 2)
        data, _ = await client.get(PATH)
        assert Z.decode_state(data, 2).leader == 2
        await writer.close()
    finally:
        await client.stop()
