"""Fixtures: a real node (the broker tests' fixture) and a fault proxy on the producer's path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from client.conn import BrokerConnection
from tests.support.faultproxy import FaultProxy
from tests.support.node import Node


@pytest.fixture
def proxied(node: Node, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A FaultProxy in front of `node`'s broker port, through which every client
    connection of this test goes (the broker advertises its own port in Metadata, so the
    connection opener is redirected rather than the bootstrap address alone)."""
    proxy = FaultProxy(node.broker_port).start()
    real_open = BrokerConnection.open.__func__

    async def via_proxy(cls, host: str, port: int, **kwargs):
        if port == node.broker_port:
            port = proxy.listen_port
        return await real_open(cls, host, port, **kwargs)

    monkeypatch.setattr(BrokerConnection, "open", classmethod(via_proxy))
    try:
        yield proxy
    finally:
        proxy.close()
