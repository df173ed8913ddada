"""The produce path runs the leader's validator: a batch whose header lies, an unknown
codec or a keyless record on a compacted topic is refused with Kafka's error code, and
nothing of it is stored (the next good batch still gets offset 0)."""

from __future__ import annotations

from client.protocol.errors import ErrorCode
from client.protocol.record_batch import HEADER_SIZE, build_batch, decode_batch, pack_batch, read_header
from tests.broker_server.wire import WireClient, create_topic, fetch, produce


def _lying(records) -> bytes:
    """A batch of `records` whose header (crc recomputed) claims one record more."""
    honest = build_batch(records)
    h = read_header(honest)
    return pack_batch(
        honest[HEADER_SIZE:],
        base_offset=0,
        record_count=h.record_count + 1,
        last_offset_delta=h.last_offset_delta + 1,
        attributes=h.attributes,
        base_timestamp=h.base_timestamp,
        max_timestamp=h.max_timestamp,
    )


def test_refused_batches_store_nothing(shared_node) -> None:
    with WireClient(shared_node.broker_port) as c:
        create_topic(c, "validated")
        create_topic(c, "validated-compact", cleanup_policy="compact")
        lying = produce(c, "validated", 0, _lying([(b"k", b"v", None, 1), (b"k", b"w", None, 2)]))
        assert lying.error_code == ErrorCode.INVALID_RECORD and "end inside record 2 of 3" in lying.error_message
        codec7 = pack_batch(
            bytes(build_batch([(b"k", b"v", None, 1)]))[HEADER_SIZE:],
            base_offset=0,
            record_count=1,
            last_offset_delta=0,
            attributes=7,
            base_timestamp=1,
            max_timestamp=1,
        )
        assert produce(c, "validated", 0, codec7).error_code == ErrorCode.CORRUPT_MESSAGE
        keyless = produce(c, "validated-compact", 0, build_batch([(b"k", b"v", None, 1), (None, b"v", None, 1)]))
        assert keyless.error_code == ErrorCode.INVALID_RECORD and "without a key" in keyless.error_message
        assert [e.batch_index for e in keyless.record_errors] == [1]  # v8+: which record (KIP-467)

        assert produce(c, "validated", 0, build_batch([(None, b"good", [("h", None)], 5)])).base_offset == 0
        assert produce(c, "validated-compact", 0, build_batch([(b"k", b"good", None, 5)])).base_offset == 0
        _, tail = fetch(c, "validated", 0, 0)
        assert [(r.offset, r.value, r.headers) for r in decode_batch(tail)] == [(0, b"good", [("h", None)])]
