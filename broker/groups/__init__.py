"""Consumer groups on the broker: one sans-I/O `GroupCoordinator` per group, the records it
writes to `__consumer_offsets`, and the loader a new coordinator rebuilds them with."""

from broker.groups.coordinator import GroupConfig, GroupCoordinator
from broker.groups.loader import GroupLoader, load_groups
from broker.groups.messages import ErrorCode, GroupState

__all__ = ["ErrorCode", "GroupConfig", "GroupCoordinator", "GroupLoader", "GroupState", "load_groups"]
