"""The broker's limits, against a real `pybroker start` process: a client that sends without
reading, idle and slow (slowloris) connections, many connections from one address, and a
Fetch naming one partition thousands of times. Each time the broker's memory and descriptors
stay bounded and another client is served."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.kafka_frames import RequestHeader, encode_request
from client.protocol.record_batch import build_batch
from tests.broker_server.wire import WireClient, create_topic, fetch_request, metadata, produce
from tests.limits.measure import close_all, closed_by_server, fd_count, keepalive_on, open_from, rss_mb, still_open
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.waiting import wait_until


class Node:
    def __init__(self, procs: ProcessGroup, tmp: Path, settings: str) -> None:
        self.port, coord_port = free_ports(2)
        config = tmp / "broker.toml"
        config.write_text(settings)
        self.proc = procs.start(
            "node",
            "start",
            "--data-dir",
            str(tmp / "data"),
            "--broker-port",
            str(self.port),
            "--coord-port",
            str(coord_port),
            "--config",
            str(config),
        )
        wait_for_port(self.port, timeout=30)
        self.procs = procs

    @property
    def pid(self) -> int:
        return self.proc.pid

    def served(self) -> bool:
        """Another client (from 127.0.0.1) gets a Metadata answer within 5 s."""
        with WireClient(self.port, timeout=5) as c:
            return metadata(c, None).brokers[0].port == self.port


def _node(procs: ProcessGroup, tmp_path: Path, settings: str = "") -> Node:
    node = Node(procs, tmp_path, settings)
    assert node.served(), procs.log_text("node")
    return node


def test_a_client_that_sends_without_reading_is_stopped_by_its_own_socket(procs, tmp_path):
    node = _node(procs, tmp_path)
    with WireClient(node.port) as c:
        assert create_topic(c, "wide", partitions=100).error_code == 0
        metadata(c, ["wide"])
    before = rss_mb(node.pid)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", node.port))
    s.settimeout(3)
    body = m.MetadataRequest(
        allow_auto_topic_creation=False, topics=[m.MetadataRequest.MetadataRequestTopic(name="wide")]
    )
    frames = b"".join(encode_request(RequestHeader(int(ApiKey.METADATA), 9, i, "greedy"), body) for i in range(1000))
    sent, deadline = 0, time.monotonic() + 20
    try:
        while sent < 100 and time.monotonic() < deadline:  # 100,000 requests, ~3.5 KB answers each
            s.sendall(frames)
            sent += 1
    except TimeoutError:
        pass  # the broker stopped reading: what we want
    assert node.served()
    grown = 0.0
    for _ in range(50):  # the peak over 5 s: what the broker buffered while it could
        grown = max(grown, rss_mb(node.pid) - before)
        time.sleep(0.1)
    s.close()
    assert grown < 35, f"the broker grew by {grown:.0f} MB buffering answers nobody reads ({sent}000 sent)"


def test_idle_connections_are_closed_after_connections_max_idle_ms(procs, tmp_path):
    node = _node(procs, tmp_path, '"connections.max.idle.ms" = 2000\n')
    base_fds, base_rss = fd_count(node.pid), rss_mb(node.pid)
    socks = []
    try:
        for i in range(40):  # 2,000 sockets from 40 addresses
            socks += open_from(f"127.0.0.{i + 2}", node.port, 50)
        wait_until("1900 connections open on the broker", lambda: fd_count(node.pid) >= base_fds + 1900, 20)
        assert node.served()
        assert rss_mb(node.pid) - base_rss < 100
        wait_until(
            "the broker closed the connections (at most 20 descriptors above the start)",
            lambda: fd_count(node.pid) <= base_fds + 20,
            15,
        )
        assert not any(still_open(s) for s in socks[::97])
        assert node.served()
    finally:
        close_all(socks)


def test_a_slowloris_is_closed_when_idle_and_others_are_served(procs, tmp_path):
    node = _node(procs, tmp_path, '"connections.max.idle.ms" = 2000\n')
    base_fds = fd_count(node.pid)
    # Each says a 1 MB request follows, sends 100 bytes of it, and stops.
    socks = open_from("127.0.0.2", node.port, 200, struct.pack(">i", 1 << 20) + bytes(100))
    try:
        assert node.served()
        assert all(closed_by_server(s, 10) for s in socks[::20])
        wait_until(
            "the broker closed the connections (at most 20 descriptors above the start)",
            lambda: fd_count(node.pid) <= base_fds + 20,
            10,
        )
    finally:
        close_all(socks)


def test_one_address_cannot_take_more_than_max_connections_per_ip(procs, tmp_path):
    node = _node(
        procs, tmp_path, '"max.connections.per.ip" = 10\n"max.connections.per.ip.overrides" = "127.0.0.3:30"\n'
    )
    base_fds = fd_count(node.pid)
    hog = open_from("127.0.0.2", node.port, 100)
    favoured = open_from("127.0.0.3", node.port, 40)
    try:
        time.sleep(1)
        assert sum(still_open(s) for s in hog) == 10
        assert sum(still_open(s) for s in favoured) == 30
        assert fd_count(node.pid) <= base_fds + 40 + 5
        assert node.served()
        assert keepalive_on(node.port)
    finally:
        close_all(hog + favoured)


def test_max_connections_closes_new_connections_over_the_limit(procs, tmp_path):
    node = _node(procs, tmp_path, '"max.connections" = 20\n')
    socks = []
    try:
        for i in range(5):
            socks += open_from(f"127.0.0.{i + 2}", node.port, 10)
        time.sleep(1)
        # The node's controller talks to its own broker over one connection, which counts too.
        assert 18 <= sum(still_open(s) for s in socks) <= 20
        close_all(socks[:10])
        time.sleep(0.5)
        assert node.served()  # a freed slot is used again
    finally:
        close_all(socks)


def test_a_fetch_naming_one_partition_many_times_reads_it_once(procs, tmp_path):
    node = _node(procs, tmp_path)
    with WireClient(node.port) as c:
        assert create_topic(c, "dup").error_code == 0
        metadata(c, ["dup"])
        assert produce(c, "dup", 0, build_batch([(None, b"x" * 1000, None, 1)])).error_code == 0
    base_fds = fd_count(node.pid)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", node.port))
    request = fetch_request([("dup", 0, 0)] * 3000)
    header = RequestHeader(int(ApiKey.FETCH), 12, 1, "dup")
    s.sendall(encode_request(header, request))
    try:
        time.sleep(2)  # the answer cannot leave: we do not read
        held = fd_count(node.pid) - base_fds
        assert held < 50, f"one Fetch holds {held} descriptors"
        assert node.served()
    finally:
        s.close()


def test_queued_max_request_bytes_stops_reading_and_drops_nothing(procs, tmp_path):
    node = _node(procs, tmp_path, '"queued.max.request.bytes" = 300000\n')
    with WireClient(node.port) as c:
        assert create_topic(c, "quiet").error_code == 0
        metadata(c, ["quiet"])
    # 20 long polls of 3 s on an empty partition, each 50 KB (a long rack id): 1 MB unanswered
    poll = fetch_request([("quiet", 0, 0)], max_wait_ms=3000)
    poll.rack_id = "r" * 50_000
    with WireClient(node.port, timeout=30) as greedy:
        headers = [greedy.send(ApiKey.FETCH, poll, 12) for _ in range(20)]
        time.sleep(0.5)
        started = time.monotonic()
        assert node.served()  # waits: no connection reads while the bound is reached
        waited = time.monotonic() - started
        answers = [greedy.receive(h) for h in headers]  # nothing dropped
    assert all(a.error_code == 0 for a in answers)
    assert waited > 1.5, f"another client was read after {waited:.2f} s with 1 MB unanswered"
