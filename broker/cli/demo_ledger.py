"""The failover demo's bookkeeping: what was sent, acknowledged, consumed, and what it means.

Every record the demo's producer sends carries a sequence number. The ledger notes when
each was sent, acknowledged (partition, offset) or failed, and every time the consumer
read it; failures (a SIGKILL) are noted with their time. `summarize` turns that into the
verdict: acknowledged records lost (must be 0), duplicates, and per failure the
unavailability window (kill -> first acknowledged write of a record sent after the kill).
Times are plain floats passed in (monotonic seconds). This module must never do I/O or
read the clock, so the verdict logic is tested on hand-made histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Failure:
    label: str  # e.g. "act 1: SIGKILL leader broker 2"
    at: float


@dataclass
class Ledger:
    sent_at: dict[int, float] = field(default_factory=dict)
    acked: dict[int, tuple[int, int, float]] = field(default_factory=dict)  # seq -> (partition, offset, at)
    failed: dict[int, str] = field(default_factory=dict)  # seq -> error
    consumed: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, partition, offset)
    failures: list[Failure] = field(default_factory=list)

    def sent(self, seq: int, at: float) -> None:
        self.sent_at[seq] = at

    def ack(self, seq: int, partition: int, offset: int, at: float) -> None:
        self.acked[seq] = (partition, offset, at)

    def fail(self, seq: int, error: str) -> None:
        self.failed[seq] = error

    def consume(self, seq: int, partition: int, offset: int) -> None:
        self.consumed.append((seq, partition, offset))

    def failure(self, label: str, at: float) -> None:
        self.failures.append(Failure(label, at))

    def first_ack_after(self, at: float) -> tuple[int, float] | None:
        """(seq, ack time) of the earliest ack of a record *sent* at or after `at`.

        Records sent before a kill may still be acknowledged by a reply already on its
        way; only a record that left after the kill proves the partition writable again."""
        best: tuple[int, float] | None = None
        for seq, (_, _, acked_at) in self.acked.items():
            if self.sent_at.get(seq, -1.0) >= at and (best is None or acked_at < best[1]):
                best = (seq, acked_at)
        return best


@dataclass(frozen=True)
class Window:
    label: str
    seconds: float | None  # None: no acknowledged write after this failure


@dataclass(frozen=True)
class Summary:
    sent: int
    acknowledged: int
    failed: int
    consumed: int
    distinct_consumed: int
    lost: list[int]  # acknowledged, never consumed
    duplicates: int  # extra copies consumed (same seq at another offset)
    misplaced: list[int]  # consumed at an offset other than the one acknowledged
    windows: list[Window]

    @property
    def ok(self) -> bool:
        """The demo's verdict: something was acknowledged and nothing acknowledged was lost."""
        return self.acknowledged > 0 and not self.lost


def summarize(ledger: Ledger) -> Summary:
    seen: dict[int, set[tuple[int, int]]] = {}
    for seq, partition, offset in ledger.consumed:
        seen.setdefault(seq, set()).add((partition, offset))
    lost = sorted(seq for seq in ledger.acked if seq not in seen)
    duplicates = sum(len(places) - 1 for places in seen.values())
    misplaced = sorted(seq for seq, (p, o, _) in ledger.acked.items() if seq in seen and (p, o) not in seen[seq])
    windows = []
    for f in ledger.failures:
        first = ledger.first_ack_after(f.at)
        windows.append(Window(f.label, None if first is None else first[1] - f.at))
    return Summary(
        len(ledger.sent_at),
        len(ledger.acked),
        len(ledger.failed),
        len(ledger.consumed),
        len(seen),
        lost,
        duplicates,
        misplaced,
        windows,
    )


def _seqs(seqs: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, seqs[:limit]))
    return shown + (f", ... ({len(seqs)} in all)" if len(seqs) > limit else "")


def render_summary(s: Summary) -> str:
    lines = [
        "Summary",
        f"  records sent                      {s.sent}",
        f"  acknowledged (acks=all)           {s.acknowledged}",
        f"  failed or never answered          {s.failed}",
        f"  consumed                          {s.consumed} ({s.distinct_consumed} distinct)",
        f"  acknowledged but lost             {len(s.lost)}" + (f"  <- {_seqs(s.lost)}" if s.lost else ""),
        f"  duplicates                        {s.duplicates}"
        + ("  (a retry wrote a record again: expected without idempotence, a bug with it)" if s.duplicates else ""),
    ]
    if s.misplaced:
        lines.append(f"  consumed at another offset than acknowledged: {_seqs(s.misplaced)}")
    lines.append("  unavailability (kill -> first acknowledged write sent after it)")
    for w in s.windows:
        lines.append(
            f"    {w.label:<44} " + ("no write acknowledged afterwards" if w.seconds is None else f"{w.seconds:.2f} s")
        )
    verdict = (
        "OK: every acknowledged record was consumed"
        if s.ok
        else "FAILED: nothing was acknowledged"
        if s.acknowledged == 0
        else f"FAILED: {len(s.lost)} acknowledged records were lost"
    )
    lines.append(verdict)
    return "\n".join(lines)
