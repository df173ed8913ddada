"""Fixtures shared by every test package, and the `integration` marker.

A test is marked `integration` when it starts a process (a server, a real ZooKeeper, kcat,
a browser, a child Python, `mount`): found from the code it runs, its own and its fixtures',
following the helpers in tests/ that it names down to `subprocess`, `asyncio`'s subprocess
calls, `multiprocessing` or selenium. A test marked `slow` (a seed sweep, a big property
run) counts as integration too.

`python -m pytest -m "not integration"` is the fast run. In it, a test that starts a
process anyway (the analysis missed a path) fails, naming itself and the command.
"""

from __future__ import annotations

import asyncio
import dis
import inspect
import itertools
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.coord_ensemble.harness import Ensemble
from tests.support.node import Node, bootstrap, new_node
from tests.support.procs import ProcessGroup

INTEGRATION = "integration"

# What starts a process, as the tests name it.
_STARTERS: tuple[Any, ...] = (
    subprocess,
    subprocess.Popen,
    subprocess.run,
    subprocess.call,
    subprocess.check_call,
    subprocess.check_output,
    asyncio.create_subprocess_exec,
    asyncio.create_subprocess_shell,
    os.system,
    os.fork,
    os.posix_spawn,
    os.execv,
)
_STARTER_MODULES = (
    "multiprocessing",
    "selenium",
    "concurrent.futures.process",
    "launchers.zookeeper",
    "launchers.coord_ensemble",
)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessGroup]:
    """Real server processes, all killed when the test ends, whatever its outcome."""
    group = ProcessGroup(tmp_path)
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def node(procs: ProcessGroup, tmp_path: Path) -> Node:
    """A `pybroker start` node that is not started yet (tests that restart or break it)."""
    return new_node(procs, tmp_path)


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One running node shared by a module's tests that do not disturb it."""
    tmp = tmp_path_factory.mktemp("node")
    group = ProcessGroup(tmp)
    try:
        n = new_node(group, tmp)
        n.start()
        yield n
    finally:
        group.close()


_topic_names = itertools.count()


@pytest.fixture
def new_topic(shared_node: Node) -> Callable[..., str]:
    """Create a topic with a fresh name on the shared node; returns the name."""
    from client import Admin, NewTopic

    def create(partitions: int = 1, configs: dict[str, str] | None = None) -> str:
        name = f"t{next(_topic_names)}"
        with Admin(bootstrap(shared_node)) as admin:
            admin.create_topics([NewTopic(name, partitions, 1, configs)])
        return name

    return create


@pytest.fixture
def ensemble(procs: ProcessGroup, tmp_path: Path) -> Iterator[Callable[..., Ensemble]]:
    """`ensemble(size, ...)`: coord ensembles of `python -m coord start` processes (owned
    by `procs`, which kills them); their fault proxies are closed here."""
    made: list[Ensemble] = []

    def make(size: int, **kwargs: object) -> Ensemble:
        ens = Ensemble(procs, tmp_path, size, **kwargs)  # type: ignore[arg-type]
        made.append(ens)
        return ens

    try:
        yield make
    finally:
        for ens in made:
            ens.close()


# --- which tests start processes -------------------------------------------------------


class _Finder:
    """Decides, by following names through code, whether running something can start a
    process. Only code under tests/ is followed; the packages under test never start one
    except through their own commands, which a test reaches through `subprocess`."""

    def __init__(self) -> None:
        self._seen: dict[int, bool] = {}

    def starts(self, obj: Any) -> bool:
        key = id(obj)
        if key in self._seen:
            return self._seen[key]
        self._seen[key] = False  # a cycle adds nothing
        found = self._starts(obj)
        self._seen[key] = found
        return found

    def _starts(self, obj: Any) -> bool:
        if any(obj is s for s in _STARTERS):
            return True
        if isinstance(obj, types.ModuleType):
            if obj.__name__.startswith(_STARTER_MODULES):
                return True
            # a tests module named as a whole (`from tests.x import harness`): any of its code
            return obj.__name__.startswith("tests.") and any(
                self.starts(v) for v in vars(obj).values() if _defined_in_tests(v)
            )
        module = getattr(obj, "__module__", None) or ""
        if module.startswith(_STARTER_MODULES):
            return True
        if not module.startswith("tests."):
            return False
        if inspect.isclass(obj):
            return any(
                self.starts(v)
                for v in vars(obj).values()
                if inspect.isfunction(v) or isinstance(v, (staticmethod, classmethod, property))
            )
        if isinstance(obj, (staticmethod, classmethod)):
            return self.starts(obj.__func__)
        if isinstance(obj, property):
            return any(self.starts(f) for f in (obj.fget, obj.fset) if f is not None)
        func = inspect.unwrap(obj) if callable(obj) else None
        if not inspect.isfunction(func):
            return False
        scope = func.__globals__
        return any(name in scope and self.starts(scope[name]) for name in _names(func.__code__)) or any(
            self.starts(obj) for obj in _local_imports(func.__code__)
        )


def _defined_in_tests(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith("tests.") or (
        isinstance(obj, types.ModuleType) and obj.__name__.startswith("tests.")
    )


def _names(code: types.CodeType) -> Iterator[str]:
    """Global names a function's code (and the code nested in it) refers to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _local_imports(code: types.CodeType) -> Iterator[Any]:
    """What the imports inside a function (and the code nested in it) bring in."""
    module = None
    for ins in dis.get_instructions(code):
        if ins.opname == "IMPORT_NAME":
            module = sys.modules.get(ins.argval)
            if module is not None:
                yield module
        elif ins.opname == "IMPORT_FROM" and module is not None and hasattr(module, ins.argval):
            yield getattr(module, ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _local_imports(const)


def _starts_process(item: pytest.Item, finder: _Finder) -> bool:
    if not isinstance(item, pytest.Function):
        return False
    if finder.starts(item.obj) or (item.cls is not None and finder.starts(item.cls)):
        return True
    fixtures = item._fixtureinfo.name2fixturedefs  # the fixtures this test sets up, transitively
    return any(finder.starts(d.func) for defs in fixtures.values() for d in defs)


def pytest_configure(config: pytest.Config) -> None:
    # A `-m` on the command line replaces the one in addopts: keep soaks out unless named.
    expr = config.option.markexpr
    if expr and "soak" not in expr:
        config.option.markexpr = f"({expr}) and not soak"
    if _fast_run(config):
        _forbid_processes()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    finder = _Finder()
    for item in items:
        if item.get_closest_marker(INTEGRATION) is None and (
            item.get_closest_marker("slow") is not None or _starts_process(item, finder)
        ):
            item.add_marker(INTEGRATION)


# --- the fast run starts no process ----------------------------------------------------


def _fast_run(config: pytest.Config) -> bool:
    return "not integration" in " ".join((config.option.markexpr or "").split())


_current: list[str] = []  # the node id of the test running in this process
_violations: dict[str, list[str]] = {}


class ProcessInFastRunError(RuntimeError):
    """A test not marked `integration` started a process."""


def _refuse(what: str) -> None:
    test = _current[-1] if _current else "a fixture outside any test"
    message = (
        f"{test} started a process ({what}) in a run without integration tests: "
        f"mark it @pytest.mark.integration, or teach tests/conftest.py the path it took"
    )
    _violations.setdefault(test, []).append(message)
    raise ProcessInFastRunError(message)


def _forbid_processes() -> None:
    execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]

    def guarded(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> Any:
        if _current:
            _refuse(f"command {args!r}")
        return execute_child(self, args, *rest, **kwargs)

    subprocess.Popen._execute_child = guarded  # type: ignore[attr-defined]
    fork = os.fork

    def guarded_fork() -> int:
        if _current:
            _refuse("os.fork()")
        return fork()

    os.fork = guarded_fork


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _current.append(item.nodeid)
    try:
        yield
    finally:
        _current.pop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    # Fail the test even if its code caught the refusal and carried on.
    messages = _violations.pop(item.nodeid, None)
    if messages and not report.failed:
        report.outcome = "failed"
        report.longrepr = "\n".join(messages)
