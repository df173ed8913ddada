"""Which partitions the consumer reads and where it stands in each: the consumer's state.

One entry per assigned partition: the position (offset of the next record to hand to
the application), a pending reset ("earliest" / "latest") while the position is unknown,
paused or not, and the last high watermark seen. Manual assignment only for now; group
subscription will add a second way to fill the same table (the rest of the consumer
reads only this table, so it will not change). This module must never do I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from client.errors import IllegalStateError
from client.structs import TopicPartition

RESET_STRATEGIES = ("earliest", "latest", "none")


class TopicPartitionState:
    __slots__ = ("position", "reset", "paused", "high_watermark")

    def __init__(self, reset: str | None) -> None:
        self.position: int | None = None
        self.reset = reset
        self.paused = False
        self.high_watermark = -1


class SubscriptionState:
    def __init__(self, auto_offset_reset: str = "latest") -> None:
        if auto_offset_reset not in RESET_STRATEGIES:
            raise ValueError(f"auto_offset_reset must be one of {RESET_STRATEGIES}, not {auto_offset_reset!r}")
        self.default_reset = auto_offset_reset
        self._states: dict[TopicPartition, TopicPartitionState] = {}

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Replace the assignment; partitions kept from the old one keep their position."""
        new = {}
        for tp in partitions:
            tp = TopicPartition(*tp)
            new[tp] = self._states.get(tp) or TopicPartitionState(
                None if self.default_reset == "none" else self.default_reset)
        self._states = new

    def assigned(self) -> list[TopicPartition]:
        return list(self._states)

    def is_assigned(self, tp: TopicPartition) -> bool:
        return tp in self._states

    def state(self, tp: TopicPartition) -> TopicPartitionState:
        try:
            return self._states[tp]
        except KeyError:
            raise IllegalStateError(f"{tp.topic}-{tp.partition} is not assigned to this consumer; "
                                    f"assign() it first") from None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if offset < 0:
            raise ValueError(f"offset must be >= 0, not {offset}")
        st = self.state(tp)
        st.position, st.reset = offset, None

    def request_reset(self, tp: TopicPartition, strategy: str) -> None:
        st = self.state(tp)
        st.position, st.reset = None, strategy

    def needs_reset(self) -> list[tuple[TopicPartition, str | None]]:
        """Partitions without a position, with their reset strategy (None: no strategy)."""
        return [(tp, st.reset) for tp, st in self._states.items() if st.position is None]

    def fetchable(self) -> list[TopicPartition]:
        return [tp for tp, st in self._states.items() if st.position is not None and not st.paused]

    def pause(self, tp: TopicPartition) -> None:
        self.state(tp).paused = True

    def resume(self, tp: TopicPartition) -> None:
        self.state(tp).paused = False

    def paused(self) -> set[TopicPartition]:
        return {tp for tp, st in self._states.items() if st.paused}
