"""Reading and appending `__consumer_offsets` records through a partition this broker leads.

The coordinator shell sees a partition only through this adapter: `read_records` scans
the log from its start to its log end offset and decodes each record's key and value
(loading after a leadership change); `append` writes the records as one batch stamped
with the leader epoch, exactly as a Produce would, and returns a future that ends once
the high watermark passes the batch (acks=all, through the partition's replication
core). It works on the server's `Partition` by duck typing (log, leader_epoch,
high_watermark, produce) so the replication code can change that class freely as long
as those stay. It must never decide anything about groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from broker.groups.records import Record
from broker.refusal import RequestRefusedError
from client.protocol.api import ACKS_ALL
from client.protocol.record_batch import build_batch, decode_batch, iter_batches

READ_CHUNK_BYTES = 1 << 20
APPEND_TIMEOUT_MS = 30_000  # Kafka's offsets.commit.timeout.ms is 5 s; replication here may be slower


class PartitionIO:
    def __init__(self, partition: Any, appended: Callable[[str, int], None]) -> None:
        self.part = partition
        self._appended = appended

    @property
    def leader_epoch(self) -> int:
        return int(self.part.leader_epoch)

    def read_records(self) -> Iterator[Record]:
        """Everything in the new leader's log, to its log END offset, as Kafka's loader reads:
        after a failover the leader's high watermark lags (followers learn it one fetch
        late), yet every write acknowledged under acks=all is in its log, and as leader its
        log is what the followers will converge on."""
        plog = self.part.log
        offset, end = plog.log_start_offset, plog.log_end_offset
        while offset < end:
            with plog.read(offset, READ_CHUNK_BYTES, max_offset=end) as chunk:
                data = chunk.read_bytes()
            if not data:
                return
            pos = 0
            for header in iter_batches(data):
                for record in decode_batch(data, pos):
                    if record.key is not None and record.offset >= offset:
                        yield Record(bytes(record.key), None if record.value is None else bytes(record.value))
                pos += header.size
                offset = header.last_offset + 1

    def append(self, records: Sequence[Record], now_ms: int) -> asyncio.Future:
        part = self.part
        batch = build_batch([(r.key, r.value, None, now_ms) for r in records])
        produced = part.produce(batch, ACKS_ALL, APPEND_TIMEOUT_MS)
        self._appended(part.topic, part.partition)
        written: asyncio.Future = asyncio.get_running_loop().create_future()

        def done(fut: asyncio.Future) -> None:
            if written.done():
                return
            if fut.cancelled():
                written.cancel()
            elif (exc := fut.exception()) is not None:
                written.set_exception(exc)
            elif fut.result().error:
                result = fut.result()
                written.set_exception(AppendRefusedError(int(result.error), result.message or "append refused"))
            else:
                written.set_result(None)

        produced.add_done_callback(done)
        return written


class AppendRefusedError(RequestRefusedError):
    """The partition refused or could not replicate an offsets write; `code` says why."""
