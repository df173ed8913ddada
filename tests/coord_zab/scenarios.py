"""A hand-driven ensemble for scenario tests: a perfect FIFO wire the test can cut.

Unlike tests/sim, nothing here is random: messages are delivered in send order,
fsyncs complete when the test says (immediately by default), and the test decides
which servers are cut off. It must never hide a message: everything sent to a cut-off
server is recorded in `lost`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack

from coord.zab import Peer, PersistentState, Role, Snapshot, ZabConfig
from coord.zab import actions as act
from coord.zab.messages import Message, SnapChunk, decode, encode

CONFIG = ZabConfig(tick=1.0, init_limit=5, sync_limit=3, election_retry=1)


@dataclass
class Shell:
    """What one server's shell did, as the tests read it."""

    applied: list[tuple[int, bytes]] = field(default_factory=list)
    actions: list[act.Action] = field(default_factory=list)
    sent: list[tuple[int, Message]] = field(default_factory=list)
    staging: bytes = b""  # a snapshot being received


class Bench:
    def __init__(self, size: int) -> None:
        self.members = frozenset(range(1, size + 1))
        self.now = 0.0
        self.peers: dict[int, Peer] = {}
        self.shells: dict[int, Shell] = {}
        self.wire: list[tuple[int, int, Message]] = []
        self.lost: list[tuple[int, int, Message]] = []
        self.cut: set[int] = set()
        self.drop: Callable[[int, int, Message], bool] = lambda src, dst, msg: False
        self.auto_fsync = True

    def start(self, sid: int, state: PersistentState | None = None) -> Peer:
        shell = self.shells[sid] = Shell()
        peer = Peer(
            sid,
            self.members,
            CONFIG,
            state or PersistentState(),
            lambda: Snapshot(shell.applied[-1][0] if shell.applied else 0, msgpack.packb(shell.applied)),
            self.now,
        )
        self.peers[sid] = peer
        return peer

    def stop(self, sid: int) -> PersistentState:
        """Crash a server; returns what its disk holds (everything was fsynced)."""
        peer = self.peers.pop(sid)
        history = peer.history
        return PersistentState(
            peer.accepted_epoch, peer.current_epoch, history.snap_zxid, history.after(history.snap_zxid)
        )

    def pump(self, limit: int = 10_000) -> None:
        """Carry out actions and deliver messages until nothing moves."""
        for _ in range(limit):
            moved = False
            for sid, peer in list(self.peers.items()):
                moved |= self._drain(sid, peer)
            if self.wire:
                src, dst, msg = self.wire.pop(0)
                if dst in self.peers:
                    self.peers[dst].receive(src, msg, self.now)
                moved = True
            if not moved:
                return
        raise AssertionError("the ensemble never went quiet")

    def _drain(self, sid: int, peer: Peer) -> bool:
        actions = peer.ready()
        shell = self.shells[sid]
        for a in actions:
            shell.actions.append(a)
            if isinstance(a, act.SendSnapshotChunk):
                a = act.Send(a.to, SnapChunk(a.epoch, a.stream, a.seq, a.offset, a.image.read(a.offset, a.size)))
            if isinstance(a, act.Send):
                msg = decode(encode(a.msg))
                shell.sent.append((a.to, msg))
                hop = (sid, a.to, msg)
                blocked = sid in self.cut or a.to in self.cut or self.drop(*hop)
                (self.lost if blocked else self.wire).append(hop)
            elif isinstance(a, act.Apply):
                shell.applied.append((a.zxid, a.data))
            elif isinstance(a, act.StageSnapshot):
                shell.staging = shell.staging[: a.offset] + a.data
            elif isinstance(a, act.InstallSnapshot):
                assert len(shell.staging) == a.size
                shell.applied = [(z, d) for z, d in msgpack.unpackb(shell.staging)]
        if self.auto_fsync and any(isinstance(a, act.AppendLog) for a in actions):
            peer.persisted(peer.last_zxid, self.now)
        return bool(actions)

    def tick(self, times: int = 1) -> None:
        for _ in range(times):
            self.now += CONFIG.tick
            for peer in list(self.peers.values()):
                peer.tick(self.now)
            self.pump()

    def tick_until(self, done: Callable[[], bool], limit: int = 50) -> None:
        for _ in range(limit):
            if done():
                return
            self.tick()
        raise AssertionError(f"condition not reached within {limit} ticks")

    def settled(self) -> bool:
        """A serving leader, and every running server serving under it."""
        leaders = [p for p in self.peers.values() if p.state == Role.LEADING and p.serving]
        return len(leaders) == 1 and all(p.serving and p.leader == leaders[0].sid for p in self.peers.values())

    def leader(self) -> Peer:
        leaders = [p for p in self.peers.values() if p.state == Role.LEADING and p.serving]
        assert len(leaders) == 1, f"expected one serving leader, got {[p.sid for p in leaders]}"
        return leaders[0]

    def write(self, *payloads: bytes) -> list[int]:
        leader = self.leader()
        zxids = [leader.propose(p, self.now) for p in payloads]
        self.pump()
        return zxids

    def applied(self, sid: int) -> list[bytes]:
        return [d for _, d in self.shells[sid].applied]


def elect(size: int) -> Bench:
    """A fresh ensemble, started together, with everyone serving."""
    bench = Bench(size)
    for sid in sorted(bench.members):
        bench.start(sid)
    bench.pump()
    bench.tick()
    assert all(p.serving for p in bench.peers.values())
    return bench
