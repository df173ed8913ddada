"""Every ZooKeeper 3.8 client-protocol record, encodable and decodable in both directions.

Each record is a NamedTuple whose fields carry ZooKeeper's own names (`lastZxidSeen`,
`cversion`), declared with `@jute(...)` (coord.protocol.jute) giving each field's jute type;
the decorator attaches `encode(writer)`, `decode(reader)`, `to_bytes()` and
`from_bytes(data)`. Records made only of fixed-size numbers get one precompiled struct.
`OPS` maps each opcode to its (request, response) record so the server and the client
look bodies up in the same table. multi / multiRead bodies have no count prefix and end
with a marker, so they are coded by hand below.

This module must never do I/O or hold state; a decode failure is `MarshallingError`.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Self

from coord.protocol.jute import JuteReader, JuteWriter, MarshallingError, jute, vector, with_bytes_methods
from coord.protocol.opcodes import OpCode

# -- headers, handshake, common records ------------------------------------------------


@jute("int", "long", "int", "long", "buffer", optional_bool_tail=True)
class ConnectRequest(NamedTuple):
    protocolVersion: int
    lastZxidSeen: int
    timeOut: int
    sessionId: int
    passwd: bytes | None
    readOnly: bool | None = False


@jute("int", "int", "long", "buffer", optional_bool_tail=True)
class ConnectResponse(NamedTuple):
    protocolVersion: int
    timeOut: int
    sessionId: int
    passwd: bytes | None
    readOnly: bool | None = False


@jute("int", "int")
class RequestHeader(NamedTuple):
    xid: int
    type: int


@jute("int", "long", "int")
class ReplyHeader(NamedTuple):
    xid: int
    zxid: int
    err: int


@jute("long", "long", "long", "long", "int", "int", "int", "long", "int", "int", "long")
class Stat(NamedTuple):
    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeralOwner: int
    dataLength: int
    numChildren: int
    pzxid: int


@jute("ustring", "ustring")
class Id(NamedTuple):
    scheme: str | None
    id: str | None


@jute("int", Id)
class ACL(NamedTuple):
    perms: int
    id: Id


OPEN_ACL_UNSAFE = [ACL(31, Id("world", "anyone"))]


@jute("int", "int", "ustring")
class WatcherEvent(NamedTuple):
    type: int
    state: int
    path: str | None


@jute("int", "bool", "int")
class MultiHeader(NamedTuple):
    type: int
    done: bool
    err: int


@jute("ustring", "ustring")
class ClientInfo(NamedTuple):
    authScheme: str | None
    user: str | None


# -- request and response bodies -------------------------------------------------------


@jute("ustring", "buffer", vector(ACL), "int")
class CreateRequest(NamedTuple):
    path: str
    data: bytes | None
    acl: list[ACL] | None
    flags: int


@jute("ustring", "buffer", vector(ACL), "int", "long")
class CreateTTLRequest(NamedTuple):
    path: str
    data: bytes | None
    acl: list[ACL] | None
    flags: int
    ttl: int


@jute("ustring")
class CreateResponse(NamedTuple):
    path: str | None


@jute("ustring", Stat)
class Create2Response(NamedTuple):
    path: str | None
    stat: Stat


@jute("ustring", "int")
class DeleteRequest(NamedTuple):
    path: str
    version: int


@jute("ustring", "bool")
class ExistsRequest(NamedTuple):
    path: str
    watch: bool


@jute(Stat)
class ExistsResponse(NamedTuple):
    stat: Stat


@jute("ustring", "bool")
class GetDataRequest(NamedTuple):
    path: str
    watch: bool


@jute("buffer", Stat)
class GetDataResponse(NamedTuple):
    data: bytes | None
    stat: Stat


@jute("ustring", "buffer", "int")
class SetDataRequest(NamedTuple):
    path: str
    data: bytes | None
    version: int


@jute(Stat)
class SetDataResponse(NamedTuple):
    stat: Stat


@jute("ustring")
class GetACLRequest(NamedTuple):
    path: str


@jute(vector(ACL), Stat)
class GetACLResponse(NamedTuple):
    acl: list[ACL] | None
    stat: Stat


@jute("ustring", vector(ACL), "int")
class SetACLRequest(NamedTuple):
    path: str
    acl: list[ACL] | None
    version: int


@jute(Stat)
class SetACLResponse(NamedTuple):
    stat: Stat


@jute("ustring", "bool")
class GetChildrenRequest(NamedTuple):
    path: str
    watch: bool


@jute(vector("ustring"))
class GetChildrenResponse(NamedTuple):
    children: list[str] | None


@jute("ustring", "bool")
class GetChildren2Request(NamedTuple):
    path: str
    watch: bool


@jute(vector("ustring"), Stat)
class GetChildren2Response(NamedTuple):
    children: list[str] | None
    stat: Stat


@jute("ustring")
class SyncRequest(NamedTuple):
    path: str


@jute("ustring")
class SyncResponse(NamedTuple):
    path: str | None


@jute("ustring", "int")
class CheckVersionRequest(NamedTuple):
    path: str
    version: int


@jute("ustring", "int")
class CheckWatchesRequest(NamedTuple):
    path: str
    type: int


@jute("ustring", "int")
class RemoveWatchesRequest(NamedTuple):
    path: str
    type: int


@jute("int", "ustring", "buffer")
class AuthPacket(NamedTuple):
    type: int
    scheme: str | None
    auth: bytes | None


@jute("long", vector("ustring"), vector("ustring"), vector("ustring"))
class SetWatches(NamedTuple):
    relativeZxid: int
    dataWatches: list[str] | None
    existWatches: list[str] | None
    childWatches: list[str] | None


@jute("long", vector("ustring"), vector("ustring"), vector("ustring"), vector("ustring"), vector("ustring"))
class SetWatches2(NamedTuple):
    relativeZxid: int
    dataWatches: list[str] | None
    existWatches: list[str] | None
    childWatches: list[str] | None
    persistentWatches: list[str] | None
    persistentRecursiveWatches: list[str] | None


@jute("buffer")
class GetSASLRequest(NamedTuple):
    token: bytes | None


@jute("buffer")
class SetSASLResponse(NamedTuple):
    token: bytes | None


@jute("ustring")
class GetEphemeralsRequest(NamedTuple):
    prefixPath: str | None


@jute(vector("ustring"))
class GetEphemeralsResponse(NamedTuple):
    ephemerals: list[str] | None


@jute("ustring")
class GetAllChildrenNumberRequest(NamedTuple):
    path: str


@jute("int")
class GetAllChildrenNumberResponse(NamedTuple):
    totalNumber: int


@jute("ustring", "int")
class AddWatchRequest(NamedTuple):
    path: str
    mode: int


@jute("int")
class ErrorResponse(NamedTuple):
    err: int


@jute(vector(ClientInfo))
class WhoAmIResponse(NamedTuple):
    clientInfo: list[ClientInfo] | None


@jute()
class DeleteResult(NamedTuple):
    """Result of a delete inside multi: no body."""


@jute()
class CheckResult(NamedTuple):
    """Result of a check inside multi: no body."""


# Inside multi replies, results reuse the single-op response records.
CreateResult = CreateResponse
Create2Result = Create2Response
SetDataResult = SetDataResponse
ErrorResult = ErrorResponse


# -- multi / multiRead -----------------------------------------------------------------

_HEADER: Any = MultiHeader  # with the encode/decode @jute gave it, which mypy cannot see
_END = _HEADER(-1, True, -1)

# Record classes are typed Any in the tables below: @jute gives them encode/decode, which mypy cannot see.

# Sub-operations allowed in a multi (14) and a multiRead (22) request.
MULTI_WRITE_OPS: dict[int, Any] = {
    OpCode.create: CreateRequest,
    OpCode.create2: CreateRequest,
    OpCode.createContainer: CreateRequest,
    OpCode.createTTL: CreateTTLRequest,
    OpCode.delete: DeleteRequest,
    OpCode.setData: SetDataRequest,
    OpCode.check: CheckVersionRequest,
}
MULTI_READ_OPS: dict[int, Any] = {
    OpCode.getChildren: GetChildrenRequest,
    OpCode.getData: GetDataRequest,
}
# Result body record by MultiHeader.type, and back.
RESULT_RECORDS: dict[int, Any] = {
    OpCode.create: CreateResponse,
    OpCode.create2: Create2Response,
    OpCode.setData: SetDataResponse,
    OpCode.delete: DeleteResult,
    OpCode.check: CheckResult,
    OpCode.getData: GetDataResponse,
    OpCode.getChildren: GetChildrenResponse,
    OpCode.error: ErrorResponse,
}
RESULT_TYPES: dict[Any, int] = {cls: int(t) for t, cls in RESULT_RECORDS.items()}


def _encode_ops(w: JuteWriter, ops: list[tuple[int, Any]], allowed: dict[int, Any]) -> None:
    for op, rec in ops:
        if allowed.get(op) is not type(rec):
            raise MarshallingError(f"{type(rec).__name__} cannot be sub-op {op} here")
        _HEADER(int(op), False, -1).encode(w)
        rec.encode(w)
    _END.encode(w)


def _decode_ops(r: JuteReader, allowed: dict[int, Any]) -> list[tuple[int, Any]]:
    ops: list[tuple[int, Any]] = []
    while True:
        header = _HEADER.decode(r)
        if header.done:
            return ops
        cls = allowed.get(header.type)
        if cls is None:
            raise MarshallingError(f"opcode {header.type} is not allowed in this multi")
        ops.append((header.type, cls.decode(r)))


class MultiRequest(NamedTuple):
    """multi (14): `ops` is a list of (sub-op OpCode, request record)."""

    ops: list[tuple[int, Any]]

    @staticmethod
    def allowed() -> dict[int, Any]:
        return MULTI_WRITE_OPS

    def encode(self, w: JuteWriter) -> None:
        _encode_ops(w, self.ops, self.allowed())

    @classmethod
    def decode(cls, r: JuteReader) -> Self:
        return cls(_decode_ops(r, cls.allowed()))


class MultiReadRequest(MultiRequest):
    """multiRead (22): `ops` is a list of (getData or getChildren, request record)."""

    @staticmethod
    def allowed() -> dict[int, Any]:
        return MULTI_READ_OPS


def decode_multi_request(r: JuteReader) -> list[tuple[int, Any]]:
    return MultiRequest.decode(r).ops


def decode_multi_read_request(r: JuteReader) -> list[tuple[int, Any]]:
    return MultiReadRequest.decode(r).ops


def _encode_results(w: JuteWriter, results: list[Any]) -> None:
    for res in results:
        rtype = RESULT_TYPES.get(type(res))
        if rtype is None:
            raise MarshallingError(f"{type(res).__name__} is not a multi result")
        _HEADER(rtype, False, res.err if rtype == OpCode.error else 0).encode(w)
        res.encode(w)
    _END.encode(w)


def _decode_results(r: JuteReader) -> list[Any]:
    results: list[Any] = []
    while True:
        header = _HEADER.decode(r)
        if header.done:
            return results
        cls = RESULT_RECORDS.get(header.type)
        if cls is None:
            raise MarshallingError(f"unknown multi result type {header.type}")
        results.append(cls.decode(r))


class MultiResponse(NamedTuple):
    """Reply to multi: one result record per op (ErrorResult for each op of a failed
    multi: 0 = rolled back, the failing op's code, -2 = not tried)."""

    results: list[Any]

    def encode(self, w: JuteWriter) -> None:
        _encode_results(w, self.results)

    @classmethod
    def decode(cls, r: JuteReader) -> Any:
        return cls(_decode_results(r))


class MultiReadResponse(MultiResponse):
    """Reply to multiRead: GetDataResponse / GetChildrenResponse / ErrorResult per op."""


with_bytes_methods(MultiRequest)
with_bytes_methods(MultiResponse)


# -- the opcode table both sides use -----------------------------------------------------

# OpCode -> (request body record, response body record); None = no body.
OPS: dict[int, tuple[Any, Any]] = {
    OpCode.create: (CreateRequest, CreateResponse),
    OpCode.create2: (CreateRequest, Create2Response),
    OpCode.createContainer: (CreateRequest, Create2Response),
    OpCode.createTTL: (CreateTTLRequest, Create2Response),
    OpCode.delete: (DeleteRequest, None),
    OpCode.exists: (ExistsRequest, ExistsResponse),
    OpCode.getData: (GetDataRequest, GetDataResponse),
    OpCode.setData: (SetDataRequest, SetDataResponse),
    OpCode.getACL: (GetACLRequest, GetACLResponse),
    OpCode.setACL: (SetACLRequest, SetACLResponse),
    OpCode.getChildren: (GetChildrenRequest, GetChildrenResponse),
    OpCode.getChildren2: (GetChildren2Request, GetChildren2Response),
    OpCode.sync: (SyncRequest, SyncResponse),
    OpCode.ping: (None, None),
    OpCode.check: (CheckVersionRequest, None),
    OpCode.multi: (MultiRequest, MultiResponse),
    OpCode.multiRead: (MultiReadRequest, MultiReadResponse),
    OpCode.checkWatches: (CheckWatchesRequest, None),
    OpCode.removeWatches: (RemoveWatchesRequest, None),
    OpCode.auth: (AuthPacket, None),
    OpCode.setWatches: (SetWatches, None),
    OpCode.setWatches2: (SetWatches2, None),
    OpCode.sasl: (GetSASLRequest, SetSASLResponse),
    OpCode.getEphemerals: (GetEphemeralsRequest, GetEphemeralsResponse),
    OpCode.getAllChildrenNumber: (GetAllChildrenNumberRequest, GetAllChildrenNumberResponse),
    OpCode.addWatch: (AddWatchRequest, ErrorResponse),
    OpCode.whoAmI: (None, WhoAmIResponse),
    OpCode.closeSession: (None, None),
}


def request_record(op: int) -> Any:
    """The request body record class of `op`; MarshallingError if it has none or is unknown."""
    cls = OPS.get(op, (None, None))[0]
    if cls is None:
        raise MarshallingError(f"opcode {op} has no request body record")
    return cls


def response_record(op: int) -> Any:
    """The response body record class of `op` (None: the reply is a bare ReplyHeader)."""
    if op not in OPS:
        raise MarshallingError(f"unknown opcode {op}")
    return OPS[op][1]
