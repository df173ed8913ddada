"""What `pybroker status` reports, built from a Metadata answer, high watermarks and coord.

Pure functions and values: a typed MetadataResponse (plus ListOffsets-latest answers and,
when coord is reachable, the controller epoch and live registrations) in, a
`StatusReport` out, rendered as a readable table or as JSON. This module must never do
I/O, so the table and JSON are tested without a cluster.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from client.protocol.errors import ErrorCode


@dataclass(frozen=True)
class BrokerRow:
    id: int
    host: str
    port: int
    rack: str | None
    registered: bool | None  # in coord /brokers/ids (None: coord not asked)


@dataclass(frozen=True)
class PartitionRow:
    topic: str
    partition: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    high_watermark: int | None  # None: the leader did not answer ListOffsets

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def offline(self) -> bool:
        return self.leader < 0


@dataclass(frozen=True)
class CoordRow:
    address: str
    mode: str  # leader / follower / standalone / unreachable (from `srvr`)


@dataclass
class StatusReport:
    cluster_id: str | None
    controller_id: int
    controller_epoch: int | None  # from coord /controller_epoch
    brokers: list[BrokerRow]
    partitions: list[PartitionRow]
    errors: list[str] = field(default_factory=list)
    coord: list[CoordRow] = field(default_factory=list)

    def to_json(self) -> str:
        out = asdict(self)
        for row, obj in zip(self.partitions, out["partitions"], strict=True):
            obj["under_replicated"] = row.under_replicated
            obj["offline"] = row.offline
        return json.dumps(out, indent=2)


def _error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return "unknown error"


def parse_srvr_mode(answer: str) -> str:
    """The `Mode:` line of a ZooKeeper `srvr` answer (leader, follower, standalone...)."""
    for line in answer.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return "not serving"


def build_report(
    metadata: Any,
    high_watermarks: dict[tuple[str, int], int],
    controller_epoch: int | None = None,
    registered: set[int] | None = None,
    errors: list[str] | None = None,
    coord: list[CoordRow] | None = None,
) -> StatusReport:
    """Join a MetadataResponse with HWs and coord facts. Brokers registered in coord but
    missing from Metadata are listed too (a broker's cache may lag the registration)."""
    brokers = {
        b.node_id: BrokerRow(b.node_id, b.host, b.port, b.rack, None if registered is None else b.node_id in registered)
        for b in metadata.brokers
    }
    for broker_id in sorted((registered or set()) - set(brokers)):
        brokers[broker_id] = BrokerRow(broker_id, "?", 0, None, True)
    partitions = []
    report_errors = list(errors or ())
    for topic in metadata.topics:
        if topic.error_code:
            report_errors.append(f"topic {topic.name}: error {topic.error_code} {_error_name(topic.error_code)}")
            continue
        for p in topic.partitions:
            partitions.append(
                PartitionRow(
                    topic.name,
                    p.partition_index,
                    p.leader_id,
                    p.leader_epoch,
                    list(p.replica_nodes),
                    list(p.isr_nodes),
                    high_watermarks.get((topic.name, p.partition_index)),
                )
            )
    partitions.sort(key=lambda r: (r.topic, r.partition))
    return StatusReport(
        metadata.cluster_id,
        metadata.controller_id,
        controller_epoch,
        [brokers[i] for i in sorted(brokers)],
        partitions,
        report_errors,
        list(coord or ()),
    )


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*headers).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in rows]


def _ids(ids: list[int]) -> str:
    return ",".join(map(str, ids)) or "-"


def _controller_line(report: StatusReport) -> str:
    """The controller and its epoch. Only coord holds the epoch: Kafka's protocol, which
    the brokers answer, carries the controller's id and never its epoch, so without coord
    the line says how to get it instead of showing a '?'."""
    if report.controller_id < 0:
        return "Controller: none"
    line = f"Controller: broker {report.controller_id}"
    if report.controller_epoch is not None:
        return f"{line} (epoch {report.controller_epoch})"
    if report.coord:  # coord was asked and did not say: the warnings below tell why
        return f"{line} (epoch unknown: coord did not answer)"
    return f"{line} (its epoch is kept in coord: add --coord HOST:PORT to show it)"


def render_table(report: StatusReport) -> str:
    lines = [
        f"Cluster {report.cluster_id or '?'}",
        _controller_line(report),
        "",
        f"Brokers ({len(report.brokers)})",
    ]
    lines += _table(
        ["ID", "ADDRESS", "RACK", "NOTE"],
        [
            [
                str(b.id),
                f"{b.host}:{b.port}",
                b.rack or "-",
                ", ".join(
                    n
                    for n in (
                        "controller" if b.id == report.controller_id else "",
                        "not registered in coord" if b.registered is False else "",
                    )
                    if n
                ),
            ]
            for b in report.brokers
        ],
    )
    if report.coord:
        lines += ["", f"Coord ensemble ({len(report.coord)})"]
        lines += _table(["ADDRESS", "MODE"], [[c.address, c.mode] for c in report.coord])
    lines += ["", f"Partitions ({len(report.partitions)})"]
    if report.partitions:
        lines += _table(
            ["TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "HW", "NOTE"],
            [
                [
                    p.topic,
                    str(p.partition),
                    "none" if p.offline else str(p.leader),
                    str(p.leader_epoch),
                    _ids(p.replicas),
                    _ids(p.isr),
                    "?" if p.high_watermark is None else str(p.high_watermark),
                    "offline" if p.offline else "under-replicated" if p.under_replicated else "",
                ]
                for p in report.partitions
            ],
        )
    else:
        lines.append("  (no topics)")
    lines += [f"warning: {e}" for e in report.errors]
    return "\n".join(lines)
