"""SCRAM credentials kept in coord as Kafka keeps them in ZooKeeper: /config/users/<user> holds
{"version":1,"config":{"SCRAM-SHA-256":"salt=...,stored_key=...,server_key=...,iterations=4096"}}.

The broker reads a user's node when that user authenticates (one read per login, so a
credential changed or deleted by `pybroker users` takes effect at the next login with no
cache to invalidate). `pybroker users` and the AlterUserScramCredentials /
DescribeUserScramCredentials APIs both go through `alter_user` and `user_credentials`.
This module must never see a password except to derive its credential.
"""

from __future__ import annotations

import logging
from typing import Any

from broker.metadata import znodes as Z
from broker.security.scram_server import format_credential, parse_credential
from client.scram import HASHES, MAX_ITERATIONS, MIN_ITERATIONS, ScramCredential, credential
from coord.protocol.errors import BadVersionError, NodeExistsError, NoNodeError

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
            log.warning(
                "the %s credential of user %s in coord is unreadable (%s); refusing the login", mechanism, user, exc
            )
            return None


def _check_user(user: str) -> None:
    if not user or "/" in user or user in (".", ".."):
        raise ValueError(f"user name {user!r}: must be non-empty and contain no '/'")


def check_credential(mechanism: str, iterations: int) -> None:
    """ValueError unless `mechanism` is one we keep and `iterations` is within Kafka's bounds."""
    if mechanism not in HASHES:
        raise ValueError(f"mechanism {mechanism!r}: expected one of {', '.join(HASHES)}")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations {iterations}: Kafka requires {MIN_ITERATIONS} to {MAX_ITERATIONS}")


Changes = dict[str, ScramCredential | None]  # mechanism -> new credential, or None to delete it


async def alter_user(coord: Any, user: str, changes: Changes, *, require_present: bool = False) -> set[str]:
    """Apply `changes` to `user`'s credentials in one conditional write (re-read and re-applied
    if the node changed meanwhile); returns the mechanisms deleted that were not there, or with
    `require_present` raises LookupError naming them and writes nothing. What `pybroker users`
    and AlterUserScramCredentials both run, so a credential is one thing."""
    _check_user(user)
    for mechanism, cred in changes.items():
        if cred is not None:
            check_credential(mechanism, cred.iterations)
    path = Z.user_config_path(user)
    while True:
        try:
            data, stat = await coord.get(path)
            configs = Z.decode_user_config(data)
        except NoNodeError:
            stat, configs = None, {}
        absent = {m for m, cred in changes.items() if cred is None and m not in configs}
        if absent and require_present:
            raise LookupError(f"user {user!r} has no {', '.join(sorted(absent))} credential to delete")
        for mechanism, cred in changes.items():
            if cred is None:
                configs.pop(mechanism, None)
            else:
                configs[mechanism] = format_credential(cred)
        try:
            if stat is None:
                if len(absent) < len(changes):
                    await coord.create(path, Z.encode_user_config(configs), makepath=True)
            else:
                await coord.set(path, Z.encode_user_config(configs), version=stat.version)
            return absent
        except (BadVersionError, NodeExistsError, NoNodeError):  # changed meanwhile: read it again
            continue


async def set_credential(
    coord: Any, user: str, mechanism: str, password: str, iterations: int = MIN_ITERATIONS
) -> None:
    """Add or replace `user`'s credential for `mechanism` (others of the user are kept)."""
    check_credential(mechanism, iterations)
    await alter_user(coord, user, {mechanism: credential(mechanism, password, iterations)})


async def delete_credential(coord: Any, user: str, mechanism: str | None = None) -> bool:
    """Remove `user`'s credential for `mechanism` (all of them if None); False if none was there."""
    names = list(HASHES) if mechanism is None else [mechanism]
    return len(await alter_user(coord, user, dict.fromkeys(names))) < len(names)


async def user_credentials(coord: Any, user: str) -> dict[str, int]:
    """`user`'s SCRAM mechanisms with their iteration counts (empty: no credentials)."""
    try:
        data, _ = await coord.get(Z.user_config_path(user))
    except NoNodeError:
        return {}
    out = {}
    for mechanism, text in Z.decode_user_config(data).items():
        if mechanism in HASHES:
            try:
                out[mechanism] = parse_credential(text).iterations
            except ValueError:
                log.warning("the %s credential of user %s in coord is unreadable", mechanism, user)
    return dict(sorted(out.items()))


async def list_users(coord: Any) -> dict[str, dict[str, int]]:
    """Each user under /config/users with its SCRAM mechanisms and their iteration counts."""
    try:
        users = await coord.get_children(Z.CONFIG_USERS)
    except NoNodeError:
        return {}
    return {user: await user_credentials(coord, user) for user in sorted(users)}
