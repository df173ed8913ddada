"""Which broker errors the consumer retries (and how), and which reach the application;
what the Fetcher does with each kind in a Fetch answer (no broker: answers are handed to
it directly); the metadata cache forgetting a refused leader; the admin client's
controller-moved test."""

from __future__ import annotations

import pytest

from client.admin import _controller_moved
from client.client import NetworkClient
from client.cluster import ClusterMetadata
from client.consumer.fetcher import FetchAction, Fetcher, classify_error
from client.consumer.subscription_state import SubscriptionState
from client.protocol import messages as m
from client.protocol.errors import INVALID_METADATA, RETRIABLE, CorruptMessageError, ErrorCode, OffsetOutOfRangeError
from client.protocol.record_batch import build_batch
from client.structs import TopicPartition
from tests.client.metadata import metadata_response


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.NOT_LEADER_OR_FOLLOWER,
        ErrorCode.FENCED_LEADER_EPOCH,
        ErrorCode.UNKNOWN_LEADER_EPOCH,
        ErrorCode.LEADER_NOT_AVAILABLE,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.KAFKA_STORAGE_ERROR,
    ],
)
def test_leadership_errors_refresh_metadata_and_retry(code: ErrorCode) -> None:
    assert classify_error(code, "latest") is FetchAction.REFRESH
    assert classify_error(code, "none") is FetchAction.REFRESH


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.REQUEST_TIMED_OUT,
        ErrorCode.REPLICA_NOT_AVAILABLE,
        ErrorCode.NETWORK_EXCEPTION,
        ErrorCode.OFFSET_NOT_AVAILABLE,
        ErrorCode.NOT_ENOUGH_REPLICAS,
    ],
)
def test_other_retriable_errors_back_off_and_retry(code: ErrorCode) -> None:
    assert classify_error(code, "earliest") is FetchAction.RETRY


def test_offset_out_of_range_resets_unless_reset_is_none() -> None:
    assert classify_error(ErrorCode.OFFSET_OUT_OF_RANGE, "earliest") is FetchAction.RESET
    assert classify_error(ErrorCode.OFFSET_OUT_OF_RANGE, "latest") is FetchAction.RESET
    assert classify_error(ErrorCode.OFFSET_OUT_OF_RANGE, "none") is FetchAction.RAISE


@pytest.mark.parametrize(
    "code",
    [
        ErrorCode.CORRUPT_MESSAGE,
        ErrorCode.UNKNOWN_SERVER_ERROR,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.UNSUPPORTED_VERSION,
        12345,
    ],
)
def test_permanent_errors_reach_the_application(code: int) -> None:
    assert classify_error(code, "earliest") is FetchAction.RAISE


def test_every_code_has_exactly_one_action() -> None:
    for code in ErrorCode:
        if code is ErrorCode.NONE:
            continue
        action = classify_error(code, "earliest")
        if code in INVALID_METADATA:
            assert action is FetchAction.REFRESH, code
        elif code in RETRIABLE and code is not ErrorCode.CORRUPT_MESSAGE:
            assert action is FetchAction.RETRY, code
        elif code is not ErrorCode.OFFSET_OUT_OF_RANGE:
            assert action is FetchAction.RAISE, code
    assert INVALID_METADATA <= RETRIABLE


def metadata(leader: int) -> ClusterMetadata:
    cluster = ClusterMetadata()
    cluster.update(metadata_answer(leader))
    return cluster


def metadata_answer(leader: int) -> m.MetadataResponse:
    return metadata_response(
        {i: ("h", 9000 + i) for i in (1, 2, 3)},
        controller_id=1,
        topics={"t": [(0, leader, 4, [1, 2, 3], [1, 2, 3]), (1, 2, 1, [1, 2, 3], [1, 2, 3])]},
    )


def test_a_forgotten_leader_stays_unknown_until_the_next_update() -> None:
    cluster = metadata(leader=1)
    cluster.forget_leader(TopicPartition("t", 0))
    assert cluster.leader_for(TopicPartition("t", 0)) is None
    assert cluster.leader_for(TopicPartition("t", 1)) == 2  # other partitions keep theirs
    assert cluster.available_partitions_for("t") == [1]
    cluster.forget_leader(TopicPartition("t", 9))  # unknown partition: nothing to forget
    cluster.update(metadata_answer(leader=3))
    assert cluster.leader_for(TopicPartition("t", 0)) == 3


def test_not_controller_anywhere_in_an_answer_means_send_again() -> None:
    created = m.CreateTopicsResponse.CreatableTopicResult
    assert _controller_moved(
        m.CreateTopicsResponse(
            topics=[created(name="a", error_code=0), created(name="b", error_code=ErrorCode.NOT_CONTROLLER)]
        )
    )
    assert not _controller_moved(
        m.CreateTopicsResponse(topics=[created(name="a", error_code=ErrorCode.TOPIC_ALREADY_EXISTS)])
    )
    assert not _controller_moved(m.CreateTopicsResponse(topics=[]))
    deleted = m.DeleteTopicsResponse.DeletableTopicResult
    assert _controller_moved(m.DeleteTopicsResponse(responses=[deleted(name="a", error_code=ErrorCode.NOT_CONTROLLER)]))


def fetcher_at(offset: int, reset: str = "earliest") -> Fetcher:
    client = NetworkClient("127.0.0.1:1", client_id="t", request_timeout_ms=1000, retry_backoff_ms=100)
    client.cluster = metadata(leader=1)
    subs = SubscriptionState(reset)
    subs.assign([TopicPartition("t", 0), TopicPartition("t", 1)])
    subs.seek(TopicPartition("t", 0), offset)
    subs.seek(TopicPartition("t", 1), 0)
    return Fetcher(
        client,
        subs,
        fetch_max_wait_ms=100,
        fetch_min_bytes=1,
        fetch_max_bytes=1 << 20,
        max_partition_fetch_bytes=1 << 20,
    )


def answer(fetcher: Fetcher, code: int, top_level: bool = False) -> None:
    """A Fetch answer for t-0 (fetched at offset 7): refused as a whole (Fetch v7+) or for the partition."""
    r = m.FetchResponse
    entry = r.PartitionData(partition_index=0, error_code=0 if top_level else code, high_watermark=-1)
    fetcher._handle_response(
        r(error_code=code if top_level else 0, responses=[r.FetchableTopicResponse(topic="t", partitions=[entry])]),
        {TopicPartition("t", 0): 7},
    )


@pytest.mark.parametrize("top_level", [False, True])
async def test_not_leader_forgets_the_leader_and_backs_the_partition_off(top_level: bool) -> None:
    fetcher = fetcher_at(7)
    answer(fetcher, ErrorCode.NOT_LEADER_OR_FOLLOWER, top_level)
    assert fetcher.fetched_records(10) == []  # nothing raised
    assert fetcher.client.cluster.leader_for(TopicPartition("t", 0)) is None
    assert fetcher.client.cluster.leader_for(TopicPartition("t", 1)) == 2
    assert fetcher.subs.state(TopicPartition("t", 0)).position == 7  # the position is kept
    assert TopicPartition("t", 0) in fetcher._backoff_until
    await fetcher.client.close()


async def test_a_retriable_error_backs_off_without_forgetting_the_leader() -> None:
    fetcher = fetcher_at(7)
    answer(fetcher, ErrorCode.REQUEST_TIMED_OUT)
    assert fetcher.fetched_records(10) == []
    assert fetcher.client.cluster.leader_for(TopicPartition("t", 0)) == 1
    assert TopicPartition("t", 0) in fetcher._backoff_until
    await fetcher.client.close()


async def test_out_of_range_resets_or_raises() -> None:
    fetcher = fetcher_at(7, reset="earliest")
    answer(fetcher, ErrorCode.OFFSET_OUT_OF_RANGE)
    assert fetcher.subs.needs_reset() == [(TopicPartition("t", 0), "earliest")]
    strict = fetcher_at(7, reset="none")
    answer(strict, ErrorCode.OFFSET_OUT_OF_RANGE)
    with pytest.raises(OffsetOutOfRangeError):
        strict.fetched_records(10)
    assert strict.subs.state(TopicPartition("t", 0)).position == 7
    await fetcher.client.close()
    await strict.client.close()


async def test_corrupt_message_reaches_the_application() -> None:
    fetcher = fetcher_at(7)
    answer(fetcher, ErrorCode.CORRUPT_MESSAGE)
    with pytest.raises(CorruptMessageError):
        fetcher.fetched_records(10)
    await fetcher.client.close()


async def test_records_are_whole_batches_and_a_partial_last_one_is_fetched_again() -> None:
    fetcher = fetcher_at(1)
    batches = [
        build_batch([(b"k%d" % i, b"v%d" % i, [], 1000 + i) for i in range(first, first + 2)], base_offset=first)
        for first in (0, 2, 4)
    ]
    records = memoryview(batches[0] + batches[1] + batches[2][:30])  # max_bytes cut the third batch
    r = m.FetchResponse
    fetcher._handle_response(
        r(
            responses=[
                r.FetchableTopicResponse(
                    topic="t", partitions=[r.PartitionData(partition_index=0, high_watermark=6, records=records)]
                )
            ]
        ),
        {TopicPartition("t", 0): 1},
    )
    got = fetcher.fetched_records(10)
    assert [(rec.offset, rec.key, rec.value) for rec in got] == [
        (1, b"k1", b"v1"),
        (2, b"k2", b"v2"),
        (3, b"k3", b"v3"),
    ]  # offset 0 was below the position
    assert fetcher.subs.state(TopicPartition("t", 0)).position == 4  # the cut batch is fetched again from 4
    assert fetcher.subs.state(TopicPartition("t", 0)).high_watermark == 6
    await fetcher.client.close()
