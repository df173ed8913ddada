"""Broker configuration: one dataclass, Kafka's names and defaults, TOML file support.

Every setting has Kafka's default where Kafka has the setting, and can be given in a TOML
file either by its Kafka name (`"log.retention.ms" = 60000`) or by its field name
(`log_retention_ms = 60000`). Command-line flags override the file. This module must
never open sockets or files other than the one TOML file it is asked to read.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.security.listeners import ListenerError, parse_listeners, protocol_map


class ConfigError(ValueError):
    """A configuration file or value a user must fix; the message says which and why."""


@dataclass
class BrokerConfig:
    broker_id: int = 1  # broker.id
    host: str = "127.0.0.1"  # listeners host (bind address)
    port: int = 9092  # listeners port
    advertised_host: str | None = None  # advertised.listeners host (default: host)
    advertised_port: int | None = None  # advertised.listeners port (default: the bound port)
    rack: str | None = None  # broker.rack
    data_dir: Path = Path("pybroker-data")  # log.dir: the broker's directory (lock, default log dir)
    log_dirs: str = ""  # log.dirs: comma-separated log directories (default: data_dir)
    coord_connect: str = "127.0.0.1:2181"  # zookeeper.connect
    coord_session_timeout_ms: int = 18000  # zookeeper.session.timeout.ms
    socket_request_max_bytes: int = 104857600  # socket.request.max.bytes
    queued_max_requests: int = 500  # queued.max.requests (per connection, see docs)
    queued_max_request_bytes: int = -1  # queued.max.request.bytes (-1: no bound)
    connections_max_idle_ms: int = 600000  # connections.max.idle.ms
    max_connections: int = 2147483647  # max.connections
    max_connections_per_ip: int = 2147483647  # max.connections.per.ip
    max_connections_per_ip_overrides: str = ""  # max.connections.per.ip.overrides ("host:N,...")
    num_partitions: int = 1  # num.partitions
    default_replication_factor: int = 1  # default.replication.factor
    auto_create_topics_enable: bool = True  # auto.create.topics.enable
    delete_topic_enable: bool = True  # delete.topic.enable
    message_max_bytes: int = 1048588  # message.max.bytes
    fetch_max_bytes: int = 57671680  # fetch.max.bytes (broker cap, 55 MiB)
    log_segment_bytes: int = 1073741824  # log.segment.bytes
    log_roll_ms: int = 7 * 24 * 3600 * 1000  # log.roll.ms
    log_retention_ms: int = 7 * 24 * 3600 * 1000  # log.retention.ms (168 hours)
    log_retention_bytes: int = -1  # log.retention.bytes
    log_cleanup_policy: str = "delete"  # log.cleanup.policy (topics' cleanup.policy default)
    log_flush_interval_messages: int | None = None  # log.flush.interval.messages (never)
    log_flush_interval_ms: int | None = None  # log.flush.interval.ms (never)
    log_flush_scheduler_interval_ms: int = 1000  # how often flush.ms is checked
    log_retention_check_interval_ms: int = 300000  # log.retention.check.interval.ms
    max_open_files: int = 1024  # our FileHandleCache size
    # consumer groups
    offsets_topic_num_partitions: int = 10  # offsets.topic.num.partitions (Kafka: 50)
    offsets_topic_replication_factor: int = 3  # offsets.topic.replication.factor (capped by live brokers)
    offsets_topic_segment_bytes: int = 104857600  # offsets.topic.segment.bytes
    offsets_retention_minutes: int = 10080  # offsets.retention.minutes
    group_initial_rebalance_delay_ms: int = 3000  # group.initial.rebalance.delay.ms
    group_min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    group_max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    log_cleaner_backoff_ms: int = 15000  # log.cleaner.backoff.ms (compaction pass interval)
    log_cleaner_delete_retention_ms: int = 86400000  # log.cleaner.delete.retention.ms
    min_insync_replicas: int = 1  # min.insync.replicas (topic config overrides)
    replica_lag_time_max_ms: int = 30000  # replica.lag.time.max.ms
    replica_fetch_wait_max_ms: int = 500  # replica.fetch.wait.max.ms
    replica_fetch_max_bytes: int = 1048576  # replica.fetch.max.bytes (per partition)
    replica_fetch_backoff_ms: int = 1000  # replica.fetch.backoff.ms
    replica_socket_timeout_ms: int = 30000  # replica.socket.timeout.ms
    replica_high_watermark_checkpoint_interval_ms: int = 5000  # replica.high.watermark.checkpoint.interval.ms
    unclean_leader_election_enable: bool = False  # unclean.leader.election.enable
    controller_socket_timeout_ms: int = 30000  # controller.socket.timeout.ms
    controlled_shutdown_enable: bool = True  # controlled.shutdown.enable
    controlled_shutdown_max_retries: int = 3  # controlled.shutdown.max.retries
    controlled_shutdown_retry_backoff_ms: int = 1000  # controlled.shutdown.retry.backoff.ms (Kafka: 5000)
    auto_leader_rebalance_enable: bool = True  # auto.leader.rebalance.enable
    leader_imbalance_check_interval_seconds: int = 300  # leader.imbalance.check.interval.seconds
    # listeners and security; see broker/security/ and docs/operations.md
    listeners: str | None = None  # listeners, when not one PLAINTEXT (host/port)
    advertised_listeners: str | None = None  # advertised.listeners, likewise
    listener_security_protocol_map: str | None = None  # listener.security.protocol.map (Kafka's default)
    inter_broker_listener_name: str | None = None  # inter.broker.listener.name
    ssl_keystore_type: str = "PEM"  # ssl.keystore.type (PEM only)
    ssl_keystore_location: str | None = None  # ssl.keystore.location (PEM: key and chain)
    ssl_keystore_certificate_chain: str | None = None  # ssl.keystore.certificate.chain (PEM text)
    ssl_keystore_key: str | None = None  # ssl.keystore.key (PEM text)
    ssl_key_password: str | None = None  # ssl.key.password
    ssl_truststore_type: str = "PEM"  # ssl.truststore.type (PEM only)
    ssl_truststore_location: str | None = None  # ssl.truststore.location (PEM file)
    ssl_truststore_certificates: str | None = None  # ssl.truststore.certificates (PEM text)
    ssl_client_auth: str = "none"  # ssl.client.auth: required, requested, none
    ssl_endpoint_identification_algorithm: str = "https"  # ssl.endpoint.identification.algorithm ("" = off)
    sasl_enabled_mechanisms: str = "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN"  # sasl.enabled.mechanisms (Kafka: GSSAPI)
    sasl_mechanism_inter_broker_protocol: str = "PLAIN"  # sasl.mechanism.inter.broker.protocol (Kafka: GSSAPI)
    sasl_jaas_config: str | None = None  # sasl.jaas.config
    connections_max_reauth_ms: int = 0  # connections.max.reauth.ms (KIP-368; 0 = sessions never end)
    authorizer_class_name: str | None = None  # authorizer.class.name (any value: ACLs on)
    super_users: str | None = None  # super.users ("User:a;User:b")
    allow_everyone_if_no_acl_found: bool = False  # allow.everyone.if.no.acl.found
    listener_settings: dict[str, str] = field(default_factory=dict)  # listener.name.<l>.<setting>
    # how this broker reaches coord (Kafka's ZooKeeper-client names; see broker/security/coord_link.py)
    zookeeper_ssl_client_enable: bool = False  # zookeeper.ssl.client.enable
    zookeeper_client_cnxn_socket: str | None = None  # zookeeper.clientCnxnSocket (Netty or NIO: accepted, unused)
    zookeeper_ssl_keystore_location: str | None = None  # zookeeper.ssl.keystore.location (PEM: key and chain)
    zookeeper_ssl_keystore_password: str | None = None  # zookeeper.ssl.keystore.password (the PEM key's password)
    zookeeper_ssl_keystore_type: str = "PEM"  # zookeeper.ssl.keystore.type (PEM only)
    zookeeper_ssl_truststore_location: str | None = None  # zookeeper.ssl.truststore.location (PEM CA certificates)
    zookeeper_ssl_truststore_password: str | None = None  # zookeeper.ssl.truststore.password (unused by PEM)
    zookeeper_ssl_truststore_type: str = "PEM"  # zookeeper.ssl.truststore.type (PEM only)
    zookeeper_ssl_endpoint_identification_algorithm: str = "HTTPS"  # ("" = no host name check)
    zookeeper_ssl_protocol: str = "TLSv1.2"  # zookeeper.ssl.protocol (the lowest version offered)
    zookeeper_set_acl: bool = False  # zookeeper.set.acl
    java_security_auth_login_config: str | None = None  # the JAAS file (Java's -Djava.security.auth.login.config)
    zookeeper_sasl_client: bool = True  # zookeeper.sasl.client (use the JAAS Client section)
    zookeeper_sasl_clientconfig: str = "Client"  # zookeeper.sasl.clientconfig (that section's name)

    def log_directories(self) -> list[Path]:
        """Where partition logs live: every directory of `log.dirs`, else `data_dir` alone."""
        named = [Path(d.strip()) for d in self.log_dirs.split(",") if d.strip()]
        return list(dict.fromkeys(named)) or [Path(self.data_dir)]

    def with_overrides(self, **overrides: Any) -> BrokerConfig:
        """A copy with every non-None override applied (command-line flags). Address flags
        describe one PLAINTEXT listener, so they cannot be mixed with `listeners` from a file."""
        given = {k: v for k, v in overrides.items() if v is not None}
        flags = sorted(set(given) & {"host", "port", "advertised_host", "advertised_port"})
        if flags and (self.listeners or self.advertised_listeners):
            raise ConfigError(
                f"the config file sets listeners; leave out the address flags ({', '.join(flags)}) "
                "or describe every listener in the file"
            )
        return dataclasses.replace(self, **given)


_FIELDS = {f.name: f for f in dataclasses.fields(BrokerConfig)}
# Kafka spellings of our fields (the rest map by replacing "." with "_").
_KAFKA_NAMES = {
    "broker.id": "broker_id",
    "broker.rack": "rack",
    "log.dirs": "log_dirs",
    "log.dir": "data_dir",
    "zookeeper.connect": "coord_connect",
    "zookeeper.session.timeout.ms": "coord_session_timeout_ms",
    "zookeeper.clientCnxnSocket": "zookeeper_client_cnxn_socket",
}


WILDCARDS = ("0.0.0.0", "::", "[::]")


def parse_address(value: str, what: str) -> tuple[str, int]:
    """(host, port) from `HOST:PORT`, Kafka's `PLAINTEXT://HOST:PORT` accepted."""
    address = value.removeprefix("PLAINTEXT://")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what} {value!r}: expected HOST:PORT, e.g. 10.0.0.1:9092")
    return host, int(port)


def _single_plaintext(value: str) -> bool:
    return "," not in value and ("://" not in value or value.upper().startswith("PLAINTEXT://"))


def _listener_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Kafka's `listeners` / `advertised.listeners`: one PLAINTEXT listener as our host/port
    fields (what the --listen and --advertise flags set); anything else kept as given, with
    host/port taken from the first listener (the address `pybroker start` checks is free)."""
    values: dict[str, Any] = {}
    given = {k: raw[k] for k in ("listeners", "advertised.listeners") if k in raw}
    for key, value in given.items():
        if not isinstance(value, str):
            raise ConfigError(f'{key} must be a string such as "PLAINTEXT://127.0.0.1:9092", not {value!r}')
    if all(_single_plaintext(v) for v in given.values()):
        if "listeners" in given:
            values["host"], values["port"] = parse_address(given["listeners"], "listeners")
        if "advertised.listeners" in given:
            values["advertised_host"], values["advertised_port"] = parse_address(
                given["advertised.listeners"], "advertised.listeners"
            )
        return values
    try:
        protocols = protocol_map(raw.get("listener.security.protocol.map"))
        first = parse_listeners(given.get("listeners", "PLAINTEXT://127.0.0.1:9092"), protocols)[0]
    except ListenerError as exc:
        raise ConfigError(str(exc)) from None
    values.update(
        host=first.host,
        port=first.port,
        listeners=given.get("listeners"),
        advertised_listeners=given.get("advertised.listeners"),
    )
    return values


def _field_for(key: str) -> str:
    name = _KAFKA_NAMES.get(key, key.replace(".", "_").replace("-", "_"))
    if name not in _FIELDS:
        raise ConfigError(f"unknown broker setting {key!r}")
    return name


def _coerce(name: str, value: Any) -> Any:
    if name == "data_dir":
        return Path(value)
    if name == "log_dirs":  # Kafka's comma-separated string, or a TOML list
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ",".join(value)
        if not isinstance(value, str):
            raise ConfigError(f"log.dirs must be a comma-separated string or a list of paths, not {value!r}")
        return value
    default = _FIELDS[name].default
    if name == "advertised_port":
        default = 0
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
        return value
    if isinstance(default, int) or name.startswith("log_flush_interval"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    return value


def load_config(path: Path | None, **overrides: Any) -> BrokerConfig:
    """Defaults, then the TOML file (if any), then non-None `overrides`."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        values.update(_listener_values(raw))
        for key, value in raw.items():
            if key in ("listeners", "advertised.listeners"):
                continue
            if key.startswith("listener.name."):
                values.setdefault("listener_settings", {})[key] = str(value)
                continue
            name = _field_for(key)
            values[name] = _coerce(name, value)
    for name in ("port", "advertised_port"):  # else bind() fails later with an OverflowError
        if values.get(name) is not None and not 0 <= values[name] <= 65535:
            raise ConfigError(f"{name} {values[name]} in {path} is not a port number (0..65535)")
    return dataclasses.replace(BrokerConfig(), **values).with_overrides(**overrides)
