"""`pybroker groups list|describe G`: consumer groups from the shell (Kafka's kafka-consumer-groups).

`list` prints one group per line with its state; `describe` prints the group's state,
generation and assignor, then one row per partition the group owns or has committed:
the committed offset, the partition's log end offset, the lag between them, and the
member that owns it. A thin layer over client.AsyncAdmin; it must never talk the wire
protocol itself.
"""

from __future__ import annotations

import argparse

from broker.cli.clientcmd import add_bootstrap, run_client, security_settings
from client import AsyncAdmin, AsyncConsumer, GroupDescription, TopicPartition

COLUMNS = ("TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "INSTANCE-ID", "CLIENT-ID")


def register(subparsers: argparse._SubParsersAction) -> None:
    groups = subparsers.add_parser("groups", help="list and describe consumer groups")
    sub = groups.add_subparsers(dest="groups_command", metavar="SUBCOMMAND")
    groups.set_defaults(func=lambda args: (groups.print_help(), 2)[1])
    lst = sub.add_parser("list", help="every group, with its state")
    lst.set_defaults(func=lambda a: run_client(_list(a)))
    describe = sub.add_parser("describe", help="members, assignment, committed offsets and lag per partition")
    describe.add_argument("groups", nargs="+", metavar="GROUP")
    describe.set_defaults(func=lambda a: run_client(_describe(a)))
    for p in (lst, describe):
        add_bootstrap(p)


async def _list(args: argparse.Namespace) -> int:
    async with AsyncAdmin(args.bootstrap, **security_settings(args)) as admin:
        for g in await admin.list_groups():
            print(f"{g.group_id}\t{g.state}\t{g.protocol_type or '-'}")
    return 0


def partition_rows(
    group: GroupDescription, committed: dict[TopicPartition, int], log_end: dict[TopicPartition, int]
) -> list[tuple[str, ...]]:
    """One row per partition assigned or committed, sorted; '-' where nothing is known."""
    owners = {tp: m for m in group.members for tp in m.assignment}
    rows: list[tuple[str, ...]] = []
    for tp in sorted(set(owners) | set(committed)):
        current, end = committed.get(tp), log_end.get(tp)
        lag = end - current if current is not None and end is not None else None
        member = owners.get(tp)
        rows.append(
            (
                tp.topic,
                str(tp.partition),
                _or_dash(current),
                _or_dash(end),
                _or_dash(lag),
                member.member_id if member else "-",
                (member.group_instance_id or "-") if member else "-",
                member.client_id if member else "-",
            )
        )
    return rows


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [COLUMNS, *rows]
    )


async def _describe(args: argparse.Namespace) -> int:
    security = security_settings(args)
    async with AsyncAdmin(args.bootstrap, **security) as admin, AsyncConsumer(args.bootstrap, **security) as reader:
        for group in await admin.describe_groups(args.groups):
            committed = await admin.list_group_offsets(group.group_id)
            partitions = {tp for m in group.members for tp in m.assignment} | set(committed)
            log_end = await reader.end_offsets(sorted(partitions)) if partitions else {}
            print(
                f"Group: {group.group_id}\tState: {group.state}\t"  # (Kafka's DescribeGroups has no generation)
                f"Assignor: {group.protocol or '-'}\tCoordinator: {group.coordinator}\tMembers: {len(group.members)}"
            )
            rows = partition_rows(group, committed, log_end)
            print(table(rows) if rows else "(no partitions assigned or committed)")
    return 0
