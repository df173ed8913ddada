"""Dynamic broker configs, as Kafka's ZooKeeper mode keeps them: per broker in
/config/brokers/<id>, for the whole cluster in /config/brokers/<default>.

AlterConfigs and IncrementalAlterConfigs on a BROKER resource write one of those nodes
(`write_entity`) and leave a change notification under /config/changes
(`{"version":2,"entity_path":"brokers/<id or <default>>"}`); every broker follows the
notifications (`broker.server.topic_config_changes`) and calls `reload`, which re-reads both
nodes and sets each setting on the broker's one `BrokerConfig` object: the broker's own value,
else the cluster default, else its TOML file's (Kafka's precedence). What reads the config at
use then sees the new value; `on_change` re-applies every local log's topic configs after a
reload that changed something, so the log defaults (retention, segments, flush, max message size, cleanup policy,
min.insync.replicas) take effect live. Two kinds of setting may be set:
- `LIVE`: dynamic in Kafka and honoured here, applied as above;
- `NO_EFFECT`: dynamic in Kafka and meaningless in pybroker (thread pools, Kerberos): stored,
  described, and without effect, as `message.format.version` is for topics.
Any other broker setting is read-only: refused with Kafka's INVALID_REQUEST ("Cannot update
these configs dynamically"). This module must never write a topic config or touch a log.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

from broker.config import BrokerConfig
from broker.metadata import znodes as Z
from broker.metadata.validation import check_configs
from broker.refusal import ErrorReply
from broker.server.topic_config_changes import PREFIX
from client.protocol.errors import ErrorCode
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError

log = logging.getLogger(__name__)

CONFIG_BROKERS = "/config/brokers"
DEFAULT_ENTITY = "<default>"

# Kafka name -> (BrokerConfig field, the topic config it is the default of), for the settings
# that are dynamic in Kafka and that pybroker honours. Values are checked as the topic config's.
LIVE: dict[str, tuple[str, str]] = {
    "log.retention.ms": ("log_retention_ms", "retention.ms"),
    "log.retention.bytes": ("log_retention_bytes", "retention.bytes"),
    "log.segment.bytes": ("log_segment_bytes", "segment.bytes"),
    "log.roll.ms": ("log_roll_ms", "segment.ms"),
    "log.flush.interval.messages": ("log_flush_interval_messages", "flush.messages"),
    "log.flush.interval.ms": ("log_flush_interval_ms", "flush.ms"),
    "log.cleaner.delete.retention.ms": ("log_cleaner_delete_retention_ms", "delete.retention.ms"),
    "log.cleanup.policy": ("log_cleanup_policy", "cleanup.policy"),
    "message.max.bytes": ("message_max_bytes", "max.message.bytes"),
    "min.insync.replicas": ("min_insync_replicas", "min.insync.replicas"),
}
# Dynamic in Kafka, nothing to do in pybroker (no thread pools to size, no Kerberos); the
# value's kind: int, float or str.
NO_EFFECT: dict[str, type] = {
    "background.threads": int,
    "num.io.threads": int,
    "num.network.threads": int,
    "num.replica.fetchers": int,
    "num.recovery.threads.per.data.dir": int,
    "log.cleaner.threads": int,
    "sasl.kerberos.min.time.before.relogin": int,
    "sasl.kerberos.kinit.cmd": str,
    "sasl.kerberos.service.name": str,
    "sasl.kerberos.ticket.renew.jitter": float,
    "sasl.kerberos.ticket.renew.window.factor": float,
    "sasl.kerberos.principal.to.local.rules": str,
}


def entity_path(entity: str) -> str:
    return f"{CONFIG_BROKERS}/{entity}"


def check_settings(settings: dict[str, str]) -> ErrorReply | None:
    """Why this set of dynamic broker settings cannot be stored, or None."""
    fixed = sorted(n for n in settings if n not in LIVE and n not in NO_EFFECT)
    if fixed:
        return (
            ErrorCode.INVALID_REQUEST,
            f"Cannot update these configs dynamically: {fixed} (dynamic here: "
            f"{sorted(LIVE)}, and, without effect, {sorted(NO_EFFECT)})",
        )
    for name, value in settings.items():
        if name in LIVE:
            refusal = check_configs({LIVE[name][1]: value})
            if refusal is not None:
                return ErrorCode.INVALID_REQUEST, f"Invalid value {value!r} for {name}: {refusal[1]}"
        elif NO_EFFECT[name] is not str:
            try:
                NO_EFFECT[name](value)
            except ValueError:
                return ErrorCode.INVALID_REQUEST, f"Invalid value {value!r} for {name}: not a number"
    return None


def _typed(name: str, value: str) -> Any:
    return value if name == "log.cleanup.policy" else int(value)


async def read_entity(coord: Any, entity: str) -> tuple[dict[str, str], int | None]:
    """An entity's stored settings and its node's version (None: no node yet)."""
    try:
        data, stat = await coord.get(entity_path(entity))
    except NoNodeError:
        return {}, None
    return Z.decode_topic_config(data), stat.version


async def write_entity(coord: Any, entity: str, settings: dict[str, str], version: int | None) -> bool:
    """Store `settings` as the entity's whole set if its node is still at `version`, and announce
    the change; False if the node changed meanwhile (the caller re-reads and re-applies)."""
    data = Z.encode_topic_config(settings)
    try:
        if version is None:
            await coord.create(entity_path(entity), data, makepath=True)
        else:
            await coord.set(entity_path(entity), data, version=version)
    except (BadVersionError, NodeExistsError, NoNodeError):
        return False
    payload = json.dumps({"version": 2, "entity_path": f"brokers/{entity}"}, separators=(",", ":")).encode()
    await coord.create(PREFIX, payload, sequence=True, makepath=True)
    return True


class DynamicBrokerConfig:
    """This broker's view of the dynamic settings; `config` is the broker's live BrokerConfig."""

    def __init__(self, coord: Any, config: BrokerConfig) -> None:
        self.coord = coord
        self.config = config
        self.on_change: Callable[[], None] = lambda: None  # the broker re-applies its logs' settings
        self.static = dataclasses.replace(config)  # what the TOML file and flags gave
        self.own: dict[str, str] = {}
        self.default: dict[str, str] = {}

    @property
    def entity(self) -> str:
        return str(self.config.broker_id)

    def source_of(self, name: str) -> str | None:
        """'broker' or 'default' for a setting set dynamically, else None."""
        return "broker" if name in self.own else "default" if name in self.default else None

    def value_of(self, name: str) -> str | None:
        return self.own.get(name, self.default.get(name))

    async def reload(self) -> None:
        """Re-read both nodes and set every LIVE setting on the config (a stored value that no
        longer passes the checks is logged and skipped: the file's value stays)."""
        own, _ = await read_entity(self.coord, self.entity)
        default, _ = await read_entity(self.coord, DEFAULT_ENTITY)
        self.own, self.default = own, default
        changed = False
        for name, (field, _) in LIVE.items():
            value = self.value_of(name)
            if value is not None and check_settings({name: value}) is not None:
                log.error(
                    "dynamic broker config %s=%r is not valid; keeping %s", name, value, getattr(self.static, field)
                )
                value = None
            new = getattr(self.static, field) if value is None else _typed(name, value)
            if getattr(self.config, field) != new:
                log.info("broker config %s now %s (%s)", name, new, self.source_of(name) or "static")
                setattr(self.config, field, new)
                changed = True
        if changed:
            self.on_change()


def list_bases(config: BrokerConfig, dynamic: DynamicBrokerConfig) -> dict[str, str]:
    """The list settings (IncrementalAlterConfigs APPEND and SUBTRACT apply to them), each with
    its current value, where APPEND and SUBTRACT start when the entity does not set it."""
    return {
        "log.cleanup.policy": config.log_cleanup_policy,
        "sasl.kerberos.principal.to.local.rules": dynamic.value_of("sasl.kerberos.principal.to.local.rules")
        or "DEFAULT",
    }
