"""Consumer groups' claims with real processes: a node, member processes, SIGKILL.

- Three members over six partitions: every record is processed by exactly one member.
- SIGKILL one member mid-stream: its partitions move to the survivors (after the session
  timeout), processing resumes from its last commit; nothing is skipped, and only what
  the dead member processed after its last commit is processed twice.
- A static member (group_instance_id) killed and restarted within the session timeout
  gets its partitions back without a rebalance (the generation does not move).
- Committed offsets survive a SIGKILL of the broker: they are loaded back from
  `__consumer_offsets`.
"""

from __future__ import annotations

import asyncio
import time

from client import AsyncAdmin, AsyncConsumer, AsyncProducer, NewTopic, TopicPartition
from tests.client_groups.conftest import Members, start_group_node

PARTITIONS = 6


async def produce(bootstrap: str, topic: str, numbers: range) -> None:
    async with AsyncProducer(bootstrap, acks="all") as producer:
        for i in numbers:
            await producer.send(topic, b"%d" % i, key=b"k%d" % i)
        await producer.flush()


def processed(members: Members, name: str) -> list[tuple[int, int, int]]:
    """(partition, offset, record number) of every R line."""
    return [
        (int(p), int(o), int(v))
        for tag, p, o, v in (line + [""] * (4 - len(line)) for line in members.lines(name))
        if tag == "R"
    ]


def last_commits(members: Members, name: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for line in members.lines(name):
        if line[0] == "C":
            out[int(line[1])] = int(line[2])
    return out


def assignments(members: Members, name: str) -> list[set[int]]:
    return [
        set(map(int, line[1].split(","))) if len(line) > 1 and line[1] else set()
        for line in members.lines(name)
        if line[0] == "A"
    ]


async def wait_until(condition, what: str, members: Members, names: list[str], timeout: float = 60) -> float:
    """Poll `condition` every 0.2 s; seconds it took, or fail showing the members' logs."""
    start = time.monotonic()
    for _ in range(int(timeout / 0.2)):
        if condition():
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    logs = "\n".join(f"--- {n}\n{members.log(n)[-3000:]}" for n in names)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def numbers_seen(members: Members, names: list[str]) -> dict[int, list[str]]:
    seen: dict[int, list[str]] = {}
    for name in names:
        for _, _, number in processed(members, name):
            seen.setdefault(number, []).append(name)
    return seen


async def test_three_member_processes_share_six_partitions_and_survive_a_kill(group_node, members) -> None:
    start_group_node(group_node)
    bs = members.bootstrap
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("work", PARTITIONS)])
    names = ["m0", "m1", "m2"]
    for name in names:
        members.start(name, "workers", "work")
    await produce(bs, "work", range(600))

    def settled() -> bool:
        current = [assignments(members, n)[-1] if assignments(members, n) else set() for n in names]
        return [len(a) for a in current] == [2, 2, 2] and set().union(*current) == set(range(PARTITIONS))

    await wait_until(
        lambda: len(numbers_seen(members, names)) == 600 and settled(),
        "600 records processed by three members holding two partitions each",
        members,
        names,
    )
    seen = numbers_seen(members, names)
    assert all(len(owners) == 1 for owners in seen.values()), {
        n: o for n, o in seen.items() if len(o) > 1
    }  # exactly one member each

    producing = asyncio.create_task(produce(bs, "work", range(600, 1800)))
    await wait_until(lambda: len(numbers_seen(members, names)) > 900, "records flowing again", members, names)
    members.procs.kill("m0")  # SIGKILL mid-stream
    dead_processed = processed(members, "m0")
    dead_commits = last_commits(members, "m0")
    await producing
    survivors = ["m1", "m2"]

    def moved() -> bool:
        current = [assignments(members, n)[-1] for n in survivors]
        return set().union(*current) == set(range(PARTITIONS))

    took = await wait_until(moved, "m0's partitions to move to m1 and m2", members, survivors)
    await wait_until(
        lambda: set(numbers_seen(members, names)) == set(range(1800)),
        "every record processed after the kill",
        members,
        survivors,
    )
    print(f"partitions moved {took:.1f} s after the SIGKILL (session timeout 6 s)")

    # nothing skipped (checked above); processed twice only if m0 processed it after its last commit
    replayable = {(p, o) for p, o, _ in dead_processed if o >= dead_commits.get(p, 0)}
    survivors_seen = [(p, o) for name in survivors for p, o, _ in processed(members, name)]
    assert len(survivors_seen) == len(set(survivors_seen))  # survivors never overlap
    dead_set = {(p, o) for p, o, _ in dead_processed}
    assert {po for po in survivors_seen if po in dead_set} <= replayable, "a committed record was processed again"


async def test_a_restarted_static_member_keeps_its_partitions_without_a_rebalance(group_node, members) -> None:
    start_group_node(group_node)
    bs = members.bootstrap
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("static", 4)])
    static = ("--session-timeout-ms", "30000")
    members.start("s0", "statics", "static", "--instance", "i0", *static)
    members.start("s1", "statics", "static", "--instance", "i1", *static)
    await produce(bs, "static", range(200))

    def both_hold_two() -> bool:
        return all(assignments(members, n) and len(assignments(members, n)[-1]) == 2 for n in ("s0", "s1"))

    await wait_until(
        lambda: both_hold_two() and len(numbers_seen(members, ["s0", "s1"])) == 200,
        "two static members holding two partitions each",
        members,
        ["s0", "s1"],
    )
    async with AsyncAdmin(bs) as admin:
        before = (await admin.describe_groups(["statics"]))[0]
    s0_lines = len(members.lines("s0"))
    s1_partitions = assignments(members, "s1")[-1]

    members.procs.kill("s1")
    members.start("s1b", "statics", "static", "--instance", "i1", *static)  # back within the session timeout
    await produce(bs, "static", range(200, 400))
    await wait_until(
        lambda: set(numbers_seen(members, ["s0", "s1", "s1b"])) == set(range(400)),
        "every record processed after the restart",
        members,
        ["s0", "s1b"],
    )
    async with AsyncAdmin(bs) as admin:
        after = (await admin.describe_groups(["statics"]))[0]
    assert assignments(members, "s1b") == [s1_partitions]  # the same partitions back
    assert not [line for line in members.lines("s0")[s0_lines:] if line[0] in "AV"]  # s0 never rebalanced
    assert after.generation_id == before.generation_id and after.state == "Stable"
    assert {m.group_instance_id for m in after.members} == {"i0", "i1"}


async def test_committed_offsets_survive_a_broker_kill(group_node) -> None:
    start_group_node(group_node)
    bs = f"127.0.0.1:{group_node.broker_port}"
    async with AsyncAdmin(bs) as admin:
        await admin.create_topics([NewTopic("durable", 2)])
    await produce(bs, "durable", range(100))
    tp = TopicPartition("durable", 0)
    async with AsyncConsumer(
        bs,
        group_id="keeper",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    ) as consumer:
        consumer.subscribe(["durable"])
        got = []
        async with asyncio.timeout(60):
            while len(got) < 100:
                got += await consumer.poll(timeout_ms=500)
        await consumer.commit({tp: 17, TopicPartition("durable", 1): 5})
        assert await consumer.committed(tp) == 17

    group_node.kill()
    start_group_node(group_node)
    async with AsyncAdmin(bs) as admin:
        offsets = await admin.list_group_offsets("keeper")
    assert offsets == {tp: 17, TopicPartition("durable", 1): 5}
    async with AsyncConsumer(
        bs,
        group_id="keeper",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    ) as consumer:
        consumer.subscribe(["durable"])
        first: dict[int, int] = {}
        async with asyncio.timeout(60):
            while len(first) < 2:
                for r in await consumer.poll(timeout_ms=500):
                    first.setdefault(r.partition, r.offset)
        assert first == {0: 17, 1: 5}  # resumed from the commits
