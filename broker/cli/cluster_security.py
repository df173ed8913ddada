"""How the cluster commands (`cluster`, `status`, `demo failover`) reach a secured cluster, with
the settings its servers and clients already have.

- Coord: the brokers' own TOML file (`--broker-config` / `--coord-config`): its zookeeper.*
  settings (TLS, the JAAS Client login) are how these commands open their coord sessions, as
  the brokers do (`broker.security.coord_link`).
- Brokers: Kafka's client properties (`--command-config`: security.protocol, ssl.*, sasl.*) for
  the admin, producer and consumer these commands run.
- SCRAM: a local cluster whose brokers log in to each other with SCRAM, or whose clients do,
  needs those users in coord before the brokers start; `scram_logins` names them from the same
  two files and `add_scram_logins` creates them, as `pybroker users add` would.

This module must never start or signal a process; it only turns files into settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from broker.config import load_config
from broker.security.coord_link import coord_link
from broker.security.credentials import set_credential
from broker.security.settings import setting
from client.jaas import parse_jaas_options
from client.scram import HASHES
from client.security import from_properties, read_properties
from coord.client import CoordClient

Login = tuple[str, str, str]  # (user, password, SCRAM mechanism)


def coord_options(broker_config: str | Path | None) -> dict[str, Any]:
    """CoordClient keyword arguments from a broker TOML file's zookeeper.* settings ({} without one)."""
    return coord_link(load_config(Path(broker_config))).client_options() if broker_config else {}


def client_settings(command_config: str | Path | None) -> dict[str, Any]:
    """The clients' security keyword arguments from Kafka client properties ({} without them)."""
    return from_properties(read_properties(Path(command_config))).settings() if command_config else {}


def scram_logins(broker_config: str | Path | None, command_config: str | Path | None, listener: str) -> list[Login]:
    """The SCRAM users a cluster configured by these files logs in as: the brokers' inter-broker
    login on `listener` (its JAAS username/password), and the clients' (sasl.jaas.config or
    sasl.username/sasl.password)."""
    logins: list[Login] = []
    if broker_config:
        config = load_config(Path(broker_config))
        mechanism = config.sasl_mechanism_inter_broker_protocol
        jaas = setting(config, listener, "sasl.jaas.config", mechanism)
        if mechanism in HASHES and jaas:
            options = parse_jaas_options(jaas)
            if "username" in options and "password" in options:
                logins.append((options["username"], options["password"], mechanism))
    settings = client_settings(command_config)
    if settings.get("sasl_mechanism") in HASHES and settings.get("sasl_plain_username"):
        logins.append(
            (
                str(settings["sasl_plain_username"]),
                str(settings["sasl_plain_password"] or ""),
                str(settings["sasl_mechanism"]),
            )
        )
    return logins


async def add_scram_logins(client: CoordClient, logins: list[Login]) -> None:
    for user, password, mechanism in logins:
        await set_credential(client, user, mechanism, password)


def add_secured_cluster_flags(parser: Any) -> None:
    """The flags of `cluster up` and `demo failover` that describe a secured cluster."""
    parser.add_argument(
        "--listener-protocol",
        default="PLAINTEXT",
        type=str.upper,
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
        help="every broker's one listener (default PLAINTEXT); with another, give its TLS/SASL "
        "settings in --broker-config",
    )
    parser.add_argument(
        "--broker-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="Kafka broker settings (TOML) added to every broker's file; its zookeeper.* settings "
        "are also how this command reaches coord",
    )
    parser.add_argument(
        "--command-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="client properties (security.protocol, ssl.*, sasl.*) for this command's clients",
    )
    parser.add_argument(
        "--coord-option",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="a ZooKeeper server setting for every coord member (as `coord start -D`, repeatable); "
        "with ssl.keyStore.location each member gets a secureClientPort and clients use it",
    )
    parser.add_argument(
        "--coord-jaas",
        type=Path,
        default=None,
        metavar="FILE",
        help="every coord member's JAAS file (the Server section's DIGEST-MD5 users)",
    )


def secured_plan(args: Any) -> dict[str, Any]:
    """`plan_cluster`'s keyword arguments from those flags."""
    return {
        "listener_protocol": args.listener_protocol,
        "broker_config": args.broker_config,
        "command_config": args.command_config,
        "coord_options": args.coord_option,
        "coord_jaas": args.coord_jaas,
    }
