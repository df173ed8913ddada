"""coord's limits, against a real `python -m coord start` process: many connections from one
address (maxClientCnxns), 2,000 sockets that never send a ConnectRequest, a session that stalls
mid-frame, the four-letter-word whitelist, and recursive watches that must not report nodes
the watcher may not read (CVE-2024-23944)."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl

from coord.client import CoordClient
from coord.client.four_letter import four_letter
from coord.protocol import records as R
from coord.protocol.framing import frame
from coord.protocol.opcodes import OpCode
from tests.coord_server.rawclient import RawClient
from tests.limits.measure import close_all, closed_by_server, fd_count, open_from, rss_mb, still_open
from tests.support.ports import free_port
from tests.support.procs import ProcessGroup, wait_for_port
from tests.support.waiting import wait_until

# ConnectRequest: protocol 0, zxid 0, timeout 30000, session 0, 16-byte password, readOnly false.
CONNECT = bytes.fromhex(
    "0000002d000000000000000000000000000075300000000000000000000000100000000000000000000000000000000000"
)


class Coord:
    def __init__(self, procs: ProcessGroup, tmp: Path, settings: str = "") -> None:
        self.port = free_port()
        config = tmp / "coord.toml"
        config.write_text(settings)
        self.proc = procs.start_coord(
            "coord",
            "start",
            "--data-dir",
            str(tmp / "data"),
            "--client-port",
            str(self.port),
            "--tick-ms",
            "200",
            "--config",
            str(config),
        )
        wait_for_port(self.port)

    def client(self, **kw) -> KazooClient:
        kz = KazooClient(hosts=f"127.0.0.1:{self.port}", timeout=5, **kw)
        kz.start(timeout=10)
        return kz

    def served(self) -> bool:
        kz = self.client()
        try:
            return kz.exists("/") is not None
        finally:
            kz.stop()
            kz.close()


def test_only_srvr_is_allowed_by_default_and_the_whitelist_widens_it(procs, tmp_path):
    coord = Coord(procs, tmp_path)
    assert four_letter("127.0.0.1", coord.port, "mntr") == "mntr is not executed because it is not in the whitelist.\n"
    assert four_letter("127.0.0.1", coord.port, "ruok").startswith("ruok is not executed")
    assert "Mode: standalone" in four_letter("127.0.0.1", coord.port, "srvr")
    procs.stop("coord")
    (tmp_path / "wide").mkdir()
    wide = Coord(procs, tmp_path / "wide", '"4lw.commands.whitelist" = "mntr, ruok"\n')
    assert "zk_server_state\tstandalone" in four_letter("127.0.0.1", wide.port, "mntr")
    assert four_letter("127.0.0.1", wide.port, "ruok") == "imok"
    assert "Mode: standalone" in four_letter("127.0.0.1", wide.port, "srvr")  # always, as ZooKeeper


def test_one_address_gets_at_most_max_client_cnxns(procs, tmp_path):
    coord = Coord(procs, tmp_path)
    base_fds = fd_count(coord.proc.pid)
    hog = open_from("127.0.0.2", coord.port, 100)
    try:
        wait_until(
            "the server closing all but 60 of one address's 100 connections",
            lambda: sum(still_open(s) for s in hog) == 60,
            10,
        )
        assert fd_count(coord.proc.pid) <= base_fds + 65
        assert coord.served()
    finally:
        close_all(hog)


def test_two_thousand_sockets_without_a_connect_request_are_closed(procs, tmp_path):
    coord = Coord(procs, tmp_path, "sessionless_cnxn_timeout_ms = 3000\n")
    base_fds, base_rss = fd_count(coord.proc.pid), rss_mb(coord.proc.pid)
    socks = []
    try:
        for i in range(40):  # 2,000 sockets, 50 from each of 40 addresses
            socks += open_from(f"127.0.0.{i + 2}", coord.port, 50, b"\x00\x00")
        wait_until("1900 connections open on the server", lambda: fd_count(coord.proc.pid) >= base_fds + 1900, 10)
        assert coord.served()
        assert rss_mb(coord.proc.pid) - base_rss < 100
        wait_until(
            "the server closed the connections (at most 20 descriptors above the start)",
            lambda: fd_count(coord.proc.pid) <= base_fds + 20,
            15,
        )
        assert not any(still_open(s) for s in socks[::97])
    finally:
        close_all(socks)


def test_a_session_that_stalls_mid_frame_is_closed_when_it_expires(procs, tmp_path):
    coord = Coord(procs, tmp_path)
    s = socket.create_connection(("127.0.0.1", coord.port), timeout=5)
    try:
        s.sendall(CONNECT)
        s.recv(4096)  # the ConnectResponse (session timeout capped at 20 ticks: 4 s)
        s.sendall(struct.pack(">i", 1000) + b"\x00" * 10)
        assert closed_by_server(s, 15)
        assert coord.served()
    finally:
        s.close()


def test_a_recursive_watch_reports_only_nodes_the_watcher_may_read(procs, tmp_path):
    coord = Coord(procs, tmp_path)
    owner = coord.client(auth_data=[("digest", "alice:secret")])
    only_alice = [make_digest_acl("alice", "secret", all=True)]

    async def spy() -> list[str]:
        seen: list[str] = []
        got = asyncio.Event()

        def watched(event) -> None:
            seen.append(event.path)
            if event.path == "/open":
                got.set()

        async with CoordClient(f"127.0.0.1:{coord.port}") as client:
            await client.add_watch("/", watched, recursive=True)
            await asyncio.to_thread(changes)
            await asyncio.wait_for(got.wait(), 10)
        return seen

    def changes() -> None:
        owner.create("/secret/child", b"token", acl=only_alice)
        owner.set("/secret", b"changed")
        owner.delete("/secret/child")
        owner.create("/open", b"")

    try:
        owner.create("/secret", acl=only_alice)
        seen = asyncio.run(spy())
        assert "/open" in seen and not [p for p in seen if p.startswith("/secret")], seen
    finally:
        owner.stop()
        owner.close()


def test_global_outstanding_limit_bounds_unanswered_requests_over_all_clients(procs, tmp_path):
    coord = Coord(procs, tmp_path, 'global_outstanding_limit = 20\nfour_letter_whitelist = "cons"\n')
    clients = [RawClient(coord.port) for _ in range(5)]
    try:
        for n, c in enumerate(clients):  # 2,000 creates each, in one go, answers unread for now
            c.sock.sendall(
                b"".join(
                    frame(
                        R.RequestHeader(i + 1, int(OpCode.create)).to_bytes()
                        + R.CreateRequest(f"/c{n}-{i}", b"", R.OPEN_ACL_UNSAFE, 0).to_bytes()
                    )
                    for i in range(2000)
                )
            )
        most, deadline = 0, time.monotonic() + 3
        while time.monotonic() < deadline:
            cons = four_letter("127.0.0.1", coord.port, "cons")
            most = max(most, sum(int(q) for q in re.findall(r"queued=(\d+)", cons)))
        # each connection may add one request past the limit before it stops reading
        assert most <= 20 + len(clients), f"{most} requests unanswered at once"
        assert coord.served()
    finally:
        for c in clients:
            c.close()
