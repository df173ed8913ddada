"""A virtual network between numbered nodes: delay, drop, duplicate, reorder, partitions.

Each message is delivered independently after a random delay, so messages overtake
one another (reordering); a partition is a set of blocked directed links, checked both
when a message is sent and when it would arrive. A paused node (SIGSTOP) receives
nothing until it resumes, then everything held for it at once, in arrival order. Payloads are opaque bytes. It must
never deliver to a node that is down, or draw randomness from anywhere but its rng.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.sim.clock import Scheduler

Deliver = Callable[[int, int, bytes], None]  # (dst, src, payload)


@dataclass
class LinkFaults:
    drop: float = 0.0
    duplicate: float = 0.0
    min_delay: float = 0.001
    max_delay: float = 0.01


class Network:
    def __init__(self, sched: Scheduler, rng: random.Random, deliver: Deliver) -> None:
        self.sched = sched
        self.rng = rng
        self.deliver = deliver
        self.faults = LinkFaults()
        self.blocked: set[tuple[int, int]] = set()
        self.down: set[int] = set()
        self.held: dict[int, list[tuple[int, bytes]]] = {}
        self.sent = 0
        self.delivered = 0

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Only nodes in the same group can talk; replaces any earlier partition."""
        group_of = {n: i for i, g in enumerate(groups) for n in g}
        self.blocked = {(a, b) for a in group_of for b in group_of if group_of[a] != group_of[b]}

    def heal(self) -> None:
        self.blocked.clear()

    def send(self, src: int, dst: int, payload: bytes) -> None:
        self.sent += 1
        f = self.faults
        if (src, dst) in self.blocked or src in self.down or self.rng.random() < f.drop:
            return
        copies = 2 if self.rng.random() < f.duplicate else 1
        for _ in range(copies):
            delay = self.rng.uniform(f.min_delay, f.max_delay)
            self.sched.after(delay, lambda: self._arrive(src, dst, payload))

    def pause(self, node: int) -> None:
        self.held.setdefault(node, [])

    def resume(self, node: int) -> None:
        for src, payload in self.held.pop(node, []):
            self._arrive(src, node, payload)

    def _arrive(self, src: int, dst: int, payload: bytes) -> None:
        if dst in self.down or (src, dst) in self.blocked:
            return
        if dst in self.held:
            self.held[dst].append((src, payload))
            return
        self.delivered += 1
        self.deliver(dst, src, payload)
