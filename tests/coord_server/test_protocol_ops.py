"""Opcodes kazoo does not send, over the real wire: persistent and recursive watches,
removeWatches/checkWatches, setWatches catch-up, multiRead, getEphemerals,
getAllChildrenNumber, whoAmI, containers and TTL, session reattach rules."""

from __future__ import annotations

import uuid

from coord.protocol import records as R
from coord.protocol.errors import ErrorCode
from coord.protocol.jute import JuteReader
from coord.protocol.opcodes import EventType, OpCode
from tests.coord_server.rawclient import RawClient


def _base(c: RawClient) -> str:
    base = f"/p-{uuid.uuid4().hex[:8]}"
    assert c.create(base)[0] == 0
    return base


def _sync(c: RawClient, path: str = "/") -> None:
    """A round trip: every notification queued before it has arrived after it."""
    assert c.call(OpCode.sync, R.SyncRequest(path))[0] == 0


def test_persistent_and_recursive_watches(shared_coord) -> None:
    a, b = RawClient(shared_coord.port), RawClient(shared_coord.port)
    base = _base(a)
    assert a.call(OpCode.addWatch, R.AddWatchRequest(base, 0))[0] == 0
    assert a.call(OpCode.addWatch, R.AddWatchRequest(f"{base}/r", 1))[0] == 0
    b.create(f"{base}/r")
    b.create(f"{base}/r/x")
    b.call(OpCode.setData, R.SetDataRequest(f"{base}/r/x", b"1", -1))
    b.call(OpCode.setData, R.SetDataRequest(base, b"1", -1))
    b.call(OpCode.setData, R.SetDataRequest(base, b"2", -1))  # persistent: fires again
    _sync(a)
    assert a.events == [
        (EventType.NODE_CREATED, f"{base}/r"),  # recursive on base/r: itself
        (EventType.NODE_CHILDREN_CHANGED, base),  # persistent on base: child change
        (EventType.NODE_CREATED, f"{base}/r/x"),  # ... and descendants, no CHILD events
        (EventType.NODE_DATA_CHANGED, f"{base}/r/x"),
        (EventType.NODE_DATA_CHANGED, base),
        (EventType.NODE_DATA_CHANGED, base),
    ]
    assert a.call(OpCode.checkWatches, R.CheckWatchesRequest(base, 3))[0] == 0
    assert a.call(OpCode.removeWatches, R.RemoveWatchesRequest(base, 3))[0] == 0
    assert a.call(OpCode.removeWatches, R.RemoveWatchesRequest(base, 3))[0] == ErrorCode.NOWATCHER
    assert a.call(OpCode.checkWatches, R.CheckWatchesRequest(base, 3))[0] == ErrorCode.NOWATCHER
    a.events.clear()
    b.call(OpCode.setData, R.SetDataRequest(base, b"3", -1))
    _sync(a)
    assert a.events == []
    a.close()
    b.close()


def test_set_watches_delivers_missed_events(shared_coord) -> None:
    a, b = RawClient(shared_coord.port), RawClient(shared_coord.port)
    base = _base(a)
    a.create(f"{base}/d", b"0")
    a.create(f"{base}/gone")
    _, seen_zxid, _ = a.call(OpCode.exists, R.ExistsRequest(base, False))
    sid, pw = a.session.sessionId, a.session.passwd
    a.close()  # the session stays; its watches are gone with the connection
    b.call(OpCode.setData, R.SetDataRequest(f"{base}/d", b"1", -1))
    b.call(OpCode.delete, R.DeleteRequest(f"{base}/gone", -1))
    b.create(f"{base}/born")
    again = RawClient(shared_coord.port, sid, pw, seen_zxid)
    assert again.session.sessionId == sid and again.session.timeOut > 0
    err, _, _ = again.call(
        OpCode.setWatches,
        R.SetWatches(seen_zxid, [f"{base}/d", f"{base}/gone"], [f"{base}/born", f"{base}/none"], [base]),
    )
    assert err == 0
    assert sorted(again.events) == sorted(
        [
            (EventType.NODE_DATA_CHANGED, f"{base}/d"),
            (EventType.NODE_DELETED, f"{base}/gone"),
            (EventType.NODE_CREATED, f"{base}/born"),
            (EventType.NODE_CHILDREN_CHANGED, base),
        ]
    )
    again.events.clear()
    b.create(f"{base}/none")  # the exists watch that had nothing to report is registered
    _sync(again)
    assert again.events == [(EventType.NODE_CREATED, f"{base}/none")]
    again.close()
    b.close()


def test_reads_and_session_views(shared_coord) -> None:
    c = RawClient(shared_coord.port)
    base = _base(c)
    c.create(f"{base}/e1", flags=1)
    c.create(f"{base}/x")
    c.create(f"{base}/x/y")
    err, _, res = c.call(OpCode.getEphemerals, R.GetEphemeralsRequest(base))
    assert err == 0 and res.ephemerals == [f"{base}/e1"]
    err, _, res = c.call(OpCode.getAllChildrenNumber, R.GetAllChildrenNumberRequest(base))
    assert res.totalNumber == 3
    err, _, res = c.call(
        OpCode.multiRead,
        R.MultiReadRequest(
            [
                (OpCode.getData, R.GetDataRequest(f"{base}/x", False)),
                (OpCode.getChildren, R.GetChildrenRequest(f"{base}/nope", False)),
                (OpCode.getChildren, R.GetChildrenRequest(f"{base}/x", False)),
            ]
        ),
    )
    assert err == 0
    assert isinstance(res.results[0], R.GetDataResponse)
    assert res.results[1] == R.ErrorResponse(ErrorCode.NONODE)
    assert res.results[2].children == ["y"]
    err, _, res = c.call(OpCode.whoAmI)
    assert err == 0 and res.clientInfo == [R.ClientInfo("ip", "127.0.0.1")]
    err, _, res = c.call(OpCode.create2, R.CreateRequest(f"{base}/c2", None, R.OPEN_ACL_UNSAFE, 0))
    assert err == 0 and res.path == f"{base}/c2" and res.stat.dataLength == 0
    err, _, res = c.call(OpCode.getData, R.GetDataRequest(f"{base}/c2", False))
    assert res.data is None  # null data stays null
    c.close()


def test_container_and_ttl_creates(shared_coord) -> None:
    c = RawClient(shared_coord.port)
    base = _base(c)
    err, _, res = c.call(OpCode.createContainer, R.CreateRequest(f"{base}/box", b"", R.OPEN_ACL_UNSAFE, 4))
    assert err == 0 and res.stat.ephemeralOwner == 0
    err, _, res = c.create(f"{base}/ttl", flags=5, op=OpCode.createTTL, ttl=1000)
    assert err == 0 and res.stat.ephemeralOwner == 0
    assert c.create(f"{base}/bad", flags=5, op=OpCode.createTTL, ttl=0)[0] == ErrorCode.BADARGUMENTS
    assert c.create(f"{base}/bad", flags=7)[0] == ErrorCode.BADARGUMENTS
    c.close()


def test_reattach_moves_the_session_and_closes_the_old_connection(shared_coord) -> None:
    first = RawClient(shared_coord.port)
    sid, pw = first.session.sessionId, first.session.passwd
    second = RawClient(shared_coord.port, sid, pw)
    assert second.session.sessionId == sid and second.session.passwd == pw
    first.sock.settimeout(5)
    assert first.sock.recv(100) == b""  # the server closed the old connection
    assert second.call(OpCode.exists, R.ExistsRequest("/", False))[0] == 0
    assert second.call(OpCode.closeSession)[0] == 0
    third = RawClient(shared_coord.port, sid, pw)
    assert third.session.timeOut == 0 and third.session.sessionId == 0  # closed = expired
    for c in (first, second, third):
        c.close()


def test_watch_event_arrives_before_the_read_that_sees_the_change(shared_coord) -> None:
    a, b = RawClient(shared_coord.port), RawClient(shared_coord.port)
    base = _base(a)
    a.create(f"{base}/w", b"old")
    for round_ in range(20):
        a.events.clear()
        a.call(OpCode.getData, R.GetDataRequest(f"{base}/w", True))
        b.call(OpCode.setData, R.SetDataRequest(f"{base}/w", b"new%d" % round_, -1))
        _, _, res = a.call(OpCode.getData, R.GetDataRequest(f"{base}/w", False))
        assert res.data == b"new%d" % round_
        # RawClient collects notifications that arrive before the reply it waits for
        assert a.events == [(EventType.NODE_DATA_CHANGED, f"{base}/w")]
    a.close()
    b.close()


def test_deep_pipeline_is_answered_in_order(shared_coord) -> None:
    """5,000 requests sent without reading a reply (the server must stop reading, not
    buffer without bound), mixing writes and reads; replies come back in xid order and
    each read sees exactly the writes sent before it."""
    from coord.protocol.framing import frame

    c = RawClient(shared_coord.port)
    base = _base(c)
    c.create(f"{base}/n", b"0")
    frames = []
    for xid in range(1, 5001):
        if xid % 2:
            body = R.SetDataRequest(f"{base}/n", str(xid).encode(), -1)
            op = OpCode.setData
        else:
            body = R.GetDataRequest(f"{base}/n", False)
            op = OpCode.getData
        frames.append(frame(R.RequestHeader(xid + 1000, int(op)).to_bytes() + body.to_bytes()))
    c.sock.sendall(b"".join(frames))
    for xid in range(1, 5001):
        r = JuteReader(c._next_frame())
        header = R.ReplyHeader.decode(r)
        assert (header.xid, header.err) == (xid + 1000, 0)
        if xid % 2 == 0:
            assert R.GetDataResponse.decode(r).data == str(xid - 1).encode()
    c.close()
