"""RecordFuture: the concurrent Future the sync Producer returns for each record.

A plain `concurrent.futures.Future` builds a `threading.Condition` and two lists when
created (about 1.2 us), takes a lock and notifies once per result, and keeps those
objects alive until the broker acknowledges: at hundreds of thousands of records a
second, the creation and the garbage collector's walks over the live ones were the sync
producer's largest cost. A RecordFuture is one small object until it is done: every
RecordFuture shares one Condition, and `settle`/`fail` finish a whole batch's futures
under one acquisition and one notify. It is still a concurrent.futures.Future: result(),
exception(), done(), add_done_callback(), concurrent.futures.wait() and as_completed()
behave as documented. Its one difference: `cancel()` is refused, since a record cannot
be taken back once send() returned (as Kafka's record futures). The caller hands each
future to `settle` or `fail` once; this module must never leave a waiter asleep once
its future is done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures._base import FINISHED, PENDING
from typing import Any

log = logging.getLogger(__name__)


class RecordFuture(Future):
    """A concurrent Future that costs one small object until it is done (see the module docstring).

    Future.__init__ is not run: its fields are class attributes here until set. The
    Condition is one for every RecordFuture; `_done_callbacks` and the waiter list that
    concurrent.futures.wait() uses are made for the few futures that get one.
    """

    __init__ = object.__init__
    _condition = threading.Condition()
    _state = PENDING
    _result = None
    _exception = None
    _done_callbacks: list | tuple = ()
    _waiter_list: list | None = None
    payload: Any = None  # its producer's, until it hands the record over (no object of its own to track)

    @property
    def _waiters(self) -> list:
        """concurrent.futures.wait() and as_completed() append here (always under `_condition`)."""
        if self._waiter_list is None:
            self._waiter_list = []
        return self._waiter_list

    def add_done_callback(self, fn: Callable[[Future], object]) -> None:
        """As Future.add_done_callback: `fn(future)` once done, at once if it is."""
        with self._condition:
            if self._state != FINISHED:
                if self._done_callbacks:
                    self._done_callbacks.append(fn)
                else:
                    self._done_callbacks = [fn]
                return
        try:
            fn(self)
        except Exception:  # noqa: BLE001 - as Future does: a callback's error must not reach the producer
            log.exception("exception calling callback for %r", self)

    def cancel(self) -> bool:
        """Refused: the record is on its way (Kafka's record futures cannot be cancelled either)."""
        return False

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout)
        return super().result(0)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return super().exception(0)

    def _wait(self, timeout: float | None) -> None:
        """Sleep until done or `timeout` seconds. The Condition is shared, so another future
        finishing wakes this one too: wait again until it is this one's turn."""
        if self._state == FINISHED:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._state != FINISHED:
                if deadline is None:
                    self._condition.wait()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return  # Future.result(0) then raises TimeoutError
                self._condition.wait(left)


def settle(futures: Sequence[RecordFuture], results: Sequence[Any]) -> None:
    """Finish each pending future with its result: one lock, one notify; then their callbacks."""
    with RecordFuture._condition:
        for future, result in zip(futures, results):
            future._result = result
            future._state = FINISHED
            if future._waiter_list:
                for waiter in future._waiter_list:
                    waiter.add_result(future)
        RecordFuture._condition.notify_all()
    _call_back(futures)


def fail(futures: Sequence[RecordFuture], exc: BaseException) -> None:
    """Finish every pending future with the same exception: one lock, one notify; then their callbacks."""
    with RecordFuture._condition:
        for future in futures:
            future._exception = exc
            future._state = FINISHED
            if future._waiter_list:
                for waiter in future._waiter_list:
                    waiter.add_exception(future)
        RecordFuture._condition.notify_all()
    _call_back(futures)


def _call_back(futures: Sequence[RecordFuture]) -> None:
    for future in futures:
        if future._done_callbacks:
            future._invoke_callbacks()
