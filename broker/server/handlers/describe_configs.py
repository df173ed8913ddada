"""DescribeConfigs: a topic's effective configs, or this broker's settings, by Kafka's names.

A topic config is the topic's own value (source DYNAMIC_TOPIC_CONFIG) or the broker setting it
defaults to (STATIC_BROKER_CONFIG when the broker's configuration sets it, else DEFAULT_CONFIG),
as Kafka reports them, or DYNAMIC_BROKER_CONFIG / DYNAMIC_DEFAULT_BROKER_CONFIG where a dynamic
broker config sets that default; CreateTopics v5 answers the same entries for a topic it
created. Only the topic configs pybroker honours are listed
(`broker.metadata.validation.TOPIC_CONFIGS`). A broker resource lists every broker setting under
its Kafka name, read-only except the dynamic ones (`broker.server.dynamic_broker_config`), which
carry their source; the cluster-default resource ("") lists the cluster-wide dynamic settings
only, as Kafka does. This module must never change a config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

from broker.config import BrokerConfig
from broker.refusal import RequestRefusedError
from broker.server import dynamic_broker_config as dyn
from broker.server.handlers.common import BrokerContext, Reply
from client.protocol.errors import ErrorCode
from client.protocol.kafka_frames import RequestHeader
from client.protocol.messages import DescribeConfigsResponse as R

TOPIC, BROKER = 2, 4  # resource types
# config sources
DYNAMIC_TOPIC_CONFIG, DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG = 1, 2, 3
STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 4, 5
_DYNAMIC_SOURCES = {"broker": DYNAMIC_BROKER_CONFIG, "default": DYNAMIC_DEFAULT_BROKER_CONFIG}
BOOLEAN, STRING, INT, LONG, LIST = 1, 2, 3, 5, 7  # config types (v3+)
NEVER = 9223372036854775807  # Kafka's flush.messages / flush.ms default: Long.MAX_VALUE

_DEFAULTS = BrokerConfig()


class ConfigEntry(NamedTuple):
    name: str
    value: str | None
    read_only: bool
    config_source: int
    config_type: int


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _or_never(value: int | None) -> int:
    return NEVER if value is None else value


# Topic config -> (the broker setting it defaults to, its value's type).
_TOPIC_DEFAULTS: dict[str, tuple[Callable[[BrokerConfig], Any], int]] = {
    "cleanup.policy": (lambda c: c.log_cleanup_policy, LIST),
    "compression.type": (lambda c: "producer", STRING),
    "delete.retention.ms": (lambda c: c.log_cleaner_delete_retention_ms, LONG),
    "file.delete.delay.ms": (lambda c: 60000, LONG),  # accepted, without effect (validation.py)
    "flush.messages": (lambda c: _or_never(c.log_flush_interval_messages), LONG),
    "flush.ms": (lambda c: _or_never(c.log_flush_interval_ms), LONG),
    "max.message.bytes": (lambda c: c.message_max_bytes, INT),
    "message.format.version": (lambda c: "3.0-IV1", STRING),  # accepted, without effect (validation.py)
    "min.insync.replicas": (lambda c: c.min_insync_replicas, INT),
    "retention.bytes": (lambda c: c.log_retention_bytes, LONG),
    "retention.ms": (lambda c: c.log_retention_ms, LONG),
    "segment.bytes": (lambda c: c.log_segment_bytes, INT),
    "segment.ms": (lambda c: c.log_roll_ms, LONG),
    "unclean.leader.election.enable": (lambda c: c.unclean_leader_election_enable, BOOLEAN),
}

# Broker settings whose Kafka name is not the field name with dots.
_KAFKA_NAMES = {
    "rack": "broker.rack",
    "data_dir": "log.dir",
    "coord_connect": "zookeeper.connect",
    "coord_session_timeout_ms": "zookeeper.session.timeout.ms",
    "zookeeper_client_cnxn_socket": "zookeeper.clientCnxnSocket",
}
_LISTENER_FIELDS = frozenset(
    {"host", "port", "advertised_host", "advertised_port", "listeners", "advertised_listeners"}
)
# Secrets: described with a null value, as Kafka describes its sensitive settings; the
# per-listener settings may hold JAAS passwords, so they are not listed at all.
_SENSITIVE = frozenset(
    {
        "ssl_key_password",
        "ssl_keystore_key",
        "sasl_jaas_config",
        "zookeeper_ssl_keystore_password",
        "zookeeper_ssl_truststore_password",
    }
)
_UNLISTED = frozenset({"listener_settings"})


# Topic config -> the dynamic broker setting that is its default.
_TOPIC_SYNONYMS = {topic: broker for broker, (_, topic) in dyn.LIVE.items()}


def topic_config_entries(config: BrokerConfig, overrides: dict[str, str], dynamic: Any = None) -> list[ConfigEntry]:
    """Every topic config we honour, with its effective value and where that value comes from
    (`dynamic`: the broker's DynamicBrokerConfig, whose settings are topic defaults too)."""
    out = []
    for name, (default_of, kind) in sorted(_TOPIC_DEFAULTS.items()):
        value: str | None
        if name in overrides:
            value, source = overrides[name], DYNAMIC_TOPIC_CONFIG
        else:
            value = _text(default_of(config))
            source = DEFAULT_CONFIG if value == _text(default_of(_DEFAULTS)) else STATIC_BROKER_CONFIG
            where = None if dynamic is None or name not in _TOPIC_SYNONYMS else dynamic.source_of(_TOPIC_SYNONYMS[name])
            source = _DYNAMIC_SOURCES.get(where or "", source)
        out.append(ConfigEntry(name, value, False, source, kind))
    return out


def broker_config_entries(config: BrokerConfig, dynamic: Any = None) -> list[ConfigEntry]:
    """Every broker setting by its Kafka name; host and ports as Kafka's two listener settings.
    The dynamic ones (`dynamic_broker_config`) are writable, with their dynamic source when set."""
    advertised = (
        config.advertised_listeners
        or config.listeners
        or f"PLAINTEXT://{config.advertised_host or config.host}:{config.advertised_port or config.port}"
    )
    listeners = config.listeners or f"PLAINTEXT://{config.host}:{config.port}"
    out = [
        ConfigEntry("listeners", listeners, True, STATIC_BROKER_CONFIG, STRING),
        ConfigEntry("advertised.listeners", advertised, True, STATIC_BROKER_CONFIG, STRING),
    ]
    for f in dataclasses.fields(BrokerConfig):
        if f.name in _LISTENER_FIELDS or f.name in _UNLISTED:
            continue
        value, default = getattr(config, f.name), getattr(_DEFAULTS, f.name)
        if f.name in _SENSITIVE and value is not None:
            value = default = None
        kind = BOOLEAN if isinstance(default, bool) else LONG if isinstance(default, int) else STRING
        name = _KAFKA_NAMES.get(f.name, f.name.replace("_", "."))
        source = DEFAULT_CONFIG if value == default else STATIC_BROKER_CONFIG
        if name in dyn.LIVE:
            where = None if dynamic is None else dynamic.source_of(name)
            out.append(
                ConfigEntry(
                    name,
                    _text(value),
                    False,
                    _DYNAMIC_SOURCES.get(where or "", source),
                    LIST if name == "log.cleanup.policy" else kind,
                )
            )
        else:
            out.append(ConfigEntry(name, _text(value), True, source, kind))
    if dynamic is not None:  # set, without effect: listed only when set
        out += [
            ConfigEntry(n, dynamic.value_of(n), False, _DYNAMIC_SOURCES[dynamic.source_of(n)], STRING)
            for n in dyn.NO_EFFECT
            if dynamic.source_of(n) is not None
        ]
    return sorted(out)


def default_broker_entries(dynamic: Any) -> list[ConfigEntry]:
    """The cluster-wide dynamic settings (resource name ""), as Kafka describes that resource."""
    return sorted(
        ConfigEntry(n, v, False, DYNAMIC_DEFAULT_BROKER_CONFIG, STRING)
        for n, v in (dynamic.default if dynamic is not None else {}).items()
    )


def _entries(ctx: BrokerContext, resource: Any) -> list[ConfigEntry]:
    """The resource's entries; raises RequestRefusedError for a resource we cannot describe."""
    if resource.resource_type == TOPIC:
        topic = ctx.cache.topic(resource.resource_name)
        if topic is None:
            raise RequestRefusedError(
                ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, f"topic {resource.resource_name!r} does not exist"
            )
        return topic_config_entries(ctx.config, topic.configs, ctx.dynamic_config)
    if resource.resource_type == BROKER:
        if resource.resource_name == "":
            return default_broker_entries(ctx.dynamic_config)
        if resource.resource_name != str(ctx.config.broker_id):
            raise RequestRefusedError(
                ErrorCode.INVALID_REQUEST,
                f"this is broker {ctx.config.broker_id}, not {resource.resource_name!r}: ask that broker",
            )
        return broker_config_entries(ctx.config, ctx.dynamic_config)
    raise RequestRefusedError(
        ErrorCode.INVALID_REQUEST,
        f"resource type {resource.resource_type} cannot be described here (topics: 2, brokers: 4)",
    )


def _result(ctx: BrokerContext, resource: Any) -> Any:
    out = R.DescribeConfigsResult(
        error_code=0, error_message=None, resource_type=resource.resource_type, resource_name=resource.resource_name
    )
    try:
        entries = _entries(ctx, resource)
    except RequestRefusedError as refused:
        out.error_code, out.error_message = int(refused.code), refused.message
        return out
    keys = resource.configuration_keys
    out.configs = [
        R.DescribeConfigsResourceResult(
            name=e.name,
            value=e.value,
            read_only=e.read_only,
            is_default=e.config_source == DEFAULT_CONFIG,
            config_source=e.config_source,
            is_sensitive=False,
            config_type=e.config_type,
            documentation=None,
        )
        for e in entries
        if keys is None or e.name in keys
    ]
    return out


async def handle(ctx: BrokerContext, header: RequestHeader, body: Any) -> Reply:
    return Reply(R(results=[_result(ctx, r) for r in body.resources]))
