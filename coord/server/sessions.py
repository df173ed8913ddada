"""Session liveness: ids, passwords, timeout negotiation and expiry buckets by tick.

This is ZooKeeper's SessionTrackerImpl as a pure object: every call takes `now` (ms on a
monotonic clock: expiry measures elapsed time, which a step of the wall clock must not
change) and the tracker never reads a clock or runs a timer. Sessions are kept in buckets keyed by
their expiry time rounded up to the next tick, so one check per tick finds every session
that went silent, whatever the number of sessions. The leader (here: the standalone
server) owns this; which sessions *exist* is replicated state in the data tree (session
create/close are transactions); this module only decides when one has gone quiet.

It must never change the data tree; expiry is reported, and the caller turns it into a
closeSession transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_MASK64 = (1 << 64) - 1


def to_signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def negotiate_timeout(requested: int, min_timeout: int, max_timeout: int) -> int:
    """Clamp a client's requested session timeout into [min, max]."""
    return max(min_timeout, min(requested, max_timeout))


@dataclass
class SessionState:
    timeout: int
    expires_at: int
    closing: bool = False


class SessionTracker:
    def __init__(self, server_id: int, tick_ms: int, now: int, secret: bytes, id_seed_ms: int | None = None) -> None:
        if not 0 <= server_id <= 254:
            raise ValueError(f"server id {server_id} must be in 0..254 (0xFF marks TTL nodes)")
        self.tick = tick_ms
        self.secret = secret
        self.sessions: dict[int, SessionState] = {}
        self.buckets: dict[int, set[int]] = {}
        self.next_expiration = self._round_up(now)
        # Like ZooKeeper: server id in the top byte, bits of the wall clock (`id_seed_ms`:
        # ids differ across restarts) below, counter low.
        seed = now if id_seed_ms is None else id_seed_ms
        self._next_id = ((seed << 24) & _MASK64) >> 8 | (server_id << 56)

    def _round_up(self, t: int) -> int:
        return (t // self.tick + 1) * self.tick

    def new_session_id(self) -> int:
        while True:
            sid = to_signed64(self._next_id)
            self._next_id += 1
            if sid != 0 and sid != -(1 << 63) and sid not in self.sessions:
                return sid

    def password_for(self, session_id: int) -> bytes:
        """A 16-byte password derived from the id with this server's secret."""
        return hashlib.blake2b(session_id.to_bytes(8, "big", signed=True), key=self.secret, digest_size=16).digest()

    def add(self, session_id: int, timeout: int, now: int) -> None:
        """Start tracking a session (new, restored from disk, or known and now owned by a
        new leader): it gets a full timeout from `now`, whatever it had before."""
        self.remove(session_id)
        self.sessions[session_id] = SessionState(timeout, 0)
        self.touch(session_id, now)

    def touch(self, session_id: int, now: int, timeout: int | None = None) -> bool:
        """The session showed life; returns False if it is unknown or closing."""
        state = self.sessions.get(session_id)
        if state is None or state.closing:
            return False
        if timeout is not None:
            state.timeout = timeout
        expires = self._round_up(now + state.timeout)
        if expires != state.expires_at:
            old = self.buckets.get(state.expires_at)
            if old is not None:
                old.discard(session_id)
                if not old:
                    del self.buckets[state.expires_at]
            self.buckets.setdefault(expires, set()).add(session_id)
            state.expires_at = expires
        return True

    def is_alive(self, session_id: int) -> bool:
        state = self.sessions.get(session_id)
        return state is not None and not state.closing

    def set_closing(self, session_id: int) -> None:
        state = self.sessions.get(session_id)
        if state is not None:
            state.closing = True

    def remove(self, session_id: int) -> None:
        state = self.sessions.pop(session_id, None)
        if state is not None:
            bucket = self.buckets.get(state.expires_at)
            if bucket is not None:
                bucket.discard(session_id)
                if not bucket:
                    del self.buckets[state.expires_at]

    def expire(self, now: int) -> list[int]:
        """Sessions whose bucket is due; they are marked closing and left for `remove`."""
        expired: list[int] = []
        while self.next_expiration <= now:
            for sid in sorted(self.buckets.pop(self.next_expiration, ())):
                state = self.sessions[sid]
                if not state.closing:
                    state.closing = True
                    expired.append(sid)
            self.next_expiration += self.tick
        return expired
