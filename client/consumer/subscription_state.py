"""Which partitions the consumer reads and where it stands in each: the consumer's state.

One entry per assigned partition: the position (offset of the next record to hand to
the application), a pending reset ("earliest" / "latest") while the position is unknown,
paused or not, and the last high watermark seen. Two ways fill the table: manual
`assign`, or a group subscription (`subscribe` to topics or a pattern), whose
assignment the group coordinator installs after each rebalance with
`assign_from_subscribed`; the two cannot be mixed, as in Kafka. This module must never
do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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
        self.subscription: set[str] | None = None  # group mode: the subscribed topics
        self.pattern: re.Pattern[str] | None = None  # group mode by pattern: topics matching it
        self.listener: Any = None  # on_partitions_revoked / on_partitions_assigned
        self._manual = False

    # -- group subscription -----------------------------------------------------------

    @property
    def subscribed(self) -> bool:
        return self.subscription is not None

    def subscribe(self, topics: Iterable[str] | None = None, pattern: str | None = None, listener: Any = None) -> None:
        if self._manual:
            raise IllegalStateError("this consumer uses assign(); subscribe() cannot be mixed with it")
        if (topics is None) == (pattern is None):
            raise ValueError("subscribe() takes a list of topics or a pattern, not both or neither")
        if pattern is not None:
            self.pattern, self.subscription = re.compile(pattern), set()
        else:
            names = [topics] if isinstance(topics, str) else list(topics or ())
            if not all(isinstance(t, str) and t for t in names):
                raise ValueError(f"topics must be non-empty strings, not {names!r}")
            self.pattern, self.subscription = None, set(names)
        self.listener = listener

    def match_pattern(self, topics: Iterable[str]) -> bool:
        """Subscribe to the non-internal topics matching the pattern; True if that changed."""
        assert self.pattern is not None
        matched = {t for t in topics if not t.startswith("__") and self.pattern.fullmatch(t)}
        changed = matched != self.subscription
        self.subscription = matched
        return changed

    def unsubscribe(self) -> None:
        self.subscription = self.pattern = self.listener = None
        self._states = {}
        self._manual = False

    def assign_from_subscribed(self, partitions: Iterable[TopicPartition]) -> None:
        """Install a rebalance's assignment (the group coordinator's job only)."""
        self._replace(partitions)

    # -- manual assignment ------------------------------------------------------------

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Replace the assignment; partitions kept from the old one keep their position."""
        if self.subscribed:
            raise IllegalStateError("this consumer subscribed to topics; assign() cannot be mixed with it")
        self._manual = True
        self._replace(partitions)

    def _replace(self, partitions: Iterable[TopicPartition]) -> None:
        new = {}
        for tp in partitions:
            tp = TopicPartition(*tp)
            new[tp] = self._states.get(tp) or TopicPartitionState(
                None if self.default_reset == "none" else self.default_reset
            )
        self._states = new

    def assigned(self) -> list[TopicPartition]:
        return list(self._states)

    def is_assigned(self, tp: TopicPartition) -> bool:
        return tp in self._states

    def state(self, tp: TopicPartition) -> TopicPartitionState:
        try:
            return self._states[tp]
        except KeyError:
            raise IllegalStateError(
                f"{tp.topic}-{tp.partition} is not assigned to this consumer; assign() it first"
            ) from None

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
