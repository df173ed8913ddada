"""`pybroker status`: brokers, the controller and its epoch, and every partition's leader,
leader epoch, replicas, ISR and high watermark, as a table or JSON.

Asks the controller (through the client's admin) for Metadata, each partition leader for
its high watermark (ListOffsets latest, Kafka's answer for a plain consumer), and coord,
when given, for the controller epoch and live registrations. Without --bootstrap it reads
the addresses from a local cluster's state file. This module must never write anything
to a broker or to coord.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

from broker.cli.clientcmd import DEFAULT_BOOTSTRAP, run_client
from broker.cli.cluster import DEFAULT_CLUSTER_DIR
from broker.cli.cluster_security import client_settings, coord_options
from broker.cli.cluster_state import ClusterStateError, load_state, state_path
from broker.cli.status_model import CoordRow, StatusReport, build_report, parse_srvr_mode, render_table
from broker.config import ConfigError
from broker.metadata import znodes as Z
from client import AsyncAdmin
from client.client import metadata_request
from client.errors import BrokerConnectionError, BrokerError, ClientError, ClientTimeoutError
from client.protocol import messages as m
from client.protocol.api import CONSUMER_REPLICA_ID, LATEST_TIMESTAMP, ApiKey
from coord.client import CoordClient
from coord.client.client import parse_hosts


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("status", help="brokers, controller, partition leaders, ISR and high watermarks")
    p.add_argument(
        "--bootstrap",
        default=None,
        metavar="HOST:PORT[,HOST:PORT...]",
        help=f"brokers to ask (default: the local cluster's in --data-dir, else {DEFAULT_BOOTSTRAP})",
    )
    p.add_argument(
        "--coord",
        default=None,
        metavar="HOST:PORT[,...]",
        help="coord ensemble, for the controller epoch and live registrations "
        "(default: the local cluster's in --data-dir, if any)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_CLUSTER_DIR,
        help=f"a local cluster's directory to take addresses from (default ./{DEFAULT_CLUSTER_DIR})",
    )
    p.add_argument(
        "--command-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="client properties (security.protocol, ssl.*, sasl.*) for the brokers "
        "(default: the local cluster's, if any)",
    )
    p.add_argument(
        "--coord-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="the brokers' TOML file: reach coord with its zookeeper.* settings (TLS, JAAS login) "
        "(default: the local cluster's, if any)",
    )
    p.add_argument("--topic", action="append", default=None, help="only this topic (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    bootstrap, coord = args.bootstrap, args.coord
    command_config, coord_config = args.command_config, args.coord_config
    if (bootstrap is None or coord is None) and state_path(args.data_dir).exists():
        try:
            state = load_state(args.data_dir)
        except ClusterStateError as exc:
            print(f"pybroker status: error: {exc}", file=sys.stderr)
            return 1
        bootstrap, coord = bootstrap or state.bootstrap, coord or state.coord_connect
        command_config = command_config or state.command_config or None
        coord_config = coord_config or state.broker_config or None
    try:
        security, to_coord = client_settings(command_config), coord_options(coord_config)
    except (ConfigError, ClientError, OSError) as exc:
        print(f"pybroker status: error: {exc}", file=sys.stderr)
        return 1
    return run_client(_status(bootstrap or DEFAULT_BOOTSTRAP, coord, args.topic, args.json, security, to_coord))


async def _status(
    bootstrap: str,
    coord: str | None,
    topics: list[str] | None,
    as_json: bool,
    security: dict[str, Any],
    to_coord: dict[str, Any],
) -> int:
    report = await gather_report(bootstrap, coord, topics, security, to_coord)
    print(report.to_json() if as_json else render_table(report))
    return 0


async def gather_report(
    bootstrap: str,
    coord: str | None,
    topics: list[str] | None = None,
    security: dict[str, Any] | None = None,
    to_coord: dict[str, Any] | None = None,
) -> StatusReport:
    """Everything `status` shows; coord and HW failures become warnings, not errors. `security`:
    the clients' settings; `to_coord`: CoordClient's (cluster_security)."""
    errors: list[str] = []
    async with AsyncAdmin(bootstrap, request_timeout_ms=10000, **(security or {})) as admin:
        metadata = await _controller_metadata(admin, topics, errors)
        high_watermarks = await _high_watermarks(admin, metadata, errors)
    controller_epoch, registered = (await _coord_facts(coord, errors, to_coord or {})) if coord else (None, None)
    members = await coord_modes(coord, (to_coord or {}).get("ssl_context")) if coord else []
    return build_report(metadata, high_watermarks, controller_epoch, registered, errors, members)


async def coord_modes(coord: str, ssl_context: ssl.SSLContext | None = None) -> list[CoordRow]:
    """Each coord server's role, from the `srvr` four-letter word (ZooKeeper allows it by default),
    over TLS when coord is reached on its secure port."""

    async def one(host: str, port: int) -> CoordRow:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ssl_context), 2.0)
            try:
                writer.write(b"srvr")
                # Over TLS the answer may come in pieces: read to the end (the server closes after it).
                answer = await asyncio.wait_for(reader.read(4096 if ssl_context is None else -1), 2.0)
            finally:
                writer.close()
            return CoordRow(f"{host}:{port}", parse_srvr_mode(answer.decode(errors="replace")))
        except (TimeoutError, OSError):
            return CoordRow(f"{host}:{port}", "unreachable")

    return list(await asyncio.gather(*(one(h, p) for h, p in parse_hosts(coord))))


async def _controller_metadata(admin: AsyncAdmin, topics: list[str] | None, errors: list[str]) -> Any:
    """Metadata as the controller sees it (it writes leadership, so it lags least); if the
    controller does not answer (just crashed, and coord has not noticed yet), another
    broker's view, with a warning: status is what one runs right after a kill."""
    cluster = await admin.client.refresh_metadata()
    request = metadata_request(topics)
    response = None
    if cluster.controller_id in cluster.brokers:
        try:
            response = await admin.client.request(cluster.controller_id, ApiKey.METADATA, request)
        except (BrokerConnectionError, ClientTimeoutError) as exc:
            errors.append(
                f"controller {cluster.controller_id} did not answer Metadata ({exc}); showing another broker's view"
            )
    if response is None:
        response = await admin.client.any_request(ApiKey.METADATA, request)
    admin.client.cluster.update(response)
    return response


async def _high_watermarks(admin: AsyncAdmin, metadata: Any, errors: list[str]) -> dict[tuple[str, int], int]:
    by_leader: dict[int, dict[str, list]] = {}
    for topic in metadata.topics:
        for p in topic.partitions if not topic.error_code else ():
            if p.leader_id >= 0:
                by_leader.setdefault(p.leader_id, {}).setdefault(topic.name, []).append(
                    m.ListOffsetsRequest.ListOffsetsPartition(
                        partition_index=p.partition_index, timestamp=LATEST_TIMESTAMP
                    )
                )
    out: dict[tuple[str, int], int] = {}
    for leader, topics in sorted(by_leader.items()):
        request = m.ListOffsetsRequest(
            replica_id=CONSUMER_REPLICA_ID,
            topics=[
                m.ListOffsetsRequest.ListOffsetsTopic(name=name, partitions=parts) for name, parts in topics.items()
            ],
        )
        try:
            response = await admin.client.request(leader, ApiKey.LIST_OFFSETS, request)
        except (ClientError, BrokerError, OSError) as exc:
            errors.append(f"broker {leader} did not answer ListOffsets: {exc}")
            continue
        for topic in response.topics:
            for entry in topic.partitions:
                if entry.error_code:
                    errors.append(f"{topic.name}-{entry.partition_index}: ListOffsets error {entry.error_code}")
                else:
                    out[(topic.name, entry.partition_index)] = entry.offset
    return out


async def _coord_facts(coord: str, errors: list[str], to_coord: dict[str, Any]) -> tuple[int | None, set[int] | None]:
    client = CoordClient(coord, session_timeout=10.0, **to_coord)
    try:
        await client.start(timeout=5.0)
        epoch_data, _ = await client.get(Z.CONTROLLER_EPOCH)
        registered = {int(i) for i in await client.get_children(Z.BROKERS_IDS)}
        return (int(epoch_data) if epoch_data else None), registered
    except Exception as exc:  # noqa: BLE001 - status still shows what the brokers said
        errors.append(f"coord {coord} not readable: {exc}")
        return None, None
    finally:
        await asyncio.shield(client.stop())
