"""Kafka's ZooKeeper layout and JSON, as paths and pure encode/decode functions.

Anyone who knows Kafka-on-ZooKeeper can read our tree with zkCli: the same paths, the
same JSON fields and versions (kafka-reference.md 5.1). This module must never talk to
coord; it only says where things live and what their bytes mean, so the cache, the
controller and the tests all agree on one definition.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

BROKERS_IDS = "/brokers/ids"
BROKERS_TOPICS = "/brokers/topics"
CONFIG_TOPICS = "/config/topics"
CONFIG_USERS = "/config/users"
CONTROLLER = "/controller"
CONTROLLER_EPOCH = "/controller_epoch"
CLUSTER_ID = "/cluster/id"
LOG_DIR_EVENTS = "/log_dir_event_notification"
LOG_DIR_EVENT_PREFIX = "log_dir_event_"
LOG_DIR_FAILURE = 1  # the one event kind Kafka defines

# Persistent parents every broker makes sure exist at startup (Kafka's ZkData.PersistentZkPaths,
# with a /config/<type> per config entity type, and our /cluster), so that Kafka's tools and
# `pybroker users` find them on a fresh cluster.
PERSISTENT_PATHS = (
    "/consumers",
    "/brokers/ids",
    "/brokers/topics",
    "/brokers/seqid",
    "/config/changes",
    "/admin/delete_topics",
    "/isr_change_notification",
    "/latest_producer_id_block",
    LOG_DIR_EVENTS,
    CONFIG_TOPICS,
    "/config/clients",
    CONFIG_USERS,
    "/config/brokers",
    "/config/ips",
    "/cluster",
)


def broker_path(broker_id: int) -> str:
    return f"{BROKERS_IDS}/{broker_id}"


def topic_path(topic: str) -> str:
    return f"{BROKERS_TOPICS}/{topic}"


def partitions_path(topic: str) -> str:
    return f"{BROKERS_TOPICS}/{topic}/partitions"


def partition_path(topic: str, partition: int) -> str:
    return f"{BROKERS_TOPICS}/{topic}/partitions/{partition}"


def state_path(topic: str, partition: int) -> str:
    return f"{BROKERS_TOPICS}/{topic}/partitions/{partition}/state"


def topic_config_path(topic: str) -> str:
    return f"{CONFIG_TOPICS}/{topic}"


def user_config_path(user: str) -> str:
    """A user's entity config (SCRAM credentials, one entry per mechanism), as kafka-configs writes it."""
    return f"{CONFIG_USERS}/{user}"


def encode_user_config(configs: dict[str, str]) -> bytes:
    return _dump({"version": 1, "config": dict(configs)})


def decode_user_config(data: bytes) -> dict[str, str]:
    return {str(k): str(v) for k, v in _load(data, "user config").get("config", {}).items()}


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _load(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class Endpoint:
    """One advertised listener of a broker: where clients of that listener connect."""

    listener: str
    host: str
    port: int
    protocol: str = "PLAINTEXT"


@dataclass(frozen=True)
class BrokerInfo:
    """A registered broker. `host`/`port` are its first endpoint's (for messages and old
    registrations); connections pick the endpoint of a listener with `endpoint()`."""

    broker_id: int
    host: str
    port: int
    rack: str | None = None
    endpoints: tuple[Endpoint, ...] = ()

    def endpoint(self, listener: str) -> Endpoint | None:
        """The endpoint of `listener` (a registration without endpoints is one PLAINTEXT)."""
        for e in all_endpoints(self):
            if e.listener == listener:
                return e
        return None


def all_endpoints(info: BrokerInfo) -> tuple[Endpoint, ...]:
    return info.endpoints or (Endpoint("PLAINTEXT", info.host, info.port),)


def broker_info(broker_id: int, endpoints: list[Endpoint], rack: str | None = None) -> BrokerInfo:
    first = endpoints[0]
    return BrokerInfo(broker_id, first.host, first.port, rack, tuple(endpoints))


def encode_broker(info: BrokerInfo, now_ms: int) -> bytes:
    """Kafka's v5 registration: `host`/`port` are the PLAINTEXT endpoint's (null and -1
    without one), `endpoints` every listener as NAME://HOST:PORT, with the protocol map."""
    endpoints = all_endpoints(info)
    plain = next((e for e in endpoints if e.protocol == "PLAINTEXT"), None)
    return _dump(
        {
            "version": 5,
            "host": plain.host if plain else None,
            "port": plain.port if plain else -1,
            "jmx_port": -1,
            "timestamp": str(now_ms),
            "endpoints": [f"{e.listener}://{e.host}:{e.port}" for e in endpoints],
            "listener_security_protocol_map": {e.listener: e.protocol for e in endpoints},
            "rack": info.rack,
            "features": {},
        }
    )


def decode_broker(broker_id: int, data: bytes) -> BrokerInfo:
    obj = _load(data, f"broker registration {broker_id}")
    protocols = obj.get("listener_security_protocol_map") or {}
    endpoints = []
    for url in obj.get("endpoints") or ():
        name, _, address = url.partition("://")
        host, _, port = address.rpartition(":")
        endpoints.append(Endpoint(name, host.strip("[]"), int(port), protocols.get(name, name)))
    if not endpoints:
        return BrokerInfo(broker_id, obj["host"], int(obj["port"]), obj.get("rack"))
    return broker_info(broker_id, endpoints, obj.get("rack"))


def encode_assignment(assignment: dict[int, list[int]], topic_id: str) -> bytes:
    return _dump(
        {
            "version": 3,
            "partitions": {str(p): r for p, r in sorted(assignment.items())},
            "adding_replicas": {},
            "removing_replicas": {},
            "topic_id": topic_id,
        }
    )


def decode_assignment(topic: str, data: bytes) -> dict[int, list[int]]:
    obj = _load(data, f"assignment of topic {topic}")
    return {int(p): [int(b) for b in r] for p, r in obj["partitions"].items()}


def decode_topic_id(topic: str, data: bytes) -> str:
    """The topic id kept beside the assignment (rewritten unchanged when partitions are added)."""
    return str(_load(data, f"assignment of topic {topic}")["topic_id"])


def topic_id_bytes(topic_id: str) -> bytes:
    """The 16 bytes of a topic id kept as URL-safe base64 (what Metadata v10+ carries, by
    which clients tell a topic re-created under the same name from the one deleted)."""
    return base64.urlsafe_b64decode(topic_id + "=" * (-len(topic_id) % 4))


@dataclass(frozen=True)
class PartitionState:
    """One partition's leadership, as the state znode holds it (plus its zkVersion and the
    zxid of its last write: a broker whose registration is newer restarted since)."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    controller_epoch: int
    zk_version: int = field(default=-1, compare=False)
    modified_zxid: int = field(default=-1, compare=False)


def encode_state(state: PartitionState) -> bytes:
    return _dump(
        {
            "version": 1,
            "leader": state.leader,
            "leader_epoch": state.leader_epoch,
            "controller_epoch": state.controller_epoch,
            "isr": list(state.isr),
        }
    )


def decode_state(data: bytes, zk_version: int, modified_zxid: int = -1) -> PartitionState:
    obj = _load(data, "partition state")
    return PartitionState(
        int(obj["leader"]),
        int(obj["leader_epoch"]),
        tuple(int(b) for b in obj["isr"]),
        int(obj["controller_epoch"]),
        zk_version,
        modified_zxid,
    )


def encode_topic_config(configs: dict[str, str]) -> bytes:
    return _dump({"version": 1, "config": dict(configs)})


def decode_topic_config(data: bytes) -> dict[str, str]:
    return {str(k): str(v) for k, v in _load(data, "topic config").get("config", {}).items()}


def new_cluster_id() -> str:
    """22 characters of URL-safe base64 of a random UUID, like Kafka's."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def encode_cluster_id(cluster_id: str) -> bytes:
    return _dump({"version": "1", "id": cluster_id})


def decode_cluster_id(data: bytes) -> str:
    return str(_load(data, "cluster id")["id"])


def encode_controller(broker_id: int, now_ms: int) -> bytes:
    return _dump({"version": 2, "brokerid": broker_id, "timestamp": str(now_ms), "kraftControllerEpoch": -1})


def decode_controller(data: bytes) -> int:
    return int(_load(data, "controller")["brokerid"])


def log_dir_event_path(name: str = "") -> str:
    """A log-dir event node by its child name; with none, the prefix a sequential create extends."""
    return f"{LOG_DIR_EVENTS}/{name or LOG_DIR_EVENT_PREFIX}"


def encode_log_dir_event(broker_id: int) -> bytes:
    """A broker's notice that one of its log directories failed (the controller then asks
    it which replicas are offline)."""
    return _dump({"version": 1, "broker": broker_id, "event": LOG_DIR_FAILURE})


def decode_log_dir_event(data: bytes) -> int:
    """The broker a log-dir event names."""
    return int(_load(data, "log dir event")["broker"])
