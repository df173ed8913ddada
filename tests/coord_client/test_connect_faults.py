"""A connection cut during the handshake must fail cleanly: the client tries again and
finally reports ConnectionLossError, and leaves asyncio nothing to complain about later.

A reset stream stores its ConnectionResetError in the stream's closed-future as well; if
nobody awaits `wait_closed()`, asyncio logs "Future exception was never retrieved" when
that future is collected before its protocol (garbage-collection order, so the log itself
shows up only now and then). The test therefore checks the cause directly: every stream
the client opened has had its closed-future's outcome retrieved (`_log_traceback` is the
flag asyncio's own Future.__del__ checks), and no exception reached the loop's handler.
"""

from __future__ import annotations

import asyncio
import gc

import pytest

from coord.client import CoordClient
from coord.protocol.errors import ConnectionLossError
from tests.support.faultproxy import FaultProxy
from tests.support.ports import free_port


async def test_reset_during_handshake_leaves_no_unretrieved_exception(monkeypatch) -> None:
    writers: list[asyncio.StreamWriter] = []
    real_open = asyncio.open_connection

    async def recording_open(*args, **kwargs):
        reader, writer = await real_open(*args, **kwargs)
        writers.append(writer)
        return reader, writer

    monkeypatch.setattr(asyncio, "open_connection", recording_open)
    loop = asyncio.get_running_loop()
    complaints: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: complaints.append(context))
    try:
        with FaultProxy(free_port()) as proxy:
            proxy.cut()  # accepts each connection, then resets it: mid-handshake
            client = CoordClient(f"127.0.0.1:{proxy.listen_port}", session_timeout=1.0)
            with pytest.raises(ConnectionLossError, match="could not connect"):
                await client.start()
        assert writers, "the client never reached the proxy"
        await asyncio.sleep(0.05)  # let the transports' close callbacks run
        unretrieved = [w for w in writers if w._protocol._closed._log_traceback]
        assert unretrieved == []
        del writers[:], unretrieved
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in complaints] == []
