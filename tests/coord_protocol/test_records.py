"""Records: byte-exact against the worked examples of the wire-protocol reference
(section 12), hypothesis round trips of every record, and malformed bodies."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coord.protocol import records as R
from coord.protocol.errors import ERRORS, CoordError, ErrorCode, NoNodeError, error_for
from coord.protocol.framing import frame
from coord.protocol.jute import JuteReader, JuteWriter, MarshallingError
from coord.protocol.opcodes import OpCode


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def framed(*records: Any) -> bytes:
    w = JuteWriter()
    for rec in records:
        rec.encode(w)
    return frame(w.getvalue())


def test_connect_request_12_1() -> None:
    req = R.ConnectRequest(0, 0, 30000, 0, bytes(16), False)
    wire = h("0000002d000000000000000000000000000075300000000000000000000000100000000000000000000000000000000000")
    assert framed(req) == wire
    assert R.ConnectRequest.from_bytes(wire[4:]) == req


def test_connect_request_without_readonly_byte_is_an_old_client() -> None:
    body = R.ConnectRequest(0, 5, 4000, 7, bytes(16), None).to_bytes()
    assert len(body) == 44
    assert R.ConnectRequest.from_bytes(body).readOnly is None


def test_connect_responses_12_1() -> None:
    ok = R.ConnectResponse(0, 30000, 0x01000002A3B40000, bytes(range(0xA0, 0xB0)), False)
    assert framed(ok) == h("00000025 00000000 00007530 01000002a3b40000 00000010 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 00")
    expired = R.ConnectResponse(0, 0, 0, bytes(16), False)
    assert framed(expired) == h(
        "00000025 00000000 00000000 0000000000000000 00000010 00000000000000000000000000000000 00"
    )


def test_create_12_2() -> None:
    req = (R.RequestHeader(1, OpCode.create), R.CreateRequest("/a", b"x", [R.ACL(31, R.Id("world", "anyone"))], 0))
    wire = h(
        "00000032 00000001 00000001 00000002 2f61 00000001 78 00000001 0000001f "
        "00000005 776f726c64 00000006 616e796f6e65 00000000"
    )
    assert framed(*req) == wire
    r = JuteReader(wire[4:])
    assert R.RequestHeader.decode(r) == req[0]
    assert R.request_record(OpCode.create).decode(r) == req[1]
    assert framed(R.ReplyHeader(1, 0x100000002, 0), R.CreateResponse("/a")) == h(
        "00000016 00000001 0000000100000002 00000000 00000002 2f61"
    )
    assert framed(R.ReplyHeader(1, 0x100000002, ErrorCode.NODEEXISTS)) == h(
        "00000010 00000001 0000000100000002 ffffff92"
    )


def test_other_frames_12_3() -> None:
    assert framed(R.RequestHeader(-2, OpCode.ping)) == h("00000008 fffffffe 0000000b")
    assert framed(R.ReplyHeader(-2, 0x100000002, 0)) == h("00000010 fffffffe 0000000100000002 00000000")
    assert framed(R.RequestHeader(7, OpCode.closeSession)) == h("00000008 00000007 fffffff5")
    assert framed(R.ReplyHeader(-1, -1, 0), R.WatcherEvent(3, 3, "/a")) == h(
        "0000001e ffffffff ffffffffffffffff 00000000 00000003 00000003 00000002 2f61"
    )


def test_failed_multi_reply_12_3() -> None:
    wire = h(
        "00000033 00000002 0000000100000003 00000000 ffffffff 00 00000000 00000000 "
        "ffffffff 00 ffffff9b ffffff9b ffffffff 01 ffffffff"
    )
    reply = R.MultiResponse([R.ErrorResult(0), R.ErrorResult(ErrorCode.NONODE)])
    assert framed(R.ReplyHeader(2, 0x100000003, 0), reply) == wire
    r = JuteReader(wire[4:])
    R.ReplyHeader.decode(r)
    assert R.MultiResponse.decode(r) == reply


def test_stat_is_68_bytes_in_field_order() -> None:
    stat = R.Stat(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
    assert len(stat.to_bytes()) == 68
    assert stat.to_bytes()[:8] == (1).to_bytes(8, "big")


def test_multi_request_rejects_mixed_kinds() -> None:
    with pytest.raises(MarshallingError):
        R.MultiRequest([(OpCode.getData, R.GetDataRequest("/a", False))]).to_bytes()
    body = R.MultiReadRequest([(OpCode.getData, R.GetDataRequest("/a", False))]).to_bytes()
    with pytest.raises(MarshallingError, match="not allowed"):
        R.MultiRequest.from_bytes(body)


def test_every_opcode_with_a_body_has_a_table_entry() -> None:
    for op, (req, _resp) in R.OPS.items():
        if req is None:
            with pytest.raises(MarshallingError):
                R.request_record(op)
        else:
            assert R.request_record(op) is req
    with pytest.raises(MarshallingError):
        R.request_record(9999)


def test_every_error_code_has_its_exception() -> None:
    for code in ErrorCode:
        err = error_for(code, "/x")
        assert type(err) is not CoordError and err.code == code and "/x" in str(err)
    assert isinstance(error_for(-101), NoNodeError)
    assert len(ERRORS) == len(ErrorCode)
    assert "unknown error code -9" in str(error_for(-9))


# -- hypothesis round trips -------------------------------------------------------------

i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
text = st.none() | st.text(max_size=12)
strings = st.none() | st.lists(st.text(max_size=8), max_size=4)
PRIMS = {"int": i32, "long": i64, "bool": st.booleans(), "buffer": st.none() | st.binary(max_size=20), "ustring": text}


def strategy(jtype: Any) -> st.SearchStrategy:
    if isinstance(jtype, str):
        return PRIMS[jtype]
    if isinstance(jtype, R.vector):
        return st.none() | st.lists(strategy(jtype.item), max_size=3)
    return record_strategy(jtype)


def record_strategy(cls: Any) -> st.SearchStrategy:
    fields = [strategy(t) for t in cls.JUTE_TYPES]
    if cls in (R.ConnectRequest, R.ConnectResponse):
        fields.append(st.none() | st.booleans())
    return st.tuples(*fields).map(lambda v: cls(*v))


JUTE_RECORDS = sorted(
    {v for v in vars(R).values() if isinstance(v, type) and hasattr(v, "JUTE_TYPES")}, key=lambda c: c.__name__
)


@pytest.mark.slow
@pytest.mark.parametrize("cls", JUTE_RECORDS, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip(cls: Any, data: st.DataObject) -> None:
    rec = data.draw(record_strategy(cls))
    assert cls.from_bytes(rec.to_bytes()) == rec


@pytest.mark.slow
@pytest.mark.parametrize("cls", JUTE_RECORDS, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_truncated_bodies_raise_marshalling_error(cls: Any, data: st.DataObject) -> None:
    rec = data.draw(record_strategy(cls))
    wire = rec.to_bytes()
    if not wire:
        return  # DeleteResult / CheckResult have no body to cut
    cut = data.draw(st.integers(0, len(wire) - 1))
    if getattr(rec, "readOnly", None) is not None and cut == len(wire) - 1:
        cut -= 1  # dropping only the optional readOnly byte is legal
    try:
        cls.from_bytes(wire[:cut])
    except MarshallingError:
        return
    pytest.fail(f"{cls.__name__} decoded a truncated body")


write_ops = st.sampled_from(sorted(R.MULTI_WRITE_OPS.items())).flatmap(
    lambda kv: record_strategy(kv[1]).map(lambda rec: (kv[0], rec))
)
read_ops = st.sampled_from(sorted(R.MULTI_READ_OPS.items())).flatmap(
    lambda kv: record_strategy(kv[1]).map(lambda rec: (kv[0], rec))
)
results = st.sampled_from(sorted(R.RESULT_RECORDS.values(), key=lambda c: c.__name__)).flatmap(record_strategy)


@settings(max_examples=60, deadline=None)
@given(st.lists(write_ops, max_size=4), st.lists(read_ops, max_size=4), st.lists(results, max_size=5))
def test_multi_round_trips(writes: list, reads: list, res: list) -> None:
    assert R.MultiRequest.from_bytes(R.MultiRequest(writes).to_bytes()).ops == writes
    assert R.MultiReadRequest.from_bytes(R.MultiReadRequest(reads).to_bytes()).ops == reads
    assert R.MultiResponse.from_bytes(R.MultiResponse(res).to_bytes()).results == res


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_never_escapes_as_another_exception(data: bytes) -> None:
    for cls in (R.MultiRequest, R.MultiResponse, R.ConnectRequest, R.SetWatches2, R.GetACLResponse):
        try:
            cls.from_bytes(data)
        except MarshallingError:
            pass
