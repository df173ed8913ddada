"""The failover demo's verdict on hand-made histories: losses, duplicates, misplaced
records and unavailability windows are counted as the summary claims."""

from __future__ import annotations

from broker.cli.demo_ledger import Ledger, render_summary, summarize


def history(acked: dict[int, tuple[int, float]], consumed: list[tuple[int, int]], sent: dict[int, float]) -> Ledger:
    ledger = Ledger()
    for seq, at in sent.items():
        ledger.sent(seq, at)
    for seq, (offset, at) in acked.items():
        ledger.ack(seq, 0, offset, at)
    for seq, offset in consumed:
        ledger.consume(seq, 0, offset)
    return ledger


def test_clean_run_is_ok():
    ledger = history({1: (0, 1.0), 2: (1, 2.0)}, [(1, 0), (2, 1)], {1: 0.5, 2: 1.5})
    s = summarize(ledger)
    assert (s.sent, s.acknowledged, s.consumed, s.lost, s.duplicates, s.misplaced) == (2, 2, 2, [], 0, [])
    assert s.ok
    assert "OK: every acknowledged record was consumed" in render_summary(s)


def test_an_acknowledged_record_never_consumed_is_lost_and_fails_the_demo():
    ledger = history({1: (0, 1.0), 2: (1, 2.0), 3: (2, 3.0)}, [(1, 0), (3, 2)], {1: 0, 2: 1, 3: 2})
    s = summarize(ledger)
    assert s.lost == [2] and not s.ok
    text = render_summary(s)
    assert "acknowledged but lost             1  <- 2" in text and "FAILED: 1 acknowledged records were lost" in text


def test_unacknowledged_records_may_be_consumed_or_not_without_failing():
    # record 2 was sent, its answer never came (in doubt): consuming it is fine, so is not.
    ledger = history({1: (0, 1.0)}, [(1, 0), (2, 1)], {1: 0, 2: 1})
    assert summarize(ledger).ok


def test_a_retried_record_read_twice_is_a_duplicate_not_a_loss():
    ledger = history({1: (0, 1.0), 2: (2, 2.0)}, [(1, 0), (2, 1), (2, 2)], {1: 0, 2: 1})
    s = summarize(ledger)
    assert s.duplicates == 1 and s.distinct_consumed == 2 and s.ok and s.misplaced == []


def test_a_record_found_only_at_another_offset_than_acknowledged_is_reported():
    ledger = history({1: (5, 1.0)}, [(1, 4)], {1: 0})
    s = summarize(ledger)
    assert s.misplaced == [1] and "another offset" in render_summary(s)


def test_nothing_acknowledged_is_a_failed_demo():
    s = summarize(history({}, [], {1: 0.0}))
    assert not s.ok and "FAILED: nothing was acknowledged" in render_summary(s)


def test_unavailability_counts_only_records_sent_after_the_kill():
    # Record 1 was sent before the kill and acknowledged just after it (an answer already
    # on its way): that must not count as the partition being writable again.
    ledger = history({1: (0, 10.05), 2: (1, 14.0), 3: (2, 13.5)}, [], {1: 9.9, 2: 10.2, 3: 11.0})
    ledger.failure("act 1", 10.0)
    ledger.failure("act 2", 20.0)
    s = summarize(ledger)
    assert ledger.first_ack_after(10.0) == (3, 13.5)
    assert s.windows[0].label == "act 1" and abs(s.windows[0].seconds - 3.5) < 1e-9
    assert s.windows[1].seconds is None
    assert "no write acknowledged afterwards" in render_summary(s)
