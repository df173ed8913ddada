"""RecordFuture: the concurrent Future the sync Producer returns for each record.

A plain `concurrent.futures.Future` builds a `threading.Condition` and two lists when
created and must be kept by the producer until the broker acknowledges, so that it can
be finished: at hundreds of thousands of records a second, creating them, finishing
each, and the garbage collector's walks over hundreds of thousands of live ones were the
sync producer's largest cost. A RecordFuture is instead a position in a `Handover`, the
burst of records send() queued it with; the loop writes there which batch's one outcome
(`BatchOutcome`) each record joined and at which index. The producer queues the plain
record, never the future, so a future its caller does not keep dies at once (the
collector sees one short-lived object per record), and nothing is done per record when
the batch is acknowledged. Its result, a RecordMetadata, is made when asked for. Only
futures someone waits on with concurrent.futures.wait()/as_completed() or gave a
callback to ("watched" ones) are kept, by their handover and then their outcome, to be
called back.

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
from client.producer.record_args import PreparedRecord
from client.structs import RecordMetadata, TopicPartition

log = logging.getLogger(__name__)

LOCK = threading.Condition()
WIDTH = len(PreparedRecord._fields)  # fields a record takes in a Handover's `records`


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


class Handover:
    """Records the sync Producer's send() queued one after another, taken by its loop at once.

    Until the loop takes it, `records` grows by each record's WIDTH fields (a PreparedRecord's,
    end to end in one list: no object per record for the collector to count) and `sent` by
    its send() time. Once taken, `placed` says by position
    where each record went: None (not yet in a batch), its batch's BatchOutcome (and
    `indexes` its index there), or the exception it failed with on its own. A future is
    this object and a position, so the producer never holds a future: each one the caller
    drops is freed at once. `watchers` keeps, by position, the futures with callbacks or
    waiters whose record is not yet in a batch.
    """

    __slots__ = ("records", "sent", "placed", "indexes", "watchers")

    def __init__(self) -> None:
        self.records: list = []
        self.sent: list[float] = []
        self.placed: list[object] | None = None
        self.indexes: list[int] | None = None
        self.watchers: dict[int, list[RecordFuture]] | None = None

    def take(self) -> list:
        """The loop takes the records (no more are added; the handover, which a kept future
        keeps alive, lets go of them): their places start empty."""
        records, self.records = self.records, []
        self.placed = [None] * len(self.sent)
        self.indexes = [0] * len(self.sent)
        return records

    def place(self, pos: int, count: int, outcome: BatchOutcome, index: int) -> None:
        """Under LOCK: records pos..pos+count-1 are records index..index+count-1 of
        `outcome`'s batch; their watched futures are handed to the outcome."""
        assert self.placed is not None and self.indexes is not None, "placed before take()"
        stop = pos + count
        self.placed[pos:stop] = [outcome] * count
        self.indexes[pos:stop] = range(index, index + count)
        watchers = self.watchers
        if watchers:
            for at in [at for at in watchers if pos <= at < stop]:
                outcome.watchers.extend(watchers.pop(at))

    def fail(self, pos: int, exc: BaseException) -> list[RecordFuture]:
        """Under LOCK: record `pos` failed on its own; wakes its waiters and returns its
        watched futures, whose callbacks the caller runs after releasing LOCK."""
        assert self.placed is not None, "failed before take()"
        self.placed[pos] = exc
        watchers = self.watchers.pop(pos, []) if self.watchers else []
        for future in watchers:
            future._tell_waiters()
        LOCK.notify_all()
        return watchers


class RecordFuture(Future):
    """A concurrent Future that is one small object (see the module docstring).

    Future.__init__ is not run. `_state`, `_result` and `_exception`, which Future's own
    methods and concurrent.futures.wait() read, are computed from where the record went.
    """

    __slots__ = ("_handover", "_pos", "_error", "_done_callbacks", "_waiter_list", "_watched")
    _condition = LOCK

    def __init__(self, handover: Handover | None = None, pos: int = 0) -> None:
        """Record `pos` of `handover`; with no handover, a future that fails at once (set_exception)."""
        self._handover = handover
        self._pos = pos
        self._error: BaseException | None = None  # failed before it was queued
        self._done_callbacks: list | None = None
        self._waiter_list: list | None = None
        self._watched = False

    def _where(self) -> object:
        """None while its record is not in a batch; else its BatchOutcome or its own exception."""
        if self._error is not None:
            return self._error
        handover = self._handover
        placed = handover.placed if handover is not None else None
        return None if placed is None else placed[self._pos]

    # -- what Future's methods read --------------------------------------------------------
    @property
    def _state(self) -> str:  # type: ignore[override]  # Future's plain attribute, computed here from the batch
        where = self._where()
        if where is None:
            return PENDING
        if type(where) is BatchOutcome:
            return FINISHED if where.done else PENDING
        return FINISHED

    @property
    def _exception(self) -> BaseException | None:  # type: ignore[override]  # Future's plain attribute, computed here from the batch
        where = self._where()
        if type(where) is BatchOutcome:
            return where.exception
        return where  # type: ignore[return-value]

    @property
    def _result(self) -> RecordMetadata | None:  # type: ignore[override]  # Future's plain attribute, computed here from the batch
        outcome = self._where()
        if type(outcome) is not BatchOutcome or not outcome.done or outcome.exception is not None:
            return None
        assert self._handover is not None and self._handover.indexes is not None  # placed in a batch
        index = self._handover.indexes[self._pos]
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
        where = self._where()
        return where.done if type(where) is BatchOutcome else where is not None

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
        return cast(RecordMetadata, self._result)  # done without an exception: there is a result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        where = self._where()  # a finished record answers without the wait's lock
        if type(where) is BatchOutcome:
            if where.done:
                return where.exception
        elif where is not None:
            return where  # type: ignore[return-value]
        self._wait(timeout)
        return self._exception

    def set_result(self, result: Any) -> None:
        raise RuntimeError("a RecordFuture ends with its batch; only its producer finishes it")

    def set_exception(self, exception: BaseException | None) -> None:
        """Fail this record before it was queued (its producer refused it); then its callbacks."""
        with LOCK:
            if self._state == FINISHED:
                raise RuntimeError("this RecordFuture is already done")
            self._error = exception
            self._tell_waiters()
            LOCK.notify_all()
        self._invoke_callbacks()

    def set_running_or_notify_cancel(self) -> bool:
        return True

    # -- the producer's side ---------------------------------------------------------------
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
        """Under LOCK: from now on its outcome calls it back (its handover hands it on if
        its record is not in a batch yet)."""
        if self._watched:
            return
        self._watched = True
        where = self._where()
        if type(where) is BatchOutcome:
            where.watchers.append(self)
        elif where is None and self._handover is not None:
            watchers = self._handover.watchers
            if watchers is None:
                watchers = self._handover.watchers = {}
            watchers.setdefault(self._pos, []).append(self)

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
