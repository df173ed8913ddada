"""The leader's side of one follower's synchronization stream, in bounded pieces.

A stream is a numbered sequence of items: the header (DIFF, TRUNC or SNAP), the
snapshot in chunks of at most `chunk_bytes`, the leader's proposals after the
stream's base in batches of at most `chunk_bytes` (one proposal alone if larger), and
NEWLEADER last. At most `sync_window` items are unacknowledged at a time (the follower
acks its position with SYNCACK), so a snapshot of several hundred MiB is never one
message nor queued whole; syncLimit ticks without progress resend from the follower's
position (go-back-N), which repairs a lost item. The proposals are taken from the history as
the stream reaches them, so those made while it runs are part of it, and NEWLEADER is
sent once it has caught up; from then on the follower gets the ordinary broadcast.

This module must never read snapshot bytes itself (it names ranges; the shell reads
them), never send an item out of order, and never send a diff the history no longer
holds (`HistoryCompactedError` instead).
"""

from __future__ import annotations

from coord.zab import actions as act
from coord.zab.log import SnapshotImage
from coord.zab.messages import NewLeader, SyncDiff, SyncHeader
from coord.zab.roles import PeerView


class HistoryCompactedError(Exception):
    """The history no longer holds the proposals this stream still has to send."""


class SyncStream:
    def __init__(
        self,
        peer: PeerView,
        to: int,
        epoch: int,
        stream: int,
        mode: str,
        trunc: int,
        image: SnapshotImage | None,
        base: int,
    ) -> None:
        self.peer = peer
        self.to = to
        self.epoch = epoch
        self.id = stream
        self.mode = mode
        self.trunc = trunc
        self.image = image
        self.chunk = peer.config.chunk_bytes
        self.chunks = 0 if image is None else -(-image.size // self.chunk)
        self.base = base
        self.acked = 0  # the follower holds every item below this seq
        self.next_seq = 0  # the next item to send
        self.sent = 0  # every item below this was sent at least once
        self.mark = -1  # `acked` at the previous tick
        self.stalled = 0  # ticks since `acked` last moved
        self.end: tuple[int, int] | None = None  # (seq, last zxid) of NEWLEADER once sent
        # seq -> (zxid its diff batch starts after, its last zxid), for the batches from
        # `acked` on: a batch resent must be the one first sent, since the follower may
        # hold it already (its ack was lost) and take the next one after it.
        self._spans: dict[int, tuple[int, int]] = {}

    @property
    def done(self) -> bool:
        """The follower holds the whole stream, NEWLEADER included."""
        return self.end is not None and self.acked > self.end[0]

    def pump(self) -> None:
        """Send items while the window allows and the stream has any left."""
        window = self.peer.config.sync_window
        while self.next_seq < self.acked + window and not (self.end and self.next_seq > self.end[0]):
            self._send(self.next_seq)
            self.next_seq += 1
            self.sent = max(self.sent, self.next_seq)

    def needs_after(self) -> int:
        """The zxid after which this stream may still (re)send proposals."""
        prev = self._spans.get(self.acked - 1)
        return self.base if prev is None else prev[1]

    def on_ack(self, next_seq: int) -> None:
        if next_seq <= self.acked or next_seq > self.sent:
            return
        for seq in range(self.acked, next_seq - 1):
            self._spans.pop(seq, None)  # keeps the span before next_seq: where it resumes
        self.acked = next_seq
        self.next_seq = max(self.next_seq, next_seq)
        self.pump()

    def on_tick(self) -> None:
        """No progress for syncLimit ticks: resend from the follower's position. Not
        sooner: over TCP nothing is lost, and a follower busy installing a big snapshot
        would get the window again every tick (duplicates queued in memory)."""
        self.stalled = self.stalled + 1 if self.acked == self.mark else 0
        self.mark = self.acked
        if self.stalled >= self.peer.config.sync_limit and self.next_seq > self.acked:
            self.stalled = 0
            self.next_seq = self.acked
            self.pump()

    def _send(self, seq: int) -> None:
        peer = self.peer
        if seq == 0:
            image = self.image
            peer.send(
                self.to,
                SyncHeader(
                    self.epoch,
                    self.id,
                    self.mode,
                    self.trunc,
                    0 if image is None else image.zxid,
                    0 if image is None else image.size,
                ),
            )
            return
        if seq <= self.chunks:
            assert self.image is not None
            offset = (seq - 1) * self.chunk
            peer.emit(
                act.SendSnapshotChunk(
                    self.to, self.image, self.epoch, self.id, seq, offset, min(self.chunk, self.image.size - offset)
                )
            )
            return
        if self.end is not None and seq == self.end[0]:
            peer.send(self.to, NewLeader(self.epoch, self.id, seq, self.end[1], peer.commit_zxid))
            return
        prev = self._spans.get(seq - 1)
        after = self.base if prev is None else prev[1]
        span = self._spans.get(seq)
        upto = span[1] if span is not None else None if self.end is None else self.end[1]
        history = peer.history
        if after < history.snap_zxid:
            raise HistoryCompactedError(
                f"stream {self.id} to {self.to} needs proposals after {after:#x}, "
                f"but the log starts at {history.snap_zxid:#x}"
            )
        entries = history.batch_after(after, self.chunk, upto)
        if not entries:
            self.end = (seq, after)
            peer.send(self.to, NewLeader(self.epoch, self.id, seq, after, peer.commit_zxid))
            return
        self._spans[seq] = (after, entries[-1][0])
        peer.send(self.to, SyncDiff(self.epoch, self.id, seq, entries))
