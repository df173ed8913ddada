"""Our asyncio ZooKeeper-protocol client (`CoordClient`) and its helpers.

Speaks the wire protocol of coord.protocol to our coord server or a real ZooKeeper; it
must never import the server or the broker.
"""

from coord.client.client import ConnState, CoordClient
from coord.client.retry import retry
from coord.client.transaction import Transaction
from coord.client.watches import WatchedEvent

__all__ = ["ConnState", "CoordClient", "Transaction", "WatchedEvent", "retry"]
