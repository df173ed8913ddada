"""SCRAM credentials kept in coord as Kafka keeps them in ZooKeeper: /config/users/<user> holds
{"version":1,"config":{"SCRAM-SHA-256":"salt=...,stored_key=...,server_key=...,iterations=4096"}}.

The broker reads a user's node when that user authenticates (one read per login, so a
credential changed or deleted by `pybroker users` takes effect at the next login with no
cache to invalidate). `set_credential` / `delete_credential` / `list_users` are what
`pybroker users` runs. This module must never see a password except to derive its credential.
"""

from __future__ import annotations

import logging
from typing import Any

from client.scram import HASHES, MIN_ITERATIONS, ScramCredential, credential
from coord.protocol.errors import BadVersionError, NoNodeError, NodeExistsError

from broker.metadata import znodes as Z
from broker.security.scram_server import format_credential, parse_credential

log = logging.getLogger(__name__)


class CoordCredentials:
    """The SCRAM lookup of a running broker."""

    def __init__(self, coord: Any) -> None:
        self.coord = coord

    async def lookup(self, mechanism: str, user: str) -> ScramCredential | None:
        if not user or "/" in user:
            return None
        try:
            data, _ = await self.coord.get(Z.user_config_path(user))
        except NoNodeError:
            return None
        text = Z.decode_user_config(data).get(mechanism)
        if text is None:
            return None
        try:
            return parse_credential(text)
        except ValueError as exc:
            log.warning("the %s credential of user %s in coord is unreadable (%s); refusing the login",
                        mechanism, user, exc)
            return None


def _check_user(user: str) -> None:
    if not user or "/" in user or user in (".", ".."):
        raise ValueError(f"user name {user!r}: must be non-empty and contain no '/'")


async def set_credential(coord: Any, user: str, mechanism: str, password: str,
                         iterations: int = MIN_ITERATIONS) -> None:
    """Add or replace `user`'s credential for `mechanism` (others of the user are kept)."""
    _check_user(user)
    if mechanism not in HASHES:
        raise ValueError(f"mechanism {mechanism!r}: expected one of {', '.join(HASHES)}")
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"iterations {iterations}: Kafka requires at least {MIN_ITERATIONS}")
    path = Z.user_config_path(user)
    text = format_credential(credential(mechanism, password, iterations))
    while True:
        try:
            data, stat = await coord.get(path)
        except NoNodeError:
            try:
                await coord.create(path, Z.encode_user_config({mechanism: text}), makepath=True)
                return
            except NodeExistsError:
                continue
        configs = Z.decode_user_config(data)
        configs[mechanism] = text
        try:
            await coord.set(path, Z.encode_user_config(configs), version=stat.version)
            return
        except BadVersionError:   # changed meanwhile: read it again
            continue


async def delete_credential(coord: Any, user: str, mechanism: str | None = None) -> bool:
    """Remove `user`'s credential for `mechanism` (all of them if None); False if none was there."""
    _check_user(user)
    path = Z.user_config_path(user)
    try:
        data, stat = await coord.get(path)
    except NoNodeError:
        return False
    configs = Z.decode_user_config(data)
    names = list(HASHES) if mechanism is None else [mechanism]
    if not any(configs.pop(n, None) for n in names):
        return False
    await coord.set(path, Z.encode_user_config(configs), version=stat.version)
    return True


async def list_users(coord: Any) -> dict[str, list[str]]:
    """Each user under /config/users with the SCRAM mechanisms it has credentials for."""
    try:
        users = await coord.get_children(Z.CONFIG_USERS)
    except NoNodeError:
        return {}
    out = {}
    for user in sorted(users):
        try:
            data, _ = await coord.get(Z.user_config_path(user))
        except NoNodeError:
            continue
        out[user] = sorted(k for k in Z.decode_user_config(data) if k in HASHES)
    return out
