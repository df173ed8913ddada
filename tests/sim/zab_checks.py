"""The ZAB invariants, checked by the simulator after every step of every run.

- one leader per epoch: at most one server ever serves (and so commits) as leader of
  a given epoch;
- one history: the k-th transaction any server applies is the same everywhere, with
  strictly increasing zxids, so committed transactions are never lost or reordered and
  every server's applied history is a prefix of every other's;
- acknowledged writes: a write acknowledged to a client is in that history, and once
  faults heal every live server applies all of it.
It must never change the cluster it observes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class InvariantViolationError(AssertionError):
    """A ZAB safety property does not hold."""


@dataclass
class ZabChecker:
    history: list[tuple[int, bytes]] = field(default_factory=list)
    leader_of_epoch: dict[int, int] = field(default_factory=dict)
    acked: set[bytes] = field(default_factory=set)

    def on_serving_leader(self, sid: int, epoch: int) -> None:
        other = self.leader_of_epoch.setdefault(epoch, sid)
        if other != sid:
            raise InvariantViolationError(f"two leaders serve epoch {epoch}: {other} and {sid}")

    def on_apply(self, sid: int, index: int, zxid: int, data: bytes) -> None:
        """Server sid applied (zxid, data) as its index-th transaction."""
        if index < len(self.history):
            if self.history[index] != (zxid, data):
                theirs = self.history[index]
                raise InvariantViolationError(
                    f"server {sid} applied {zxid:#x} as txn #{index}, but txn #{index} "
                    f"elsewhere is {theirs[0]:#x} ({theirs[1]!r} vs {data!r})"
                )
            return
        if index > len(self.history):
            raise InvariantViolationError(f"server {sid} applied txn #{index} with a gap before it")
        if self.history and zxid <= self.history[-1][0]:
            raise InvariantViolationError(f"zxid {zxid:#x} applied after {self.history[-1][0]:#x}")
        self.history.append((zxid, data))

    def on_restore(self, sid: int, applied: list[tuple[int, bytes]]) -> None:
        """A snapshot (restart or SNAP) must be a prefix of the one history."""
        for index, (zxid, data) in enumerate(applied):
            self.on_apply(sid, index, zxid, data)

    def on_client_ack(self, payload: bytes) -> None:
        self.acked.add(payload)

    def check_converged(self, applied_by: dict[int, list[tuple[int, bytes]]]) -> None:
        """After healing: every live server holds the whole history, and every ack."""
        for sid, applied in applied_by.items():
            if len(applied) != len(self.history):
                raise InvariantViolationError(f"server {sid} applied {len(applied)} of {len(self.history)} txns")
        payloads = {data for _, data in self.history}
        missing = self.acked - payloads
        if missing:
            raise InvariantViolationError(f"acknowledged writes lost: {sorted(missing)[:5]}")
