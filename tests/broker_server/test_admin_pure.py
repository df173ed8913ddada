"""The pure judgements behind the admin requests: manual replica assignments
(`replica_assignment`) and ElectLeaders verdicts (`requested_election`)."""

from __future__ import annotations

from broker.metadata.replica_assignment import check_added_assignment, check_topic_assignment
from broker.metadata.requested_election import PREFERRED, UNCLEAN, requested_election
from broker.metadata.znodes import PartitionState
from client.protocol.errors import ErrorCode

LIVE = {1, 2, 3}


def test_a_topic_assignment_is_every_partition_from_0_with_one_factor_and_distinct_live_brokers() -> None:
    assert check_topic_assignment(-1, -1, [(1, [2, 3]), (0, [1, 2])], LIVE) == {0: [1, 2], 1: [2, 3]}
    cases = {
        "both": (3, -1, [(0, [1])], ErrorCode.INVALID_REQUEST),
        "gap": (-1, -1, [(0, [1]), (2, [2])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "not from 0": (-1, -1, [(1, [1])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "twice": (-1, -1, [(0, [1]), (0, [2])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "uneven": (-1, -1, [(0, [1, 2]), (1, [3])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "same broker": (-1, -1, [(0, [2, 2])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "not live": (-1, -1, [(0, [1, 4])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "empty": (-1, -1, [(0, [])], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
    }
    for why, (n, rf, given, code) in cases.items():
        refusal = check_topic_assignment(n, rf, given, LIVE)
        assert isinstance(refusal, tuple) and refusal[0] == code and refusal[1], (why, refusal)


def test_added_partitions_match_the_count_and_the_topics_factor() -> None:
    assert check_added_assignment(2, 4, 2, [[3, 1], [1, 2]], LIVE) == [[3, 1], [1, 2]]
    for why, (count, given, code) in {
        "too few": (4, [[3, 1]], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "factor": (3, [[3]], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "not live": (3, [[3, 7]], ErrorCode.INVALID_REPLICA_ASSIGNMENT),
        "shrink": (2, [], ErrorCode.INVALID_PARTITIONS),
    }.items():
        refusal = check_added_assignment(2, count, 2, given, LIVE)
        assert isinstance(refusal, tuple) and refusal[0] == code, (why, refusal)


def state(leader: int, isr: tuple[int, ...], epoch: int = 4) -> PartitionState:
    return PartitionState(leader, epoch, isr, 1)


def test_preferred_election_verdicts() -> None:
    new, why = requested_election(PREFERRED, [2, 3, 1], state(3, (3, 1, 2)), LIVE, 7)
    assert why is None and (new.leader, new.leader_epoch, new.controller_epoch) == (2, 5, 7)
    assert requested_election(PREFERRED, [2, 3], state(2, (2, 3)), LIVE, 7)[1][0] == ErrorCode.ELECTION_NOT_NEEDED
    out_of_sync = requested_election(PREFERRED, [2, 3], state(3, (3,)), LIVE, 7)
    assert out_of_sync[0] is None and out_of_sync[1][0] == ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE
    dead = requested_election(PREFERRED, [2, 3], state(3, (3, 2)), {1, 3}, 7)
    assert dead[1][0] == ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE


def test_unclean_election_verdicts() -> None:
    led = requested_election(UNCLEAN, [2, 3], state(3, (3,)), LIVE, 7)
    assert led[0] is None and led[1][0] == ErrorCode.ELECTION_NOT_NEEDED
    new, why = requested_election(UNCLEAN, [2, 3], state(-1, (2,)), {3}, 7)  # only an out-of-sync replica lives
    assert why is None and (new.leader, new.isr) == (3, (3,))
    none = requested_election(UNCLEAN, [2, 3], state(-1, (2,)), {1}, 7)
    assert none[0] is None and none[1][0] == ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE
    assert requested_election(5, [2], state(2, (2,)), LIVE, 7)[1][0] == ErrorCode.INVALID_REQUEST


def test_recompress_keeps_the_batch_but_its_codec() -> None:
    from broker.server.recompress import recompress, target_codec
    from client.protocol.compression import Compression
    from client.protocol.record_batch import build_batch, decode_batch, iter_batches, validate_batch

    batch = build_batch(
        [(b"k", b"v" * 300, None, 5), (None, b"w", None, 9)],
        producer_id=7,
        producer_epoch=2,
        base_sequence=11,
        compression=Compression.SNAPPY,
    )
    assert target_codec({}) is None and target_codec({"compression.type": "producer"}) is None
    assert recompress(batch, Compression.SNAPPY) is batch
    for codec in (Compression.NONE, Compression.GZIP, Compression.LZ4, Compression.ZSTD):
        out = recompress(batch, target_codec({"compression.type": {0: "uncompressed"}.get(codec, codec.name.lower())}))
        before, after = validate_batch(batch), validate_batch(out)
        assert after.compression == codec and [h.compression for h in iter_batches(out)] == [codec]
        assert after._replace(crc=0, batch_length=0, attributes=0) == before._replace(
            crc=0, batch_length=0, attributes=0
        )
        assert decode_batch(out) == decode_batch(batch)
