"""ZAB, ZooKeeper's atomic broadcast, as a sans-I/O core: events in, actions out.

The shell (asyncio server, or the seeded simulator in tests/sim) feeds `Peer` with
`tick`, `receive`, `propose` and `persisted`, and carries out what `Peer.ready()` returns.
Nothing in this package touches a socket, a file or the clock; see docs/zab.md.
"""

from coord.zab.actions import (
    Action,
    AppendLog,
    Apply,
    ForwardedRequest,
    InstallSnapshot,
    PersistEpochs,
    RoleChanged,
    Send,
    SendSnapshotChunk,
    Serving,
    SessionTouches,
    StageSnapshot,
    SyncReady,
    TruncateLog,
)
from coord.zab.config import ZabConfig
from coord.zab.errors import NotLeaderError, SafetyError
from coord.zab.log import Snapshot, SnapshotImage
from coord.zab.peer import Peer, PersistentState
from coord.zab.roles import Role

__all__ = [
    "Action",
    "AppendLog",
    "Apply",
    "ForwardedRequest",
    "InstallSnapshot",
    "NotLeaderError",
    "Peer",
    "PersistEpochs",
    "PersistentState",
    "Role",
    "RoleChanged",
    "SafetyError",
    "Send",
    "SendSnapshotChunk",
    "Serving",
    "SessionTouches",
    "Snapshot",
    "SnapshotImage",
    "StageSnapshot",
    "SyncReady",
    "TruncateLog",
    "ZabConfig",
]
