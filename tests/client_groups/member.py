"""One group member as its own process, for the real-process group tests.

`python -m tests.client_groups.member BOOTSTRAP GROUP TOPIC OUT [--instance ID]` consumes
TOPIC in GROUP and appends to OUT, flushing after every line so a SIGKILL loses nothing
written before it:

    R <partition> <offset> <value>    a record processed (written before its commit)
    C <partition> <offset>            a commit that succeeded (next offset to read)
    A <p,p,...> / V <p,p,...>         partitions assigned / revoked by a rebalance

Commits are manual and follow the processing of each poll's records, so whatever a
member processed after its last `C` line may be processed again by the next owner,
and nothing before it may be. It must never exit on its own: tests stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TextIO

from client import AsyncConsumer
from client.errors import CommitFailedError


class Listener:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _write(self, tag: str, partitions: set) -> None:
        self.out.write(f"{tag} {','.join(str(tp.partition) for tp in sorted(partitions))}\n")
        self.out.flush()

    def on_partitions_revoked(self, partitions: set) -> None:
        self._write("V", partitions)

    def on_partitions_assigned(self, partitions: set) -> None:
        self._write("A", partitions)


async def run(args: argparse.Namespace) -> None:
    with open(args.out, "a") as out:  # noqa: ASYNC230 - a local file, opened once per member process
        consumer = AsyncConsumer(
            args.bootstrap,
            group_id=args.group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=args.session_timeout_ms,
            heartbeat_interval_ms=500,
            max_poll_interval_ms=30000,
            group_instance_id=args.instance,
            client_id=args.name,
            partition_assignment_strategy=args.assignor,
        )
        await consumer.start()
        consumer.subscribe([args.topic], listener=Listener(out))
        while True:
            records = await consumer.poll(timeout_ms=500)
            if not records:
                continue
            out.write("".join(f"R {r.partition} {r.offset} {r.value.decode()}\n" for r in records))
            out.flush()
            positions = {tp: await consumer.position(tp) for tp in consumer.assignment()}
            try:
                await consumer.commit(positions)
            except CommitFailedError as exc:  # expelled: the next poll rejoins
                out.write(f"F {exc}\n")
                out.flush()
                continue
            out.write("".join(f"C {tp.partition} {o}\n" for tp, o in sorted(positions.items())))
            out.flush()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("bootstrap")
    p.add_argument("group")
    p.add_argument("topic")
    p.add_argument("out")
    p.add_argument("--name", default="member")
    p.add_argument("--instance", default=None)
    p.add_argument("--session-timeout-ms", type=int, default=6000)
    p.add_argument("--assignor", default="range")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
