"""The console's JSON: brokers, controller, coord members, partitions, groups and lag.

Built on request from the broker's metadata cache, replica state and group coordinators;
coord members' modes come from their `srvr` four-letter word, asked off the event loop
and remembered for a few seconds so a polling page costs coord little. Log end, high
watermark and size are known only for partitions this broker hosts; elsewhere they are
null. This module must never change broker state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from broker.cli.status_model import parse_srvr_mode
from broker.metrics.lag import group_lags, owned_groups
from client.consumer.group_protocol import decode_assignment
from coord.client.client import parse_hosts
from coord.client.four_letter import four_letter

COORD_MODES_TTL_S = 3.0


class CoordModes:
    """Each coord member's mode (leader, follower, standalone, unreachable), cached."""

    def __init__(self, connect: str) -> None:
        self.members = parse_hosts(connect)
        self._at = -COORD_MODES_TTL_S
        self._modes: list[dict[str, str]] = []

    async def modes(self) -> list[dict[str, str]]:
        if time.monotonic() - self._at >= COORD_MODES_TTL_S:
            self._at = time.monotonic()
            self._modes = await asyncio.to_thread(self._ask_all)
        return self._modes

    def _ask_all(self) -> list[dict[str, str]]:
        out = []
        for host, port in self.members:
            try:
                mode = parse_srvr_mode(four_letter(host, port, "srvr", timeout=0.5))
            except OSError:
                mode = "unreachable"
            out.append({"address": f"{host}:{port}", "mode": mode})
        return out


def _assignment(member: Any) -> list[str]:
    try:
        return (
            [f"{tp.topic}-{tp.partition}" for tp in decode_assignment(member.assignment)] if member.assignment else []
        )
    except Exception:  # noqa: BLE001 - not the consumer protocol: show nothing rather than fail the page
        return []


def _partitions(broker: Any, name: str, meta: Any) -> list[dict[str, Any]]:
    live = set(broker.cache.brokers)
    out = []
    for p, replicas in sorted(meta.assignment.items()):
        state = meta.states.get(p)
        part = broker.replicas.partitions.get((name, p))
        hosted = part is not None and not part.stopped
        leader = state.leader if state is not None else -1
        isr = list(state.isr) if state is not None else []
        out.append(
            {
                "partition": p,
                "leader": leader,
                "leader_epoch": state.leader_epoch if state else -1,
                "replicas": list(replicas),
                "isr": isr,
                "offline": leader not in live,
                "under_replicated": len(isr) < len(replicas),
                "high_watermark": part.high_watermark if hosted else None,
                "log_end": part.log.log_end_offset if hosted else None,
                "size": part.log.size_bytes if hosted else None,
            }
        )
    return out


def _groups(broker: Any) -> list[dict[str, Any]]:
    lags: dict[str, list[dict[str, Any]]] = {}
    for entry in group_lags(broker.groups, broker.replicas):
        lags.setdefault(entry.group, []).append(
            {
                "topic": entry.topic,
                "partition": entry.partition,
                "committed": entry.committed,
                "end": entry.end,
                "lag": entry.lag,
            }
        )
    return [
        {
            "group": g.group_id,
            "state": g.state.value,
            "generation": g.generation_id,
            "members": [
                {"member_id": m.member_id, "client_id": m.client_id, "assignment": _assignment(m)}
                for m in g.members.values()
            ],
            "lag": lags.get(g.group_id, []),
            "total_lag": sum(e["lag"] for e in lags.get(g.group_id, [])),
        }
        for g in owned_groups(broker.groups)
    ]


async def snapshot(broker: Any, coord: CoordModes) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    cache = broker.cache
    controller = broker.ctx.controller if broker.ctx is not None else None
    epoch = max(broker.replicas.controller_epoch, controller.epoch if controller is not None else -1)
    return {
        "served_by": broker.config.broker_id,
        "cluster_id": cache.cluster_id,
        "time_ms": int(time.time() * 1000),
        "controller": {"id": cache.controller_id, "epoch": epoch},
        "brokers": [
            {"id": b.broker_id, "host": b.host, "port": b.port, "rack": b.rack}
            for _, b in sorted(cache.brokers.items())
        ],
        "coord": await coord.modes(),
        "topics": [
            {"name": name, "partitions": _partitions(broker, name, meta)} for name, meta in sorted(cache.topics.items())
        ],
        "groups": _groups(broker),
    }
