"""The idempotent producer's sequencing (client/producer/idempotence.py) with the real
accumulator: stamping, which head may go out, answers, resets, splits; Kafka 3's config
rules; and a seeded property: against the broker's own producer state table over a
connection that loses requests and answers, every record lands exactly once, in order."""

from __future__ import annotations

import asyncio
import functools
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.producers.state import Append, Duplicate, ProducerStateTable
from client.producer.accumulator import ProducerBatch, RecordAccumulator
from client.producer.idempotence import IdempotenceState, Verdict
from client.producer.producer import resolve_idempotence
from client.protocol.api import ACKS_ALL
from client.protocol.errors import ErrorCode
from client.structs import TopicPartition

TP = TopicPartition("t", 0)


def in_loop(test):
    """Run a synchronous test inside an event loop (the accumulator makes futures)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        async def body():
            return test(*args, **kwargs)

        return asyncio.run(body())

    return wrapper


BATCH_SIZE = 12


def accumulator() -> RecordAccumulator:
    return RecordAccumulator(batch_size=BATCH_SIZE, linger_ms=0, buffer_memory=1 << 30, retry_backoff_ms=0)


def queue_batches(acc: RecordAccumulator, n: int, tp: TopicPartition = TP, records: int = 1) -> None:
    """`n` batches of `records` records each (each record a `records`-th of a full batch)."""
    for i in range(n):
        for _ in range(records):
            acc.append(tp, None, b"%d" % i, None, 0, BATCH_SIZE // records, 0.0)


def drain(acc: RecordAccumulator, idem: IdempotenceState) -> list[ProducerBatch]:
    out = acc.drain(0, lambda tp: 0, 1 << 30, 1e9, idem.may_send)
    for b in out:
        idem.sent(b)
    return out


def sending(*records: int) -> tuple[RecordAccumulator, IdempotenceState, list[ProducerBatch]]:
    """A producer with id 1 that has sent one batch per count in `records` to partition 0."""
    acc, idem = accumulator(), IdempotenceState()
    idem.set_producer_id(1, 0)
    for count in records:
        queue_batches(acc, 1, records=count)
    return acc, idem, [b for _ in records for b in drain(acc, idem)]


def test_resolve_idempotence_follows_kafka_3() -> None:
    assert resolve_idempotence(None, None, 5, 10) == (ACKS_ALL, True)
    assert resolve_idempotence(None, 1, 5, 10) == (1, False)  # chosen acks=1: quietly off
    assert resolve_idempotence(None, "all", 6, 10) == (ACKS_ALL, False)
    assert resolve_idempotence(False, None, 5, 10) == (ACKS_ALL, False)
    assert resolve_idempotence(True, "all", 5, 10) == (ACKS_ALL, True)
    with pytest.raises(ValueError, match="acks=1"):
        resolve_idempotence(True, 1, 5, 10)
    with pytest.raises(ValueError, match="max_in_flight=6"):
        resolve_idempotence(True, None, 6, 10)
    with pytest.raises(ValueError, match="acks must be"):
        resolve_idempotence(None, 2, 5, 10)


@in_loop
def test_nothing_goes_out_before_a_producer_id_and_batches_are_numbered_per_partition() -> None:
    acc, idem = accumulator(), IdempotenceState()
    queue_batches(acc, 2, records=3)
    queue_batches(acc, 1, TopicPartition("t", 1))
    assert drain(acc, idem) == []
    idem.set_producer_id(42, 0)
    first = drain(acc, idem)
    second = drain(acc, idem)
    assert [(b.tp.partition, b.base_sequence, b.producer_id) for b in first + second] == [
        (0, 0, 42),
        (1, 0, 42),
        (0, 3, 42),
    ]


@in_loop
def test_a_retry_waits_for_its_turn_and_keeps_its_sequence() -> None:
    acc, idem, (b0, b1, b2) = sending(1, 1, 1)
    # The connection drops: every request fails, oldest first; they requeue in order.
    for b in (b0, b1, b2):
        idem.unanswered(b)
        acc.reenqueue(b, 0.0)
    queue_batches(acc, 1)  # a new batch behind them
    assert drain(acc, idem) == [b0]  # one at a time
    assert drain(acc, idem) == []
    assert idem.answered(b0, ErrorCode.NONE) is Verdict.DONE
    assert drain(acc, idem) == [b1] and b1.base_sequence == 1
    assert idem.answered(b1, ErrorCode.DUPLICATE_SEQUENCE_NUMBER) is Verdict.DONE
    assert drain(acc, idem) == [b2]
    assert idem.answered(b2, ErrorCode.NONE) is Verdict.DONE
    (b3,) = drain(acc, idem)
    assert b3.base_sequence == 3


@in_loop
def test_out_of_order_behind_an_unresolved_batch_retries_but_for_the_oldest_resets() -> None:
    acc, idem, (b0, b1) = sending(1, 1)
    assert idem.answered(b0, ErrorCode.NOT_LEADER_OR_FOLLOWER) is Verdict.RETRY
    assert idem.answered(b1, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) is Verdict.RETRY
    assert not idem.needs_producer_id  # b0 explains it
    acc.reenqueue(b1, 0.0)
    acc.reenqueue(b0, 0.0)  # back in sequence order whatever the order of calls
    assert drain(acc, idem) == [b0]
    assert idem.answered(b0, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) is Verdict.RETRY
    assert idem.needs_producer_id and drain(acc, idem) == []  # the broker lost us: new id first
    acc.reenqueue(b0, 0.0)
    idem.set_producer_id(2, 0)
    assert [(b.producer_id, b.base_sequence, b.encoded) for b in (b0, b1)] == [(2, 0, None), (2, 1, None)]
    assert drain(acc, idem) == [b0]


@pytest.mark.parametrize("code", [ErrorCode.UNKNOWN_PRODUCER_ID, ErrorCode.INVALID_PRODUCER_EPOCH])
@in_loop
def test_a_lost_or_fenced_producer_gets_a_new_id(code) -> None:
    _, idem, (b0,) = sending(1)
    assert idem.answered(b0, code) is Verdict.RETRY and idem.needs_producer_id


@in_loop
def test_a_reset_renumbers_only_the_partitions_that_asked_for_it() -> None:
    """Found by the property below: p0's batch may be in the log already (its answer was
    lost); a reset asked for by p1 must not renumber it, or its retry is written twice."""
    p1 = TopicPartition("t", 1)
    acc, idem, (b0,) = sending(1)
    queue_batches(acc, 1, p1)
    (b1,) = drain(acc, idem)
    idem.unanswered(b0)  # written, answer lost
    acc.reenqueue(b0, 0.0)
    assert idem.answered(b1, ErrorCode.UNKNOWN_PRODUCER_ID) is Verdict.RETRY
    acc.reenqueue(b1, 0.0)
    idem.set_producer_id(2, 0)
    assert (b0.producer_id, b0.base_sequence) == (1, 0)  # kept: the broker can recognise it
    assert (b1.producer_id, b1.base_sequence, b1.encoded) == (2, 0, None)
    queue_batches(acc, 1)  # a new p0 batch behind b0
    assert drain(acc, idem) == [b0, b1]
    assert idem.answered(b0, ErrorCode.NONE) is Verdict.DONE  # the broker's duplicate answer
    (b2,) = drain(acc, idem)
    assert (b2.producer_id, b2.base_sequence) == (2, 0)  # new identity, from 0


@in_loop
def test_a_new_batch_waits_for_its_partitions_batches_of_an_older_identity() -> None:
    p1 = TopicPartition("t", 1)
    acc, idem, (b0,) = sending(1)
    queue_batches(acc, 1, p1)
    (b1,) = drain(acc, idem)
    assert idem.answered(b1, ErrorCode.UNKNOWN_PRODUCER_ID) is Verdict.RETRY
    acc.reenqueue(b1, 0.0)
    idem.set_producer_id(2, 0)  # b0 (identity 1) still on the wire
    queue_batches(acc, 1)
    assert drain(acc, idem) == [b1]  # p0's new batch waits for b0
    assert idem.answered(b0, ErrorCode.NONE) is Verdict.DONE
    (b2,) = drain(acc, idem)
    assert (b2.producer_id, b2.base_sequence) == (2, 0)


@in_loop
def test_a_permanent_failure_leaves_the_bookkeeping_and_split_halves_take_the_sequences() -> None:
    acc, idem, (big, small) = sending(4, 1)
    halves = acc.split(big)
    idem.replace(big, halves)
    assert [(h.base_sequence, len(h.records)) for h in halves] == [(0, 2), (2, 2)] and small.base_sequence == 4
    assert drain(acc, idem) == []  # `small` is still on the wire
    assert idem.answered(small, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER) is Verdict.RETRY
    acc.reenqueue(small, 0.0)
    assert drain(acc, idem) == [halves[0]]
    assert idem.answered(halves[0], ErrorCode.CORRUPT_MESSAGE) is Verdict.RETRY
    assert idem.answered(halves[1], ErrorCode.INVALID_REQUEST) is Verdict.FAIL
    idem.forget(halves[1])
    assert not idem.needs_producer_id


# -- property: the client core against the broker core over a lossy connection -----------

OPS = st.lists(
    st.sampled_from(
        [
            "send",
            "send",
            "drain",
            "deliver",
            "deliver",
            "respond",
            "respond",
            "lose_answer",
            "lose_request",
            "not_leader",
            "refuse",
        ]
    ),
    max_size=120,
)


class Broker:
    """The broker's producer state table and a log of record values per partition."""

    def __init__(self) -> None:
        self.tables = {p: ProducerStateTable() for p in (0, 1)}
        self.logs: dict[int, list[bytes]] = {0: [], 1: []}

    def produce(self, request: list[ProducerBatch]) -> list[tuple[int, int]]:
        answers = []
        for b in request:
            table, log = self.tables[b.tp.partition], self.logs[b.tp.partition]
            verdict = table.check(b.producer_id, b.producer_epoch, b.base_sequence, len(b.records))
            if isinstance(verdict, Append):
                table.append(b.producer_id, b.producer_epoch, b.base_sequence, len(b.records), len(log))
                answers.append((0, len(log)))
                log.extend(r[1] for r in b.records)
            elif isinstance(verdict, Duplicate):
                answers.append((0, verdict.first_offset))
            else:
                answers.append((int(verdict.error), -1))
        return answers


@settings(max_examples=200, deadline=None)
@given(OPS, st.integers(1, 5))
def test_lost_requests_and_answers_never_write_a_record_twice_or_out_of_order(ops, max_in_flight) -> None:
    """Faults: a request lost on the way, an answer lost after the write (both reset the
    connection), NOT_LEADER without a write, and a permanent refusal without a write
    (which leaves a hole in the sequences: the client must reset and renumber)."""

    async def body():
        acc, idem, broker = accumulator(), IdempotenceState(), Broker()
        sent: dict[int, list[bytes]] = {0: [], 1: []}
        futures = []
        wire: deque[list[ProducerBatch]] = deque()  # requests the broker has not read
        answers: deque[tuple[list[ProducerBatch], list]] = deque()
        pids = iter(range(100, 200))

        def in_flight() -> int:
            return len(wire) + len(answers)

        def connection_lost() -> None:
            for request in [*(r for r, _ in answers), *wire]:
                for b in request:
                    idem.unanswered(b)
                    acc.reenqueue(b, 0.0)
            wire.clear()
            answers.clear()

        def step(op: str) -> None:
            if idem.needs_producer_id and in_flight() == 0 and acc.has_queued():
                idem.set_producer_id(next(pids), 0)
            if op == "send":
                p = len(futures) % 2
                value = b"%d" % len(futures)
                sent[p].append(value)
                fut, _ = acc.append(TopicPartition("t", p), None, value, None, 0, 5, 0.0)
                futures.append((p, value, fut))
            elif op == "drain" and in_flight() < max_in_flight:
                request = drain(acc, idem)
                if request:
                    wire.append(request)
            elif op in ("deliver", "lose_answer") and wire:
                request = wire.popleft()
                answers.append((request, broker.produce(request)))
                if op == "lose_answer":
                    connection_lost()
            elif op == "lose_request" and wire:
                connection_lost()
            elif (op == "not_leader" and wire) or (op == "refuse" and wire and all(b.attempts == 0 for b in wire[0])):
                # (a refusal of a first attempt only: a retry may already be in the log)
                code = ErrorCode.NOT_LEADER_OR_FOLLOWER if op == "not_leader" else ErrorCode.INVALID_REQUEST
                request = wire.popleft()
                answers.append((request, [(int(code), -1)] * len(request)))
            elif op == "respond" and answers:
                request, codes = answers.popleft()
                for b, (code, offset) in zip(request, codes, strict=True):
                    verdict = idem.answered(b, code)
                    if verdict is Verdict.DONE:
                        b.done(offset, -1)
                    elif verdict is Verdict.FAIL:
                        assert code == ErrorCode.INVALID_REQUEST, (code, verdict)
                        b.fail(RuntimeError("refused"))
                        idem.forget(b)
                    else:
                        acc.reenqueue(b, 0.0)

        for op in ops:
            step(op)
        for _ in range(10_000):  # then a clean network until all is done
            if all(f.done() for _, _, f in futures):
                break
            for op in ("drain", "deliver", "respond"):
                step(op)
        assert all(f.done() for _, _, f in futures)
        delivered = {0: [], 1: []}
        for p, value, fut in futures:
            if fut.exception() is None:
                delivered[p].append(value)
                assert broker.logs[p][fut.result().offset] == value  # duplicates answered with the first offset
        assert broker.logs == delivered  # exactly once, in order; refused ones never

    asyncio.run(body())
