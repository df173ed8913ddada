"""RecordFuture: the concurrent Future the sync Producer returns for each record.

A plain `concurrent.futures.Future` builds a `threading.Condition` and two lists when
created and must be kept by the producer until the broker acknowledges, so that it can
be finished: at hundreds of thousands of records a second, creating them, finishing
each, and the garbage collector's walks over hundreds of thousands of live ones were the
sync producer's largest cost. A RecordFuture instead points at its batch's one outcome
(`BatchOutcome`) and its index there: the producer forgets it once the record is in a
batch, so a future its caller does not keep dies at once, and nothing is done per record
when the batch is acknowledged. Its result, a RecordMetadata, is made when asked for.
Only futures someone waits on with concurrent.futures.wait()/as_completed() or gave a
callback to ("watched" ones) are kept by their outcome, to be called back.

It is still a concurrent.futures.Future: result(), exception(), done(), add_done_callback(),
wait() and as_completed() behave as documented. Its one difference: `cancel()` is refused,
since a record cannot be taken back once send() returned (as Kafka's record futures). Every
RecordFuture shares one Condition (`LOCK`): placing records in batches, finishing
outcomes and watching a future happen under it, so a future ends exactly once and a watcher
is never missed. This module must never leave a waiter asleep once its future is done, and
must never run a callback while holding the Condition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures._base import FINISHED, PENDING
from typing import Any, cast

from client.producer.accumulator import records_metadata
from client.structs import RecordMetadata, TopicPartition

log = logging.getLogger(__name__)

LOCK = threading.Condition()


class BatchOutcome:
    """What one batch ended with, shared by the futures of all its records.

    `stamps` holds each record's create timestamp by index (a RecordMetadata reports it when
    the broker does not stamp the batch); `watchers` the futures with callbacks or waiters.
    """

    __slots__ = ("tp", "stamps", "done", "result", "exception", "watchers")

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.stamps: list[int] = []
        self.done = False
        self.result: object = None
        self.exception: BaseException | None = None
        self.watchers: list[RecordFuture] = []

    def finish(self, result: object, exception: BaseException | None) -> None:
        """Record the batch's end (loop thread, once), wake everyone waiting on one of its
        futures, then run the watched futures' callbacks outside the lock."""
        with LOCK:
            self.result, self.exception = result, exception
            self.done = True
            watchers, self.watchers = self.watchers, []
            for future in watchers:
                future._tell_waiters()
            LOCK.notify_all()
        for future in watchers:
            future._invoke_callbacks()


class RecordFuture(Future):
    """A concurrent Future that is one small object (see the module docstring).

    Future.__init__ is not run. `_state`, `_result` and `_exception`, which Future's own
    methods and concurrent.futures.wait() read, are computed from the outcome.
    """

    __slots__ = ("record", "sent", "_outcome", "_index", "_error", "_done_callbacks", "_waiter_list",
                 "_watched")
    _condition = LOCK

    def __init__(self, record: tuple | None = None, sent: float = 0.0) -> None:
        """`record` and `sent` are its producer's, until the record is in a batch."""
        self.record: Any = record   # the prepared record's fields until it is placed, then None
        self.sent = sent
        self._outcome: BatchOutcome | None = None
        self._index = 0
        self._error: BaseException | None = None  # failed on its own, before joining a batch
        self._done_callbacks: list | None = None
        self._waiter_list: list | None = None
        self._watched = False

    # -- what Future's methods read --------------------------------------------------------
    @property
    def _state(self) -> str:  # type: ignore[override]  # Future's own methods read these; here they are computed from the batch
        if self._error is not None:
            return FINISHED
        outcome = self._outcome
        return FINISHED if outcome is not None and outcome.done else PENDING

    @property
    def _exception(self) -> BaseException | None:  # type: ignore[override]  # Future's own methods read these; here they are computed from the batch
        if self._error is not None:
            return self._error
        outcome = self._outcome
        return outcome.exception if outcome is not None else None

    @property
    def _result(self) -> RecordMetadata | None:  # type: ignore[override]  # Future's own methods read these; here they are computed from the batch
        outcome = self._outcome
        if outcome is None or not outcome.done or outcome.exception is not None or self._error is not None:
            return None
        index = self._index
        return records_metadata(outcome.result, outcome.tp, ((index, outcome.stamps[index]),))[0]

    @property
    def _waiters(self) -> list:  # type: ignore[override]  # Future's own methods read these; here they are computed from the batch
        """concurrent.futures.wait() and as_completed() append here, always under LOCK."""
        if self._waiter_list is None:
            self._waiter_list = []
            self._watch()
        return self._waiter_list

    # -- the public API --------------------------------------------------------------------
    def done(self) -> bool:
        return self._state == FINISHED

    def running(self) -> bool:
        return not self.done()

    def cancelled(self) -> bool:
        return False

    def cancel(self) -> bool:
        """Refused: the record is on its way (Kafka's record futures cannot be cancelled either)."""
        return False

    def add_done_callback(self, fn: Callable[[Future], object]) -> None:
        """As Future.add_done_callback: `fn(future)` once done, at once if it is."""
        with LOCK:
            if self._state != FINISHED:
                if self._done_callbacks is None:
                    self._done_callbacks = [fn]
                    self._watch()
                else:
                    self._done_callbacks.append(fn)
                return
        _call(fn, self)

    def result(self, timeout: float | None = None) -> RecordMetadata:
        self._wait(timeout)
        if self._exception is not None:
            raise self._exception
        return cast(RecordMetadata, self._result)   # done without an exception: there is a result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return self._exception

    def set_result(self, result: Any) -> None:
        raise RuntimeError("a RecordFuture ends with its batch; only its producer finishes it")

    def set_exception(self, exception: BaseException | None) -> None:
        """Fail this record on its own (before it joined a batch); then its callbacks."""
        with LOCK:
            if self._state == FINISHED:
                raise RuntimeError("this RecordFuture is already done")
            self._error = exception
            self.record = None
            self._tell_waiters()
            LOCK.notify_all()
        self._invoke_callbacks()

    def set_running_or_notify_cancel(self) -> bool:
        return True

    # -- the producer's side ---------------------------------------------------------------
    def joined(self, outcome: BatchOutcome, index: int) -> None:
        """Under LOCK: its record is record `index` of `outcome`'s batch. A watched future
        is handed to the outcome; any other is from now on its caller's alone."""
        self._index = index
        self._outcome = outcome
        self.record = None
        if self._watched:
            outcome.watchers.append(self)

    def _wait(self, timeout: float | None) -> None:
        """Sleep until done or `timeout` seconds (TimeoutError). The Condition is shared, so
        another future finishing wakes this one too: wait again until it is this one's turn."""
        if self._state == FINISHED:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with LOCK:
            while self._state != FINISHED:
                if deadline is None:
                    LOCK.wait()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError()
                LOCK.wait(left)

    def _watch(self) -> None:
        """Under LOCK: from now on its outcome calls it back (placing it hands it on if it has none yet)."""
        if self._watched:
            return
        self._watched = True
        if self._outcome is not None:
            self._outcome.watchers.append(self)

    def _tell_waiters(self) -> None:
        """Under LOCK, once done: the waiters concurrent.futures.wait() installed."""
        if self._waiter_list:
            failed = self._exception is not None
            for waiter in self._waiter_list:
                if failed:
                    waiter.add_exception(self)
                else:
                    waiter.add_result(self)

    def _invoke_callbacks(self) -> None:
        callbacks, self._done_callbacks = self._done_callbacks, None
        for fn in callbacks or ():
            _call(fn, self)


def _call(fn: Callable[[Future], object], future: RecordFuture) -> None:
    try:
        fn(future)
    except Exception:  # as Future does: a callback's error must not reach the producer
        log.exception("exception calling callback for %r", future)

