"""The linearizability checker: it must accept every history a real register could produce,
and reject the ones no order explains, or the fault tests built on it prove nothing."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.linearizability import Op, check, check_sequential_per_client

A0 = {"a": (b"a0", 0)}


def read(client, call, ret, result, key="a"):
    return Op(client, "read", key, None, call, ret, result)


def write(client, call, ret, value, result, key="a"):
    return Op(client, "write", key, value, call, ret, result)


def cas(client, call, ret, expected, value, result, key="a"):
    return Op(client, "cas", key, (expected, value), call, ret, result)


# -- hand-written histories: linearizable ------------------------------------------------------


def test_an_empty_history_is_linearizable():
    assert check([], A0).ok


def test_a_sequential_history_is_linearizable():
    h = [
        read(0, 0, 1, (b"a0", 0)),
        write(0, 2, 3, b"x", 1),
        read(1, 4, 5, (b"x", 1)),
        cas(1, 6, 7, 1, b"y", ("ok", 2)),
        cas(0, 8, 9, 1, b"z", ("bad_version",)),
        read(0, 10, 11, (b"y", 2)),
    ]
    assert check(h, A0).ok


def test_overlapping_ops_may_take_effect_in_either_order():
    # the read overlaps the write and sees its value: the write took effect first
    h = [write(0, 0, 10, b"x", 1), read(1, 1, 2, (b"x", 1))]
    assert check(h, A0).ok


def test_a_failed_cas_fits_when_a_concurrent_cas_won():
    h = [
        cas(0, 0, 5, 0, b"x", ("ok", 1)),
        cas(1, 1, 6, 0, b"y", ("bad_version",)),
        read(2, 7, 8, (b"x", 1)),
    ]
    assert check(h, A0).ok


def test_an_unanswered_write_may_or_may_not_have_happened():
    took_effect = [write(0, 0, None, b"x", None), read(1, 5, 6, (b"x", 1))]
    did_not = [write(0, 0, None, b"x", None), read(1, 5, 6, (b"a0", 0))]
    assert check(took_effect, A0).ok
    assert check(did_not, A0).ok


def test_keys_are_independent_and_absent_keys_start_absent():
    h = [read(0, 0, 1, None, key="b"), read(0, 2, 3, (b"a0", 0))]
    assert check(h, A0).ok


# -- hand-written histories: not linearizable --------------------------------------------------


def test_a_stale_read_after_a_completed_write_is_caught():
    h = [write(0, 0, 1, b"x", 1), read(1, 2, 3, (b"a0", 0))]
    verdict = check(h, A0)
    assert not verdict.ok
    assert "key 'a'" in verdict.explanation and "client 1 read" in verdict.explanation


def test_two_successful_cas_from_the_same_version_are_caught():
    h = [cas(0, 0, 5, 0, b"x", ("ok", 1)), cas(1, 1, 6, 0, b"y", ("ok", 1))]
    assert not check(h, A0).ok


def test_a_lost_acknowledged_write_is_caught():
    h = [write(0, 0, 1, b"x", 1), write(0, 2, 3, b"y", 2), read(1, 4, 5, (b"x", 1))]
    assert not check(h, A0).ok


def test_reading_a_value_nobody_wrote_is_caught():
    assert not check([read(0, 0, 1, (b"zz", 0))], A0).ok


def test_a_write_to_an_absent_node_never_linearizes():
    assert not check([write(0, 0, 1, b"x", 1, key="absent")], A0).ok


def test_malformed_ops_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="kind"):
        check([Op(0, "delete", "a")], A0)
    with pytest.raises(ValueError, match="before it was called"):
        check([read(0, 5, 1, None)], A0)
    with pytest.raises(ValueError, match="cas arg"):
        check([Op(0, "cas", "a", b"x", 0, 1, ("ok", 1))], A0)


# -- per-client sequential consistency --------------------------------------------------------


def test_a_client_reading_its_own_write_back_in_time_is_caught():
    h = [write(0, 0, 1, b"x", 1), read(0, 2, 3, (b"a0", 0))]
    verdict = check_sequential_per_client(h)
    assert not verdict.ok and "client 0" in verdict.explanation
    # another client may lag (sequential consistency is per session), and the check allows it
    assert check_sequential_per_client([write(0, 0, 1, b"x", 1), read(1, 2, 3, (b"a0", 0))]).ok


# -- generated histories ----------------------------------------------------------------------


def _run_register(rng: random.Random, clients: int, n_ops: int) -> list[Op]:
    """A history a real atomic register produces: each op takes effect at one instant inside
    its [call, ret] interval; intervals of different clients overlap at random."""
    state = {"a": (b"a0", 0), "b": (b"b0", 0)}
    events = []  # (effect time, client, kind, key, arg, call, ret)
    free_at = [0.0] * clients
    for _ in range(n_ops):
        c = rng.randrange(clients)
        call = free_at[c] + rng.random()
        effect = call + rng.random()
        ret = effect + rng.random()
        free_at[c] = ret
        kind, key = rng.choice(KINDS_), rng.choice("ab")
        events.append((effect, c, kind, key, call, ret))
    history = []
    for _, c, kind, key, call, ret in sorted(events):
        value, version = state[key]
        if kind == "read":
            history.append(read(c, call, ret, (value, version), key))
        elif kind == "write":
            new = f"w{len(history)}".encode()
            state[key] = (new, version + 1)
            history.append(write(c, call, ret, new, version + 1, key))
        else:
            expected = version if rng.random() < 0.6 else version + rng.choice([-1, 1])
            new = f"c{len(history)}".encode()
            if expected == version:
                state[key] = (new, version + 1)
                history.append(cas(c, call, ret, expected, new, ("ok", version + 1), key))
            else:
                history.append(cas(c, call, ret, expected, new, ("bad_version",), key))
    rng.shuffle(history)
    return history


KINDS_ = ("read", "write", "cas")
INITIAL = {"a": (b"a0", 0), "b": (b"b0", 0)}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(1, 5), n_ops=st.integers(0, 40))
def test_every_history_of_a_real_register_is_linearizable(seed, clients, n_ops):
    history = _run_register(random.Random(seed), clients, n_ops)
    verdict = check(history, INITIAL)
    assert verdict.ok, verdict.explanation
    assert check_sequential_per_client(history).ok


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(1, 4), n_ops=st.integers(2, 30))
def test_a_read_moved_to_after_a_later_completed_write_is_caught(seed, clients, n_ops):
    """Take a real history, pick a read and make it start after a write that overwrote the
    value it saw had returned: no order explains that any more."""
    history = sorted(_run_register(random.Random(seed), clients, n_ops), key=lambda op: op.call)
    reads = [op for op in history if op.kind == "read"]
    assume(reads)
    victim = reads[0]
    later = [op for op in history if op.key == victim.key and op.kind == "write" and op.result > victim.result[1]]
    assume(later)
    newer = later[0]
    start = newer.ret + 1.0
    moved = Op(victim.client + 100, "read", victim.key, None, start, start + 1.0, victim.result)
    assert not check([op for op in history if op is not victim] + [moved], INITIAL).ok


def test_a_busy_history_is_checked_quickly():
    """Fault tests record a few hundred ops over a few keys; the memoised search must not
    explode on them (bounded here by op count, not by a wall-clock assertion)."""
    history = _run_register(random.Random(7), clients=8, n_ops=600)
    assert check(history, INITIAL).ok
