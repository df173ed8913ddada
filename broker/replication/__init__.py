"""Partition replication as a sans-I/O core: leader and follower state, ISR, high watermark, epochs.

The broker's fetcher and LeaderAndIsr handler drive `Replica` with events and carry out the
actions it returns. Nothing in this package may touch files, sockets or the clock.
"""

from broker.replication.messages import ErrorCode
from broker.replication.replica import Replica

__all__ = ["ErrorCode", "Replica"]
