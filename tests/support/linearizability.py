"""A linearizability checker for histories of ZooKeeper znode reads and setData calls.

Fault tests record what their clients saw (`Op`: who called what, when it was called, when
it returned and with what) and ask `check()` whether some single order of the operations,
consistent with real time, explains every result. This module only judges a recorded
history; it must never talk to a server, read a clock or sleep.

The model, one register per znode path (the key):

- state is `(value, version)`, or `None` while the node does not exist;
- `write` is setData with version -1: the value is replaced and the version bumped, and the
  call returns the new version;
- `cas` is setData with an expected version: if it matches, as `write`, returning
  `("ok", new_version)`; otherwise nothing changes and it returns `("bad_version",)`;
- `read` is getData and returns `(value, version)`, or `None` if the node is absent.

A write or cas on an absent node (ZooKeeper's NoNode) is outside the model: a completed one
never linearizes.

Theory of operation. The search is Wing & Gong's, with Lowe's memoisation (the "WGL"
algorithm, as in Knossos and Porcupine). Every operation becomes a call entry and a return
entry in one list sorted by time. Walking the list from the front, each call entry met
before the first return entry is an operation that may take effect next; the search tries
it against the model, and if the model accepts it, removes the operation from the list
("lifts" it), pushes it on a stack and starts again from the front. Meeting a return entry
means the operation it belongs to can no longer be placed anywhere: the search pops the
last choice, puts it back and tries the next candidate. A set of `(operations linearized,
state)` pairs already explored cuts off every path that reaches a configuration a second
time, which is what makes the search fast in practice.

Two facts keep it small:

- Linearizability is local (Herlihy & Wing's P-compositionality): a history is
  linearizable iff each key's sub-history is, so every key is checked on its own.
- An operation that never returned (`ret=None`) may have taken effect at any moment after
  its call, or never. It gets a return entry later than everything else, so it is never
  forced, and the search succeeds once every operation that did return is placed: whatever
  is still pending can be placed last, where it changes nothing anyone observed. A pending
  read is dropped outright; a pending cas is only ever placed where it would succeed (failing
  changes nothing, the same as not happening).

Real time is read leniently: an operation that returned at exactly the instant another was
called counts as concurrent with it, so coarse clocks never produce a false alarm.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

State = tuple[bytes, int] | None

KINDS = ("read", "write", "cas")


@dataclass
class Op:
    """One client call on one key, as the client saw it.

    `arg` is the value written (write) or `(expected_version, new_value)` (cas); unused for
    read. `ret` is None when the call never returned or its outcome is unknown (connection
    lost, timeout); `result` is then ignored. Otherwise `result` is `(value, version)` or
    None (read), the new version (write), `("ok", new_version)` or `("bad_version",)` (cas).
    """

    client: int
    kind: str
    key: str
    arg: Any = None
    call: float = 0.0
    ret: float | None = None
    result: Any = None


@dataclass
class Result:
    """The verdict: `ok`, and when not ok an `explanation` a person can act on."""

    ok: bool
    explanation: str = ""

    def __bool__(self) -> bool:
        return self.ok


# -- the model --------------------------------------------------------------------------

_ILLEGAL = object()  # "the model rejects this operation here"; states themselves may be None


def _step(state: State, op: Op, pending: bool) -> Any:
    """The state after `op` takes effect in `state`, or _ILLEGAL if its result rules that out."""
    if op.kind == "read":
        return state if op.result == state else _ILLEGAL
    if state is None:
        return _ILLEGAL
    _, version = state
    if op.kind == "write":
        return (op.arg, version + 1) if pending or op.result == version + 1 else _ILLEGAL
    expected, new_value = op.arg
    if expected == version:
        return (new_value, version + 1) if pending or op.result == ("ok", version + 1) else _ILLEGAL
    if pending:
        return _ILLEGAL  # a failed cas changes nothing: the search just leaves it out
    return state if op.result == ("bad_version",) else _ILLEGAL


def _would(state: State, op: Op) -> str:
    """What `op` would have returned had it taken effect in `state`, in words."""
    if op.kind == "read":
        return f"it would read {state!r}"
    if state is None:
        return "the node does not exist there (NoNode)"
    _, version = state
    if op.kind == "write":
        return f"the register is at version {version}, so it would return {version + 1}"
    expected = op.arg[0]
    if expected == version:
        return f"the register is at version {version}, so it would return ('ok', {version + 1})"
    return f"the register is at version {version}, so it would return ('bad_version',)"


# -- normalising and describing ops ---------------------------------------------------------


def _normalise(op: Op, index: int) -> Op:
    """A copy of `op` with tuples where JSON or a caller may have left lists; checks shapes."""
    if op.kind not in KINDS:
        raise ValueError(f"op #{index}: kind {op.kind!r} is not one of {KINDS}")
    if op.ret is not None and op.ret < op.call:
        raise ValueError(f"op #{index}: returned at {op.ret} before it was called at {op.call}")
    arg, result = op.arg, op.result
    if op.kind == "cas":
        if not isinstance(arg, (tuple, list)) or len(arg) != 2:
            raise ValueError(f"op #{index}: a cas arg is (expected_version, new_value), not {arg!r}")
        arg = tuple(arg)
    if op.ret is not None and isinstance(result, list):
        result = tuple(result)
    return Op(op.client, op.kind, op.key, arg, op.call, op.ret, result)


def describe(op: Op, index: int | None = None) -> str:
    """One line for an explanation: `#3 client 1 write b'x' [0.100, 0.250] -> 2`."""
    head = f"#{index} " if index is not None else ""
    arg = "" if op.kind == "read" else f" {op.arg!r}"
    ret = "?" if op.ret is None else f"{op.ret:.3f}"
    outcome = "(outcome unknown)" if op.ret is None else f"-> {op.result!r}"
    return f"{head}client {op.client} {op.kind}{arg} [{op.call:.3f}, {ret}] {outcome}"


# -- the search -----------------------------------------------------------------------------


class _Entry:
    """A call or return event in the doubly linked list the search walks."""

    __slots__ = ("slot", "call", "match", "prev", "next")

    def __init__(self, slot: int, call: bool) -> None:
        self.slot = slot  # the operation's position in this key's sub-history
        self.call = call
        self.match: _Entry | None = None  # a call entry's return entry
        self.prev: _Entry | None = None
        self.next: _Entry | None = None


def _build_list(ops: list[Op]) -> _Entry:
    events = []
    for slot, op in enumerate(ops):
        call, ret = _Entry(slot, True), _Entry(slot, False)
        call.match = ret
        # calls sort before returns at the same instant: touching intervals are concurrent
        events.append((op.call, 0, slot, call))
        events.append((math.inf if op.ret is None else op.ret, 1, slot, ret))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    head = _Entry(-1, False)
    last = head
    for *_, entry in events:
        last.next, entry.prev = entry, last
        last = entry
    return head


def _lift(call: _Entry) -> None:
    for entry in (call, call.match):
        entry.prev.next = entry.next
        if entry.next is not None:
            entry.next.prev = entry.prev


def _unlift(call: _Entry) -> None:
    for entry in (call.match, call):
        entry.prev.next = entry
        if entry.next is not None:
            entry.next.prev = entry


def _check_key(key: str, ops: list[Op], indexes: list[int], initial: State) -> str | None:
    """None if this key's sub-history linearizes, else why not."""
    pending = [op.ret is None for op in ops]
    unplaced = sum(1 for p in pending if not p)  # completed ops not yet linearized
    if unplaced == 0:
        return None
    head = _build_list(ops)
    state: State = initial
    linearized = 0  # bit i set: ops[i] is placed
    seen: set[tuple[int, State]] = set()
    stack: list[tuple[_Entry, State]] = []
    best: tuple[list[int], State] = ([], initial)
    entry = head.next
    while True:
        if entry.call:
            slot = entry.slot
            after = _step(state, ops[slot], pending[slot])
            if after is not _ILLEGAL:
                placed = linearized | (1 << slot)
                if (placed, after) not in seen:
                    seen.add((placed, after))
                    stack.append((entry, state))
                    state, linearized = after, placed
                    _lift(entry)
                    if not pending[slot]:
                        unplaced -= 1
                        if unplaced == 0:
                            return None
                    if len(stack) > len(best[0]):
                        best = ([e.slot for e, _ in stack], state)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return _explain(key, ops, indexes, initial, best)
            entry, state = stack.pop()
            linearized &= ~(1 << entry.slot)
            if not pending[entry.slot]:
                unplaced += 1
            _unlift(entry)
            entry = entry.next


def _explain(key: str, ops: list[Op], indexes: list[int], initial: State, best: tuple[list[int], State]) -> str:
    order, state = best
    done = set(order)
    left = [s for s in range(len(ops)) if s not in done and ops[s].ret is not None]
    stuck = min(left, key=lambda s: (ops[s].ret, s))
    completed = sum(1 for op in ops if op.ret is not None)
    lines = [
        f"key {key!r}: not linearizable ({completed} completed ops, {len(ops) - completed} with unknown outcome).",
        f"Longest linearizable prefix found: {len(order)} ops from initial state {initial!r}, "
        f"ending in state {state!r}" + (":" if order else "."),
    ]
    if len(order) > 8:
        lines.append(f"  ... {len(order) - 8} earlier ops")
    lines += [f"  {describe(ops[s], indexes[s])}" for s in order[-8:]]
    lines.append(f"Cannot place next: {describe(ops[stuck], indexes[stuck])}: {_would(state, ops[stuck])}.")
    return "\n".join(lines)


# -- the public checks ------------------------------------------------------------------------


def check(history: Iterable[Op], initial: Mapping[str, tuple[bytes, int]]) -> Result:
    """Is `history` linearizable against the znode register model, from `initial`?

    `initial` maps each key to its `(value, version)` before the history began; a key it
    does not name starts absent. Keys are checked independently.
    """
    by_key: dict[str, tuple[list[Op], list[int]]] = defaultdict(lambda: ([], []))
    for index, raw in enumerate(history):
        op = _normalise(raw, index)
        if op.ret is None and op.kind == "read":
            continue  # an unanswered read constrains nothing
        ops, indexes = by_key[op.key]
        ops.append(op)
        indexes.append(index)
    failures = []
    for key in sorted(by_key):
        start = initial.get(key)
        why = _check_key(key, *by_key[key], None if start is None else tuple(start))
        if why is not None:
            failures.append(why)
    return Result(not failures, "\n\n".join(failures))


def check_sequential_per_client(history: Iterable[Op]) -> Result:
    """ZooKeeper's per-session guarantee: no client reads a key's version going backwards.

    For each client, in call order, a successful read of a key must not observe a version
    lower than one that client already observed (read) or produced (write, successful cas)
    for that key; reading the node absent after that counts as going backwards too, since
    the model has no delete. Ops with unknown outcome say nothing and are skipped.
    """
    per_client: dict[int, list[tuple[int, Op]]] = defaultdict(list)
    for index, raw in enumerate(history):
        op = _normalise(raw, index)
        if op.ret is not None:
            per_client[op.client].append((index, op))
    problems = []
    for client in sorted(per_client):
        floor: dict[str, tuple[int, int]] = {}  # key -> (highest version seen, op index)
        for index, op in sorted(per_client[client], key=lambda p: (p[1].call, p[0])):
            version = _version_of(op)
            if op.kind == "read" and op.key in floor:
                high, at = floor[op.key]
                if version is None or version < high:
                    seen = "the node absent" if version is None else f"version {version}"
                    problems.append(
                        f"client {client}: {describe(op, index)} saw {seen} of key {op.key!r} "
                        f"after op #{at} had already seen version {high}"
                    )
                    continue
            if version is not None and (op.key not in floor or version > floor[op.key][0]):
                floor[op.key] = (version, index)
    if not problems:
        return Result(True)
    shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
    return Result(False, "per-client sequential consistency violated:\n" + "\n".join(shown))


def _version_of(op: Op) -> int | None:
    """The version a completed op observed or produced, if it names one."""
    if op.kind == "read":
        return None if op.result is None else op.result[1]
    if op.kind == "write":
        return op.result
    return op.result[1] if op.result and op.result[0] == "ok" else None
