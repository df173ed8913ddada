"""PartitionLog against an in-memory model: random append / read / roll / retention /
truncate / flush / reopen (clean and crash-like) sequences, checked after every step."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from broker.log import FileHandleCache, LogConfig, OffsetOutOfRangeError, PartitionLog
from tests.broker_log.helpers import batches_in, make_batch

CONFIG = LogConfig(segment_bytes=700, index_interval_bytes=150, retention_ms=1000, retention_bytes=-1)


class LogModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="logmodel-"))
        self.handles = FileHandleCache(max_open=4)
        self.plog = PartitionLog.open(self.tmp / "t-0", CONFIG, handles=self.handles)
        self.batches: list[tuple[int, int, int, list[bytes]]] = []  # base, last, max_ts, values
        self.start = 0
        self.tag = 0

    def teardown(self) -> None:
        self.plog.close()
        self.handles.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def end(self) -> int:
        return self.batches[-1][1] + 1 if self.batches else self.start

    @rule(count=st.integers(1, 6), timestamp=st.integers(0, 5000))
    def append(self, count: int, timestamp: int) -> None:
        self.tag += 1
        batch = make_batch(count, timestamp, self.tag)
        info = self.plog.append(batch, leader_epoch=self.tag // 10)
        assert info.first_offset == self.end
        assert info.last_offset == self.end + count - 1
        values = next(v for _, _, v in batches_in(batch))
        self.batches.append((info.first_offset, info.last_offset, timestamp, values))

    @rule(data=st.data(), max_bytes=st.integers(1, 900))
    def read(self, data: st.DataObject, max_bytes: int) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        max_offset = data.draw(st.one_of(st.none(), st.integers(offset, self.end)))
        with self.plog.read(offset, max_bytes, max_offset=max_offset) as piece:
            got = batches_in(piece.read_bytes())
        expected = [
            (b, last, v)
            for b, last, _, v in self.batches
            if last >= offset and (max_offset is None or last < max_offset)
        ]
        if not expected or (max_offset is not None and offset >= max_offset):
            assert got == []
            return
        assert got, f"nothing read at {offset}"
        assert got == expected[: len(got)], "a read returns consecutive batches from the one holding offset"
        assert got[0][0] <= offset <= got[0][1]

    @rule(data=st.data())
    def read_out_of_range(self, data: st.DataObject) -> None:
        offset = data.draw(st.one_of(st.integers(-5, self.start - 1), st.integers(self.end + 1, self.end + 5)))
        try:
            self.plog.read(offset, 100)
        except OffsetOutOfRangeError:
            return
        raise AssertionError(f"read at {offset} outside [{self.start}, {self.end}] did not raise")

    @rule()
    def roll(self) -> None:
        self.plog.roll()

    @rule()
    def flush(self) -> None:
        self.plog.flush()
        assert self.plog.recovery_point == self.end

    @rule(now=st.integers(0, 7000))
    def retention(self, now: int) -> None:
        before = [s.base_offset for s in self.plog.segments]
        deleted = self.plog.apply_retention(now)
        after = [s.base_offset for s in self.plog.segments]
        assert before[deleted:] == after, "retention deletes the oldest segments only"
        if deleted:
            gone = [b for b in self.batches if b[0] < after[0]]
            assert all(ts < now - CONFIG.retention_ms or last < self.start for _, last, ts, _ in gone), (
                "a young segment above the log start offset was deleted"
            )
            self.batches = [b for b in self.batches if b[0] >= after[0]]
            self.start = max(self.start, after[0])

    @precondition(lambda self: self.end > self.start)
    @rule(data=st.data())
    def delete_records_before(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        self.plog.delete_records_before(offset)
        self.start = offset

    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.start, self.end + 2))
        self.plog.truncate_to(offset)
        self.batches = [b for b in self.batches if b[1] < offset]
        if self.end < self.start:  # cut into the batch holding the start: the log restarts there
            assert self.plog.log_end_offset == self.plog.log_start_offset
            self.start = self.plog.log_start_offset
            self.batches = []
        epochs = self.plog.leader_epochs.entries
        assert all(e.start_offset < self.end or e.start_offset == self.start for e in epochs), (
            "epochs past the log end survive truncation"
        )

    @rule(timestamp=st.integers(0, 5200))
    def offset_for_timestamp(self, timestamp: int) -> None:
        found = [(ts, max(b, self.start)) for b, last, ts, _ in self.batches if ts >= timestamp and last >= self.start]
        assert self.plog.offset_for_timestamp(timestamp) == (found[0] if found else None)

    @rule(clean=st.booleans())
    def reopen(self, clean: bool) -> None:
        if clean:  # a clean shutdown, as the broker's LogManager does it
            self.plog.flush()
            self.plog.close()
        # A crash-like reopen just abandons the object: unflushed data is still in the page
        # cache, so nothing may be lost, and recovery re-scans past the recovery point.
        self.plog = PartitionLog.open(self.tmp / "t-0", CONFIG, handles=self.handles)

    @invariant()
    def offsets_agree(self) -> None:
        assert self.plog.log_end_offset == self.end
        assert self.plog.log_start_offset == self.start
        assert self.plog.recovery_point <= self.plog.log_end_offset


TestLogModel = LogModel.TestCase
TestLogModel.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestLogModel.pytestmark = [pytest.mark.slow]


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_log_model_soak() -> None:
    run_state_machine_as_test(LogModel, settings=settings(max_examples=2000, stateful_step_count=60, deadline=None))
