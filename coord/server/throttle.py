"""globalOutstandingLimit: how many requests all clients together may have unanswered.

Each connection counts the requests it has read and not answered yet; past the limit, a
connection that adds one stops reading its socket (nothing is dropped: its bytes wait in
the kernel, then in the client) until the total falls below the limit again, when every
connection stopped this way reads again. ZooKeeper throttles the same way. This module
only counts and tells connections to re-check: it must never touch a socket itself.
"""

from __future__ import annotations

from typing import Protocol


class Reader(Protocol):
    def update_reading(self) -> None: ...


class OutstandingLimit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._stopped: set[Reader] = set()

    @property
    def over(self) -> bool:
        return self.count >= self.limit

    def taken(self, n: int = 1) -> None:
        self.count += n

    def answered(self, n: int = 1) -> None:
        self.count -= n
        if self._stopped and not self.over:
            stopped, self._stopped = self._stopped, set()
            for conn in stopped:
                conn.update_reading()

    def stopped(self, conn: Reader) -> None:
        """`conn` stopped reading because of this limit; it is told when to re-check."""
        self._stopped.add(conn)

    def forget(self, conn: Reader) -> None:
        self._stopped.discard(conn)
