"""NetworkClient.least_loaded_first: requests any broker can answer are spread over the
brokers instead of always going to the first known one."""

from __future__ import annotations

from client.client import NetworkClient
from tests.client.metadata import metadata_response


def test_equally_loaded_brokers_take_turns_and_bootstrap_comes_last() -> None:
    client = NetworkClient("127.0.0.1:1", client_id="t", request_timeout_ms=1000, retry_backoff_ms=10)
    client.cluster.update(metadata_response({i: ("127.0.0.1", 2 + i) for i in range(3)}))
    orders = [client.least_loaded_first() for _ in range(3)]
    assert {order[0] for order in orders} == {0, 1, 2}
    for order in orders:
        assert sorted(order[:3]) == [0, 1, 2]
        assert order[3] == client.bootstrap[0]
