"""ZooKeeper error codes (KeeperException.Code) and the exceptions our client raises.

Every code maps to one `CoordError` subclass whose message says what went wrong and what
the caller can do about it; `error_for(code, path)` builds it. Both the server (codes in
replies) and the client (exceptions to users) use this table, so never raise a bare
CoordError for a code that has its own class.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    OK = 0
    SYSTEMERROR = -1
    RUNTIMEINCONSISTENCY = -2
    DATAINCONSISTENCY = -3
    CONNECTIONLOSS = -4
    MARSHALLINGERROR = -5
    UNIMPLEMENTED = -6
    OPERATIONTIMEOUT = -7
    BADARGUMENTS = -8
    UNKNOWNSESSION = -12
    NEWCONFIGNOQUORUM = -13
    RECONFIGINPROGRESS = -14
    APIERROR = -100
    NONODE = -101
    NOAUTH = -102
    BADVERSION = -103
    NOCHILDRENFOREPHEMERALS = -108
    NODEEXISTS = -110
    NOTEMPTY = -111
    SESSIONEXPIRED = -112
    INVALIDCALLBACK = -113
    INVALIDACL = -114
    AUTHFAILED = -115
    SESSIONMOVED = -118
    NOTREADONLY = -119
    EPHEMERALONLOCALSESSION = -120
    NOWATCHER = -121
    REQUESTTIMEOUT = -122
    RECONFIGDISABLED = -123
    SESSIONCLOSEDREQUIRESASLAUTH = -124
    QUOTAEXCEEDED = -125
    THROTTLEDOP = -127


class CoordError(Exception):
    """A coord (ZooKeeper) operation failed; `code` is the ErrorCode, `path` the node."""

    code: ErrorCode = ErrorCode.SYSTEMERROR
    hint = "unexpected error"

    def __init__(self, message: str | None = None, path: str | None = None) -> None:
        self.path = path
        where = f" ({path})" if path else ""
        super().__init__(message or f"{self.code.name} {int(self.code)}{where}: {self.hint}")


def _error(name: str, code: ErrorCode, hint: str) -> type[CoordError]:
    return type(name, (CoordError,), {"code": code, "hint": hint, "__doc__": hint})


RolledBackError = _error(
    "RolledBackError", ErrorCode.OK, "rolled back because another operation of the same multi failed"
)
SystemZookeeperError = _error("SystemZookeeperError", ErrorCode.SYSTEMERROR, "system error reported by the server")
RuntimeInconsistencyError = _error(
    "RuntimeInconsistencyError",
    ErrorCode.RUNTIMEINCONSISTENCY,
    "not tried because an earlier operation of the multi failed",
)
DataInconsistencyError = _error(
    "DataInconsistencyError", ErrorCode.DATAINCONSISTENCY, "the server found inconsistent data"
)
ConnectionLossError = _error(
    "ConnectionLossError",
    ErrorCode.CONNECTIONLOSS,
    "the connection to the server was lost; the request may or may not "
    "have been applied: retry idempotent operations, re-check others",
)
MarshallingFailedError = _error(
    "MarshallingFailedError", ErrorCode.MARSHALLINGERROR, "the server could not decode the request"
)
UnimplementedError = _error(
    "UnimplementedError",
    ErrorCode.UNIMPLEMENTED,
    "the server does not support this operation (TTL nodes disabled, unknown opcode)",
)
OperationTimeoutError = _error("OperationTimeoutError", ErrorCode.OPERATIONTIMEOUT, "no reply within the timeout")
BadArgumentsError = _error(
    "BadArgumentsError", ErrorCode.BADARGUMENTS, "invalid path, flags or TTL, or an attempt to change a reserved node"
)
UnknownSessionError = _error("UnknownSessionError", ErrorCode.UNKNOWNSESSION, "unknown session")
NewConfigNoQuorumError = _error(
    "NewConfigNoQuorumError", ErrorCode.NEWCONFIGNOQUORUM, "no quorum of the new configuration is connected"
)
ReconfigInProgressError = _error(
    "ReconfigInProgressError", ErrorCode.RECONFIGINPROGRESS, "another reconfiguration is in progress"
)
APIError = _error("APIError", ErrorCode.APIERROR, "API error reported by the server")
NoNodeError = _error(
    "NoNodeError",
    ErrorCode.NONODE,
    "no such node (for a create: the parent is missing; create it first or pass makepath=True)",
)
NoAuthError = _error("NoAuthError", ErrorCode.NOAUTH, "the node's ACL does not allow this; add credentials with auth")
BadVersionError = _error(
    "BadVersionError", ErrorCode.BADVERSION, "the node changed since you read it (version mismatch); re-read and retry"
)
NoChildrenForEphemeralsError = _error(
    "NoChildrenForEphemeralsError",
    ErrorCode.NOCHILDRENFOREPHEMERALS,
    "ephemeral nodes cannot have children; use a persistent parent",
)
NodeExistsError = _error("NodeExistsError", ErrorCode.NODEEXISTS, "the node already exists")
NotEmptyError = _error(
    "NotEmptyError", ErrorCode.NOTEMPTY, "the node has children; delete them first or pass recursive=True"
)
SessionExpiredError = _error(
    "SessionExpiredError",
    ErrorCode.SESSIONEXPIRED,
    "the session expired: its ephemeral nodes and watches are gone; start a new session and rebuild that state",
)
InvalidCallbackError = _error("InvalidCallbackError", ErrorCode.INVALIDCALLBACK, "invalid callback")
InvalidACLError = _error(
    "InvalidACLError", ErrorCode.INVALIDACL, "the ACL is empty or invalid (or uses the auth scheme without credentials)"
)
AuthFailedError = _error("AuthFailedError", ErrorCode.AUTHFAILED, "the server refused the credentials")
SessionMovedError = _error("SessionMovedError", ErrorCode.SESSIONMOVED, "the session moved to another server")
NotReadOnlyError = _error(
    "NotReadOnlyError", ErrorCode.NOTREADONLY, "the server is read-only; writes need a read-write server"
)
EphemeralOnLocalSessionError = _error(
    "EphemeralOnLocalSessionError", ErrorCode.EPHEMERALONLOCALSESSION, "ephemeral nodes need a global session"
)
NoWatcherError = _error("NoWatcherError", ErrorCode.NOWATCHER, "this connection has no such watch on the path")
RequestTimeoutError = _error("RequestTimeoutError", ErrorCode.REQUESTTIMEOUT, "request timed out")
ReconfigDisabledError = _error(
    "ReconfigDisabledError", ErrorCode.RECONFIGDISABLED, "dynamic reconfiguration is disabled on the server"
)
SessionClosedRequireSaslAuthError = _error(
    "SessionClosedRequireSaslAuthError",
    ErrorCode.SESSIONCLOSEDREQUIRESASLAUTH,
    "the server requires SASL authentication",
)
QuotaExceededError = _error("QuotaExceededError", ErrorCode.QUOTAEXCEEDED, "quota exceeded")
ThrottledOpError = _error("ThrottledOpError", ErrorCode.THROTTLEDOP, "the server is overloaded; retry with backoff")

ERRORS: dict[int, type[CoordError]] = {int(cls.code): cls for cls in CoordError.__subclasses__()}


def error_for(code: int, path: str | None = None) -> CoordError:
    """The exception for a non-zero error code from a reply (or 0 in a failed multi)."""
    cls = ERRORS.get(code)
    if cls is None:
        return CoordError(f"unknown error code {code}" + (f" ({path})" if path else ""), path)
    return cls(path=path)
