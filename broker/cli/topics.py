"""`pybroker topics create|list|describe|delete`: topic administration from the shell.

A thin layer over client.AsyncAdmin; output is one line per topic (list) or a
Kafka-style table (describe). This module must never talk the wire protocol itself.
"""

from __future__ import annotations

import argparse

from broker.cli.clientcmd import add_bootstrap, run_client, security_settings
from client import AsyncAdmin, NewTopic
from client.errors import TopicAlreadyExistsError


def register(subparsers: argparse._SubParsersAction) -> None:
    topics = subparsers.add_parser("topics", help="create, list, describe and delete topics")
    sub = topics.add_subparsers(dest="topics_command", metavar="SUBCOMMAND")
    topics.set_defaults(func=lambda args: (topics.print_help(), 2)[1])

    create = sub.add_parser("create", help="create a topic")
    create.add_argument("topic")
    create.add_argument("--partitions", type=int, default=1, help="number of partitions (default 1)")
    create.add_argument("--replication-factor", type=int, default=1, help="replicas per partition (default 1)")
    create.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="topic config such as retention.ms=86400000 (repeatable)",
    )
    create.add_argument("--if-not-exists", action="store_true", help="succeed if the topic already exists")
    create.set_defaults(func=lambda a: run_client(_create(a)))

    lst = sub.add_parser("list", help="list topic names")
    lst.set_defaults(func=lambda a: run_client(_list(a)))

    describe = sub.add_parser("describe", help="partitions, leaders, replicas and ISR")
    describe.add_argument("topics", nargs="*", help="topics to describe (default: all)")
    describe.set_defaults(func=lambda a: run_client(_describe(a)))

    delete = sub.add_parser("delete", help="delete topics and their data")
    delete.add_argument("topics", nargs="+")
    delete.set_defaults(func=lambda a: run_client(_delete(a)))

    for p in (create, lst, describe, delete):
        add_bootstrap(p)


def _parse_configs(items: list[str]) -> dict[str, str]:
    configs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE, e.g. retention.ms=86400000")
        configs[key] = value
    return configs


async def _create(args: argparse.Namespace) -> int:
    topic = NewTopic(args.topic, args.partitions, args.replication_factor, _parse_configs(args.config))
    async with AsyncAdmin(args.bootstrap, **security_settings(args)) as admin:
        try:
            await admin.create_topics([topic])
        except TopicAlreadyExistsError:
            if not args.if_not_exists:
                raise
            print(f"Topic {args.topic} already exists.")
            return 0
    print(f"Created topic {args.topic} ({args.partitions} partitions, replication factor {args.replication_factor}).")
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with AsyncAdmin(args.bootstrap, **security_settings(args)) as admin:
        for name in await admin.list_topics():
            print(name)
    return 0


async def _describe(args: argparse.Namespace) -> int:
    async with AsyncAdmin(args.bootstrap, **security_settings(args)) as admin:
        for topic in await admin.describe_topics(args.topics or None):
            print(
                f"Topic: {topic.name}\tPartitionCount: {len(topic.partitions)}\t"
                f"ReplicationFactor: {len(topic.partitions[0].replicas) if topic.partitions else 0}"
            )
            for p in topic.partitions:
                print(
                    f"\tTopic: {topic.name}\tPartition: {p.partition}\tLeader: {p.leader}\t"
                    f"Replicas: {','.join(map(str, p.replicas))}\tIsr: {','.join(map(str, p.isr))}"
                )
    return 0


async def _delete(args: argparse.Namespace) -> int:
    async with AsyncAdmin(args.bootstrap, **security_settings(args)) as admin:
        await admin.delete_topics(args.topics)
    for name in args.topics:
        print(f"Deleted topic {name}.")
    return 0
