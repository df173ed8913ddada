"""A minimal blocking Kafka-protocol client for tests: typed requests over a raw socket.

Deliberately independent of `client/` (the real producer/consumer): it uses only the codec
(`client.protocol.messages`, `kafka_frames`), so the server's protocol is tested against the
message definitions alone. Requests go at the newest version the broker serves unless a test
names one.
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from typing import Any

from client.protocol import messages as m
from client.protocol.api import SUPPORTED_VERSIONS, ApiKey
from client.protocol.frames import LENGTH
from client.protocol.kafka_frames import RequestHeader, decode_response, encode_request, response_correlation_id
from client.protocol.record_batch import Record, decode_batch, iter_batches


class WireClient:
    def __init__(self, port: int, timeout: float = 10.0, client_id: str | None = "tests") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.client_id = client_id
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, api: int, body: Any, version: int | None = None) -> RequestHeader:
        """Send one request; its header (to receive the response with)."""
        version = SUPPORTED_VERSIONS[ApiKey(api)][1] if version is None else version
        header = RequestHeader(int(api), version, next(self._ids), self.client_id)
        self.sock.sendall(encode_request(header, body))
        return header

    def send_raw(self, api_key: int, version: int, rest: bytes) -> RequestHeader:
        """A request of any key and version: the fixed header, then `rest` (client id, tagged
        fields, body) exactly as given, which the codec could not have encoded."""
        header = RequestHeader(api_key, version, next(self._ids), None)
        payload = struct.pack(">hhi", api_key, version, header.correlation_id) + rest
        self.sock.sendall(LENGTH.pack(len(payload)) + payload)
        return header

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"server closed the connection ({len(buf)} of {n} bytes read)")
            buf += chunk
        return bytes(buf)

    def receive_frame(self) -> bytes:
        """The next response frame's payload (after the length prefix)."""
        (size,) = LENGTH.unpack(self._exact(4))
        return self._exact(size)

    def receive(self, header: RequestHeader) -> Any:
        """The next response, which must answer `header`'s request."""
        frame = self.receive_frame()
        assert response_correlation_id(frame) == header.correlation_id, "responses out of order"
        return decode_response(frame, header)

    def call(self, api: int, body: Any, version: int | None = None) -> Any:
        return self.receive(self.send(api, body, version))

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        """True once the server has closed this connection (EOF or reset) within `timeout`."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return False


def create_topic(
    c: WireClient,
    name: str,
    partitions: int = 1,
    replication_factor: int = 1,
    version: int | None = None,
    **configs: str,
) -> Any:
    """CreateTopics for one topic (configs as keyword arguments, `_` for `.`); its result."""
    req = m.CreateTopicsRequest(
        timeout_ms=30000,
        topics=[
            m.CreateTopicsRequest.CreatableTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                configs=[
                    m.CreateTopicsRequest.CreateableTopicConfig(name=k.replace("_", "."), value=v)
                    for k, v in configs.items()
                ],
            )
        ],
    )
    return c.call(ApiKey.CREATE_TOPICS, req, version).topics[0]


def produce_request(topic: str, partition: int, records: bytes | None, acks: int = 1, timeout_ms: int = 10000) -> Any:
    return m.ProduceRequest(
        acks=acks,
        timeout_ms=timeout_ms,
        topic_data=[
            m.ProduceRequest.TopicProduceData(
                name=topic, partition_data=[m.ProduceRequest.PartitionProduceData(index=partition, records=records)]
            )
        ],
    )


def produce(
    c: WireClient, topic: str, partition: int, records: bytes | None, acks: int = 1, version: int | None = None
) -> Any:
    """Produce one partition's records; that partition's PartitionProduceResponse."""
    return (
        c.call(ApiKey.PRODUCE, produce_request(topic, partition, records, acks), version)
        .responses[0]
        .partition_responses[0]
    )


def fetch_request(
    partitions: list[tuple[str, int, int]],
    max_wait_ms: int = 0,
    min_bytes: int = 1,
    max_bytes: int = 52428800,
    partition_max_bytes: int = 1048576,
    replica_id: int = -1,
) -> Any:
    """A sessionless Fetch of (topic, partition, offset)s, one FetchTopic per partition."""
    return m.FetchRequest(
        replica_id=replica_id,
        max_wait_ms=max_wait_ms,
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        session_epoch=-1,
        topics=[
            m.FetchRequest.FetchTopic(
                topic=t,
                partitions=[
                    m.FetchRequest.FetchPartition(partition=p, fetch_offset=o, partition_max_bytes=partition_max_bytes)
                ],
            )
            for t, p, o in partitions
        ],
    )


def fetch(
    c: WireClient, topic: str, partition: int, offset: int, version: int | None = None, **opts: int
) -> tuple[Any, bytes]:
    """Fetch one partition; its PartitionData and its record bytes."""
    response = c.call(ApiKey.FETCH, fetch_request([(topic, partition, offset)], **opts), version)
    part = response.responses[0].partitions[0]
    return part, bytes(part.records or b"")


def list_offset(c: WireClient, topic: str, partition: int, timestamp: int, version: int | None = None) -> Any:
    req = m.ListOffsetsRequest(
        replica_id=-1,
        topics=[
            m.ListOffsetsRequest.ListOffsetsTopic(
                name=topic,
                partitions=[m.ListOffsetsRequest.ListOffsetsPartition(partition_index=partition, timestamp=timestamp)],
            )
        ],
    )
    return c.call(ApiKey.LIST_OFFSETS, req, version).topics[0].partitions[0]


def metadata(c: WireClient, topics: list[str] | None, auto_create: bool = False, version: int | None = None) -> Any:
    req = m.MetadataRequest(
        allow_auto_topic_creation=auto_create,
        topics=None if topics is None else [m.MetadataRequest.MetadataRequestTopic(name=t) for t in topics],
    )
    return c.call(ApiKey.METADATA, req, version)


def records_of(data: bytes) -> list[Record]:
    """Every record of the whole batches in Fetch record bytes (a partial last batch is skipped)."""
    out, pos = [], 0
    for header in iter_batches(data):
        out.extend(decode_batch(data, pos))
        pos += header.size
    return out
