"""A minimal blocking client for tests: send requests over a raw socket, read responses.

Deliberately independent of `client/` (the real producer/consumer), so the server's
protocol is tested against the frame definitions alone.
"""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any

from client.protocol.api import ApiKey
from client.protocol.frames import LENGTH, Response, decode_response, encode_request
from client.protocol.record_batch import decode_batch, iter_batches


class WireClient:
    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "WireClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, api: ApiKey, body: Any, version: int = 0) -> int:
        cid = next(self._ids)
        self.sock.sendall(encode_request(api, version, cid, "tests", body))
        return cid

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"server closed the connection ({len(buf)} of {n} bytes read)")
            buf += chunk
        return bytes(buf)

    def receive(self) -> Response:
        (size,) = LENGTH.unpack(self._exact(4))
        return decode_response(self._exact(size))

    def call(self, api: ApiKey, body: Any, version: int = 0) -> dict:
        cid = self.send(api, body, version)
        resp = self.receive()
        assert resp.correlation_id == cid
        return resp.body

    def fetch(self, body: Any) -> tuple[dict, bytes]:
        cid = self.send(ApiKey.FETCH, body)
        resp = self.receive()
        assert resp.correlation_id == cid
        return resp.body, bytes(resp.tail)

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
        except socket.timeout:
            return False
        return False


def create_topic(c: WireClient, name: str, partitions: int = 1, **configs: str) -> dict:
    body = c.call(ApiKey.CREATE_TOPICS, {"topics": [
        {"name": name, "num_partitions": partitions, "replication_factor": 1,
         "configs": {k.replace("_", "."): v for k, v in configs.items()}}]})
    return body["topics"][0]


def produce(c: WireClient, topic: str, partition: int, records: bytes, acks: int = 1) -> dict:
    body = c.call(ApiKey.PRODUCE, {"acks": acks, "timeout_ms": 10000, "partitions": [
        {"topic": topic, "partition": partition, "records": records}]})
    return body["partitions"][0]


def fetch(c: WireClient, topic: str, partition: int, offset: int, **opts: int) -> tuple[dict, bytes]:
    body, tail = c.fetch({"max_wait_ms": opts.pop("max_wait_ms", 0), "min_bytes": opts.pop("min_bytes", 1),
                          "partitions": [{"topic": topic, "partition": partition, "fetch_offset": offset}],
                          **opts})
    return body["partitions"][0], tail


def records_of(tail: bytes) -> list:
    """Every record of the whole batches in a Fetch tail (a partial last batch is skipped)."""
    out, pos = [], 0
    for header in iter_batches(tail):
        out.extend(decode_batch(tail, pos))
        pos += header.size
    return out
