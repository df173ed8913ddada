"""`pybroker perf group`: consumer-group throughput and rebalance times, with member processes.

Reads a topic that already holds `--num-records` records (fill it with `pybroker perf
produce`), each member a separate OS process (so members run in parallel, as in
production):

1. throughput of one member in a fresh group, then of `--members` members in another
   fresh group, each counted from the first record any member got to the last;
2. rebalance times in the second group, now idle and stable: SIGKILL one member and
   time until the survivors own every partition again (session timeout + one
   rebalance); start a new member and time until all own their share (a join); stop
   one cleanly (LeaveGroup) and time until the survivors own everything again.

Members report on stdout (`A <time> <partitions>` after each assignment, `P <count>
<first> <last>` as they read). One JSON line with every figure ends the run. This
module must never change how the client works to look faster: it uses the public API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field

from client import AsyncAdmin, AsyncConsumer

REPORT_EVERY = 0.5


# ---- one member (a child process) ---------------------------------------------------


async def member(bootstrap: str, group: str, topic: str, session_timeout_ms: int, heartbeat_interval_ms: int) -> None:
    class Report:
        def on_partitions_assigned(self, partitions: set) -> None:
            print(f"A {time.time():.6f} {','.join(str(tp.partition) for tp in sorted(partitions))}", flush=True)

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    count, first, last, reported = 0, 0.0, 0.0, 0.0
    async with AsyncConsumer(
        bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        max_poll_records=10000,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        client_id=f"perf-{uuid.uuid4().hex[:6]}",
    ) as consumer:
        consumer.subscribe([topic], listener=Report())
        while not stop.is_set():
            records = await consumer.poll(timeout_ms=200)
            if records:
                last = time.time()
                first = first or last
                count += len(records)
            if time.time() - reported >= REPORT_EVERY:
                reported = time.time()
                print(f"P {count} {first:.6f} {last:.6f}", flush=True)


# ---- the driver ---------------------------------------------------------------------


@dataclass
class Child:
    proc: asyncio.subprocess.Process
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    assignments: list[tuple[float, set[int]]] = field(default_factory=list)
    reader: asyncio.Task | None = None

    async def read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            parts = raw.decode().split()
            if parts and parts[0] == "P":
                self.count, self.first, self.last = int(parts[1]), float(parts[2]), float(parts[3])
            elif parts and parts[0] == "A":
                owned = set(map(int, parts[2].split(","))) if len(parts) > 2 else set()
                self.assignments.append((float(parts[1]), owned))

    def owned(self) -> set[int]:
        return self.assignments[-1][1] if self.assignments else set()


async def spawn(args: argparse.Namespace, group: str) -> Child:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "broker.perf.group",
        args.bootstrap,
        group,
        args.topic,
        str(args.session_timeout_ms),
        str(args.heartbeat_interval_ms),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    child = Child(proc)
    child.reader = asyncio.get_running_loop().create_task(child.read())
    return child


async def wait_for(condition, what: str, timeout: float = 120) -> float:
    """Seconds until `condition()` holds (checked every 10 ms)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"perf group: gave up waiting {timeout:.0f} s for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def throughput(args: argparse.Namespace, members: int, children: list[Child], group: str) -> float:
    children += [await spawn(args, group) for _ in range(members)]
    await wait_for(
        lambda: sum(c.count for c in children) >= args.num_records,
        f"{args.num_records} records read by {members} member(s)",
    )
    first = min(c.first for c in children if c.count)
    last = max(c.last for c in children if c.count)
    rate = args.num_records / max(last - first, 1e-6)
    print(
        f"{members} member(s): {args.num_records} records in {last - first:.2f} s = {rate:,.0f} records/s",
        file=sys.stderr,
    )
    return rate


async def rebalances(
    children: list[Child], partitions: set[int], args: argparse.Namespace, group: str
) -> dict[str, float]:
    def covered(alive: list[Child]) -> bool:
        return set().union(*(c.owned() for c in alive)) == partitions and all(c.owned() for c in alive)

    await wait_for(lambda: covered(children), "a stable group")
    victim, survivors = children[0], children[1:]
    marks = [len(c.assignments) for c in survivors]
    victim.proc.kill()
    kill = await wait_for(
        lambda: all(len(c.assignments) > m for c, m in zip(survivors, marks, strict=True)) and covered(survivors),
        "the survivors to own every partition after a SIGKILL",
    )
    newcomer = await spawn(args, group)
    children.append(newcomer)
    members = survivors + [newcomer]
    join = await wait_for(lambda: bool(newcomer.owned()) and covered(members), "a new member to get its share")
    leaver, rest = members[0], members[1:]
    marks = [len(c.assignments) for c in rest]
    leaver.proc.send_signal(signal.SIGTERM)
    leave = await wait_for(
        lambda: all(len(c.assignments) > m for c, m in zip(rest, marks, strict=True)) and covered(rest),
        "the others to own every partition after a clean leave",
    )
    print(f"rebalance after SIGKILL {kill:.2f} s, join {join:.2f} s, clean leave {leave:.2f} s", file=sys.stderr)
    return {"rebalance_after_kill_s": round(kill, 3), "join_s": round(join, 3), "leave_s": round(leave, 3)}


async def perf_group(args: argparse.Namespace) -> int:
    async with AsyncAdmin(args.bootstrap) as admin:
        topic = (await admin.describe_topics([args.topic]))[0]
    partitions = {p.partition for p in topic.partitions}
    if len(partitions) < args.members:
        raise ValueError(f"{args.topic} has {len(partitions)} partitions: fewer than --members {args.members}")
    single: list[Child] = []
    grouped: list[Child] = []
    try:
        one = await throughput(args, 1, single, f"perf-group-{uuid.uuid4().hex[:8]}")
        for c in single:
            c.proc.terminate()
        group = f"perf-group-{uuid.uuid4().hex[:8]}"
        many = await throughput(args, args.members, grouped, group)
        times = await rebalances(grouped, partitions, args, group)
    finally:
        for c in single + grouped:
            if c.proc.returncode is None:
                c.proc.kill()
            await c.proc.wait()
    print(
        json.dumps(
            {
                "topic": args.topic,
                "records": args.num_records,
                "partitions": len(partitions),
                "members": args.members,
                "one_member_records_per_s": round(one),
                "group_records_per_s": round(many),
                "speedup": round(many / one, 2),
                "session_timeout_ms": args.session_timeout_ms,
                **times,
            }
        )
    )
    return 0


if __name__ == "__main__":
    bootstrap_, group_, topic_, session_, heartbeat_ = sys.argv[1:6]
    asyncio.run(member(bootstrap_, group_, topic_, int(session_), int(heartbeat_)))
