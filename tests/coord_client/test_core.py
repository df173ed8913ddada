"""The client's sans-I/O core and watch registry, without any socket: xid matching,
lastZxidSeen, watch registration rules and fan-out, SetWatches contents."""

from __future__ import annotations

import pytest

from coord.client.core import WATCH_CHILD, WATCH_EXISTS, ClientCore, Notify, ProtocolError, Reply
from coord.client.watches import WatchedEvent, WatchRegistry
from coord.protocol import records as R
from coord.protocol.errors import ErrorCode
from coord.protocol.jute import JuteReader, JuteWriter
from coord.protocol.opcodes import EventType as E
from coord.protocol.opcodes import KeeperState, OpCode


def reply(xid: int, zxid: int, err: int = 0, body=None) -> bytes:
    w = JuteWriter()
    R.ReplyHeader(xid, zxid, err).encode(w)
    if body is not None:
        body.encode(w)
    return w.getvalue()


def test_replies_match_xids_in_order_and_track_last_zxid() -> None:
    core = ClientCore()
    f1 = core.request(OpCode.getData, R.GetDataRequest("/a", False), "t1", "/a")
    core.request(OpCode.delete, R.DeleteRequest("/b", -1), "t2", "/b")
    header = R.RequestHeader.decode(JuteReader(f1[4:]))
    assert header == (1, OpCode.getData)
    stat = R.Stat(*range(11))
    out = core.receive(reply(1, 0x10, 0, R.GetDataResponse(b"v", stat)))
    assert out == Reply("t1", OpCode.getData, 0, R.GetDataResponse(b"v", stat), "/a")
    assert core.receive(reply(-2, 0x11)) is None  # ping reply
    assert core.receive(reply(2, 0x5, ErrorCode.NONODE)).err == ErrorCode.NONODE
    assert core.last_zxid == 0x11


def test_out_of_order_reply_is_a_protocol_error() -> None:
    core = ClientCore()
    core.request(OpCode.sync, R.SyncRequest("/"), "t1")
    with pytest.raises(ProtocolError, match="reply xid 7 but the oldest request is 1"):
        core.receive(reply(7, 1))
    with pytest.raises(ProtocolError, match="undecodable"):
        core.receive(b"\x00\x01")


def test_watch_registered_only_when_the_server_set_it() -> None:
    core = ClientCore()
    calls: list = []
    core.request(OpCode.exists, R.ExistsRequest("/x", True), "t", "/x", (WATCH_EXISTS, calls.append))
    core.request(OpCode.getChildren, R.GetChildrenRequest("/y", True), "t", "/y", (WATCH_CHILD, calls.append))
    core.receive(reply(1, 1, ErrorCode.NONODE))  # exists on a missing node: still watched
    core.receive(reply(2, 1, ErrorCode.NONODE))  # getChildren failed: no watch
    assert core.watches.set_watches_lists() == ([], ["/x"], [], [], [])
    frame = core.set_watches_frame("sw")
    r = JuteReader(frame[4:])
    assert R.RequestHeader.decode(r).type == OpCode.setWatches
    assert R.SetWatches.decode(r) == R.SetWatches(1, [], ["/x"], [])
    w = JuteWriter()
    R.ReplyHeader(-1, -1, 0).encode(w)
    R.WatcherEvent(E.NODE_CREATED, 3, "/x").encode(w)
    out = core.receive(w.getvalue())
    assert isinstance(out, Notify) and out.callbacks == [calls.append]
    assert out.event == WatchedEvent(E.NODE_CREATED, KeeperState.SYNC_CONNECTED, "/x")
    assert core.set_watches_frame("sw") is None  # one-shot: nothing left


def test_registry_fan_out_rules() -> None:
    reg = WatchRegistry()
    log: list[str] = []

    def cb(name: str):
        return lambda e: log.append(name)

    data, exist, child, pers, rec = cb("data"), cb("exist"), cb("child"), cb("pers"), cb("rec")
    reg.add_data("/a", data)
    reg.add_child("/a", child)
    reg.add_persistent("/a", pers, recursive=False)
    reg.add_persistent("/", rec, recursive=True)
    ev = lambda t, p: WatchedEvent(t, KeeperState.SYNC_CONNECTED, p)  # noqa: E731
    assert reg.triggered(ev(E.NODE_CHILDREN_CHANGED, "/a")) == [child, pers]
    assert reg.triggered(ev(E.NODE_DATA_CHANGED, "/a")) == [data, pers, rec]
    assert reg.triggered(ev(E.NODE_DATA_CHANGED, "/a")) == [pers, rec]
    reg.add_exist("/a/b", exist)
    assert reg.triggered(ev(E.NODE_CREATED, "/a/b")) == [exist, rec]
    assert reg.remove("/a", data=True, child=True) and not reg.remove("/a", True, True)
    assert reg.triggered(ev(E.NODE_DELETED, "/a")) == [rec]


def test_auth_replies_are_matched_apart_from_the_xid_queue() -> None:
    core = ClientCore()
    core.request(OpCode.sync, R.SyncRequest("/"), "sync")
    core.auth_frame("digest", b"u:p", "auth")
    assert core.receive(reply(-4, 0, ErrorCode.AUTHFAILED)) == Reply("auth", OpCode.auth, -115, None, None)
    assert core.receive(reply(1, 1, 0, R.SyncResponse("/"))).token == "sync"
    core.auth_frame("digest", b"u:p", "again")
    assert [p.token for p in core.drop_pending()] == ["again"]
