"""`Transaction`: a ZooKeeper multi built op by op and committed atomically.

`commit()` returns one entry per op: the created path, a Stat for set_data, True for
delete and check; if the multi failed, every entry is an exception (RolledBackError for
ops before the failing one, the failing op's own error, RuntimeInconsistencyError after
it), exactly as the server reports it. It never raises for an op's failure, so callers
see which op failed; transport failures (connection loss, expiry) do raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from coord.client.requests import create_request
from coord.protocol import records as R
from coord.protocol.errors import error_for
from coord.protocol.opcodes import OpCode

Send = Callable[[OpCode, Any], Awaitable[Any]]


class Transaction:
    def __init__(self, request: Send, acl_provider: Callable[[str], list[R.ACL]] | None = None) -> None:
        """`request` sends one op and returns its answer's body (CoordClient.request);
        `acl_provider` gives each create's ACL (None: world:anyone)."""
        self.request = request
        self.acl_provider = acl_provider
        self.ops: list[tuple[int, Any]] = []

    def create(
        self,
        path: str,
        value: bytes = b"",
        *,
        ephemeral: bool = False,
        sequence: bool = False,
        container: bool = False,
        ttl: float | None = None,
    ) -> Transaction:
        acl = self.acl_provider(path) if self.acl_provider is not None else None
        self.ops.append(create_request(path, value, ephemeral, sequence, container, ttl, acl))
        return self

    def delete(self, path: str, version: int = -1) -> Transaction:
        self.ops.append((OpCode.delete, R.DeleteRequest(path, version)))
        return self

    def set_data(self, path: str, value: bytes, version: int = -1) -> Transaction:
        self.ops.append((OpCode.setData, R.SetDataRequest(path, value, version)))
        return self

    def check(self, path: str, version: int) -> Transaction:
        self.ops.append((OpCode.check, R.CheckVersionRequest(path, version)))
        return self

    async def commit(self) -> list[Any]:
        body = await self.request(OpCode.multi, R.MultiRequest(self.ops))
        return [_result(res, rec.path) for res, (_, rec) in zip(body.results, self.ops, strict=False)]


def _result(res: Any, path: str) -> Any:
    if isinstance(res, R.ErrorResult):
        return error_for(res.err, path)
    if isinstance(res, (R.CreateResponse, R.Create2Response)):
        return res.path
    if isinstance(res, R.SetDataResponse):
        return res.stat
    return True
