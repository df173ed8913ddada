"""Several log directories (Kafka's `log.dirs`) and Kafka's log-directory failure handling,
in the log manager: partitions spread over the directories; an I/O error of any storage
operation in one directory (append, fsync, roll, index, checkpoint, retention, compaction)
takes that directory offline, drops its logs and says which partitions went, while the
other directory's partitions go on; a full disk is not a broken one; a replica whose log
cannot be opened answers KAFKA_STORAGE_ERROR."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker.config import BrokerConfig, load_config
from broker.log.errors import LogDirOfflineError, LogDirsConflictError
from broker.metadata.cache import MetadataCache
from broker.server.log_manager import LogManager
from broker.server.replica_manager import ReplicaManager
from storage.diskio import FaultPlan, injected
from tests.broker_log.helpers import make_batch
from tests.support.waiting import wait_until_async


def _config(tmp_path: Path, **overrides: object) -> BrokerConfig:
    return BrokerConfig(log_dirs=f"{tmp_path}/d1,{tmp_path}/d2", **overrides)


@pytest.fixture
async def lm(tmp_path: Path) -> AsyncIterator[LogManager]:
    manager = LogManager(
        _config(
            tmp_path, log_flush_scheduler_interval_ms=20, log_retention_check_interval_ms=20, log_cleaner_backoff_ms=20
        ),
        cleanable_offset=lambda topic, partition: 10**9,
    )
    manager.start()
    yield manager
    await manager.close()


def test_log_dirs_is_read_as_kafka_writes_it(tmp_path: Path) -> None:
    conf = tmp_path / "b.toml"
    conf.write_text(f'"log.dirs" = "{tmp_path}/x, {tmp_path}/y"\n')
    assert load_config(conf).log_directories() == [tmp_path / "x", tmp_path / "y"]
    conf.write_text(f'"log.dirs" = ["{tmp_path}/x"]\n')
    assert load_config(conf).log_directories() == [tmp_path / "x"]
    assert BrokerConfig(data_dir=tmp_path).log_directories() == [tmp_path]


async def test_partitions_are_spread_over_the_log_dirs_and_found_again(tmp_path: Path, lm: LogManager) -> None:
    homes = {p: lm.open("t", p, {}).directory.parent for p in range(4)}
    assert sorted(homes.values()) == [tmp_path / "d1"] * 2 + [tmp_path / "d2"] * 2
    for p in range(4):
        lm.open("t", p, {}).append(make_batch(1, 1000))
    await lm.close()
    again = LogManager(_config(tmp_path))
    again.start()
    try:
        for p in range(4):
            plog = again.open("t", p, {})
            assert plog.directory.parent == homes[p] and plog.log_end_offset == 1
    finally:
        await again.close()


def _append(plog) -> None:
    plog.append(make_batch(2, 1000, value_size=40))


FAULTS = {
    # operation: (topic configs, the fault, what triggers it)
    "append": ({}, lambda m: FaultPlan().fail_write(1, match=m + f"{0:020d}.log"), _append),
    "fsync": ({"flush.messages": "1"}, lambda m: FaultPlan().fail_fsync(1, match=m), _append),
    "roll": (
        {"segment.bytes": "150"},
        lambda m: FaultPlan().fail_write(1, match=m + f"{4:020d}.log"),
        lambda plog: [_append(plog) for _ in range(3)],
    ),
    "index": (
        {"flush.messages": "1", "segment.bytes": "150"},
        lambda m: FaultPlan().fail_write(1, match=m + f"{0:020d}.timeindex"),
        lambda plog: [_append(plog) for _ in range(4)],
    ),
    "checkpoint": (
        {},
        lambda m: FaultPlan().fail_write(1, match=m + "recovery-point-checkpoint"),
        lambda plog: plog.truncate_to(2),
    ),
    "retention": (
        {"segment.bytes": "150", "retention.ms": "1000"},
        lambda m: FaultPlan().fail_write(1, match=m + "recovery-point-checkpoint"),
        None,
    ),
    "compaction": (
        {"segment.bytes": "150", "cleanup.policy": "compact"},
        lambda m: FaultPlan().fail_write(1, match=m + f"{0:020d}.log.cleaned"),
        None,
    ),
}


@pytest.mark.parametrize("operation", sorted(FAULTS))
async def test_an_io_error_takes_only_its_log_dir_offline(tmp_path: Path, lm: LogManager, operation: str) -> None:
    configs, fault, trigger = FAULTS[operation]
    offline: list[tuple[Path, list[tuple[str, int]]]] = []
    lm.on_dir_offline = lambda directory, gone: offline.append((directory, gone))
    bad, good = lm.open("bad", 0, configs), lm.open("good", 0, configs)
    assert (bad.directory.parent, good.directory.parent) == (tmp_path / "d1", tmp_path / "d2")
    if trigger is None or operation == "checkpoint":  # background work needs closed segments first
        for i in range(4):  # the first batch's k2 is never superseded: compaction has bytes to write
            stamp = 1000 if operation == "retention" else int(time.time() * 1000)  # only retention expires them
            bad.append(make_batch(3 if i == 0 else 2, stamp, value_size=40))
            lm.appended("bad", 0)
        bad.flush()
    with injected(fault("/bad-0/")) as plan:
        if trigger is not None:
            try:
                trigger(bad)
                lm.appended("bad", 0)
            except OSError:
                pass
        await wait_until_async("the log dir reported offline", lambda: offline)
    assert plan.fired, "the fault was never met"
    assert offline == [(tmp_path / "d1", [("bad", 0)])]
    assert lm.get("bad", 0) is None and not lm.dirs.is_online(tmp_path / "d1")
    with pytest.raises(LogDirOfflineError):
        lm.open("bad", 0, configs)
    assert lm.open("new", 0, {}).directory.parent == tmp_path / "d2"  # new partitions go to the live dir
    _append(good)
    good.flush()
    assert good.recovery_point == 2


async def test_a_full_disk_is_not_a_failed_log_dir(tmp_path: Path, lm: LogManager) -> None:
    offline: list[Path] = []
    lm.on_dir_offline = lambda directory, gone: offline.append(directory)
    plog = lm.open("t", 0, {})
    with injected(FaultPlan().disk_full(1, match="/t-0/")):
        with pytest.raises(OSError) as refused:
            _append(plog)
        assert refused.value.errno == errno.ENOSPC
        await asyncio.sleep(0.1)
    assert not offline and lm.get("t", 0) is plog
    _append(plog)  # space freed: it takes writes again by itself
    assert plog.log_end_offset == 2


async def test_a_produce_waiting_for_its_fsync_is_never_acknowledged_by_a_dir_gone_offline(
    tmp_path: Path, lm: LogManager
) -> None:
    plog = lm.open("t", 0, {"flush.messages": "1"})
    _append(plog)
    with injected(FaultPlan().fail_fsync(1, match="/t-0/")), pytest.raises(OSError):
        await asyncio.wait_for(lm.sync(plog), 5)
    await wait_until_async("d1 offline", lambda: not lm.dirs.is_online(tmp_path / "d1"))


async def test_a_log_dir_unreadable_at_start_is_offline_and_nothing_is_created_in_its_place(tmp_path: Path) -> None:
    (tmp_path / "d2").write_text("not a directory")  # listing it fails, as on a dead disk
    lm = LogManager(_config(tmp_path))
    lm.start()
    try:
        assert lm.dirs.online() == [tmp_path / "d1"]
        with pytest.raises(LogDirOfflineError):  # it may have been in d2: never start it empty here
            lm.open("t", 0, {})
    finally:
        await lm.close()


async def test_no_usable_log_dir_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "d1").write_text("x")
    (tmp_path / "d2").write_text("x")
    with pytest.raises(LogDirOfflineError, match="no usable log directory"):
        LogManager(_config(tmp_path)).start()


async def test_a_replica_whose_log_cannot_be_opened_answers_a_storage_error(tmp_path: Path, lm: LogManager) -> None:
    replicas = ReplicaManager(lm.config, lm, MetadataCache())
    replicas.propose_isr = lambda part, proposal: None
    (tmp_path / "d1" / "t-0").write_text("")  # its directory cannot be made: an I/O error opening it
    order = {"topic": "t", "partition": 0, "leader": 1, "leader_epoch": 0, "isr": [1], "replicas": [1], "zk_version": 0}
    assert replicas.leader_and_isr([order], {"t": {}}, 1) == [{"topic": "t", "partition": 0, "error": 56}]
    await wait_until_async("d1 offline", lambda: not lm.dirs.is_online(tmp_path / "d1"))
    assert replicas.leader_and_isr([order], {"t": {}}, 1)[0]["error"] == 56  # and stays offline


async def test_one_partition_in_two_log_dirs_refuses_to_start(tmp_path: Path) -> None:
    for d in ("d1", "d2"):
        (tmp_path / d / "t-0").mkdir(parents=True)
    with pytest.raises(LogDirsConflictError, match="t-0 is in two log directories"):
        LogManager(_config(tmp_path)).start()
