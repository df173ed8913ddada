"""The opcode and request record of a create, whichever options it combines.

Shared by `CoordClient.create` and `Transaction.create`, so a create means the same thing
alone and inside a multi. This module must never send anything.
"""

from __future__ import annotations

from typing import Any

from coord.protocol import records as R
from coord.protocol.opcodes import CreateMode, OpCode


def create_request(
    path: str,
    value: bytes | None,
    ephemeral: bool,
    sequence: bool,
    container: bool = False,
    ttl: float | None = None,
    acl: list[R.ACL] | None = None,
) -> tuple[OpCode, Any]:
    """The opcode and record of a create with these options ."""
    acl = acl or R.OPEN_ACL_UNSAFE
    if container or ttl is not None:
        if ephemeral:
            raise ValueError("containers and TTL nodes cannot be ephemeral")
        if container:
            if sequence or ttl is not None:
                raise ValueError("a container cannot be sequential or have a TTL")
            return OpCode.createContainer, R.CreateRequest(path, value, acl, CreateMode.CONTAINER)
        mode = CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL if sequence else CreateMode.PERSISTENT_WITH_TTL
        return OpCode.createTTL, R.CreateTTLRequest(path, value, acl, mode, int(ttl * 1000))  # type: ignore[operator]  # a TTL is given on this path
    flags = (CreateMode.EPHEMERAL if ephemeral else 0) | (CreateMode.PERSISTENT_SEQUENTIAL if sequence else 0)
    return OpCode.create, R.CreateRequest(path, value, acl, flags)
