"""`pybroker topics|produce|consume` against a real node, as a user types them."""

from __future__ import annotations

import subprocess
import sys

from tests.support.node import bootstrap


def cli(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broker", *args], input=stdin, capture_output=True, timeout=timeout)


def test_topics_create_list_describe_delete(shared_node) -> None:
    bs = ("--bootstrap", bootstrap(shared_node))
    out = cli("topics", "create", "cli-t", "--partitions", "3", "--config", "retention.ms=60000", *bs)
    assert out.returncode == 0, out.stderr
    assert b"Created topic cli-t" in out.stdout
    again = cli("topics", "create", "cli-t", *bs)
    assert again.returncode == 1 and b"TOPIC_ALREADY_EXISTS" in again.stderr
    assert cli("topics", "create", "cli-t", "--if-not-exists", *bs).returncode == 0
    assert b"cli-t" in cli("topics", "list", *bs).stdout.split()
    described = cli("topics", "describe", "cli-t", *bs).stdout.decode()
    assert "PartitionCount: 3" in described and described.count("Partition: ") == 3
    assert cli("topics", "delete", "cli-t", *bs).returncode == 0
    assert b"cli-t" not in cli("topics", "list", *bs).stdout.split()
    missing = cli("topics", "describe", "cli-t", *bs)
    assert missing.returncode == 1 and b"UNKNOWN_TOPIC_OR_PARTITION" in missing.stderr
    bad = cli("topics", "create", "x", "--config", "retention.ms", *bs)
    assert bad.returncode == 1 and b"KEY=VALUE" in bad.stderr


def test_produce_from_stdin_then_consume_from_beginning(shared_node) -> None:
    bs = ("--bootstrap", bootstrap(shared_node))
    assert cli("topics", "create", "cli-p", "--partitions", "1", *bs).returncode == 0
    lines = b"".join(b"key%d:value %d\n" % (i, i) for i in range(20))
    out = cli("produce", "cli-p", "--key-separator", ":", "--acks", "all", *bs, stdin=lines)
    assert out.returncode == 0, out.stderr
    got = cli(
        "consume", "cli-p", "--from-beginning", "--max-messages", "20", "--print-key", "--key-separator", "=", *bs
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == [b"key%d=value %d" % (i, i) for i in range(20)]
    two = cli(
        "consume", "cli-p", "--partition", "0", "--offset", "18", "--max-messages", "5", "--timeout-ms", "1000", *bs
    )
    assert two.returncode == 0 and two.stdout.splitlines() == [b"value 18", b"value 19"]


def test_produce_to_a_missing_topic_fails_clearly(shared_node) -> None:
    out = cli(
        "produce", "cli-missing", "--max-block-ms", "500", "--bootstrap", bootstrap(shared_node), stdin=b"x\n" * 1000
    )
    assert out.returncode == 1
    assert b"UNKNOWN_TOPIC_OR_PARTITION" in out.stderr and b"cli-missing" in out.stderr


def test_a_batch_that_runs_out_of_time_says_what_the_broker_last_answered(shared_node, new_topic) -> None:
    """One replica and min.insync.replicas=2: with acks=all every attempt is refused with
    NOT_ENOUGH_REPLICAS (retriable) until the delivery timeout; the user sees that refusal."""
    topic = new_topic(configs={"min.insync.replicas": "2"})
    out = cli(
        "produce",
        topic,
        "--acks",
        "all",
        "--delivery-timeout-ms",
        "2000",
        "--bootstrap",
        bootstrap(shared_node),
        stdin=b"x\n",
    )
    assert out.returncode == 1
    err = out.stderr.decode()
    assert "not delivered within 2s" in err and "the last answer from the broker was NOT_ENOUGH_REPLICAS (19)" in err, (
        err
    )


def test_produce_reads_lines_as_they_arrive_and_splits_blocks() -> None:
    """read_lines hands over each line as soon as its newline arrives (a person typing),
    joins a line split across reads, keeps empty lines and a last line without a newline."""
    import os

    from broker.cli.produce import read_lines

    r, w = os.pipe()
    with os.fdopen(r, "rb") as stream:
        lines = read_lines(stream)
        os.write(w, b"a\nb")
        assert next(lines) == [b"a"]  # before any more input: not waiting for a full block
        os.write(w, b"c\n\nd")
        assert next(lines) == [b"bc", b""]
        os.close(w)
        assert next(lines) == [b"d"]
        assert next(lines, None) is None


def test_a_named_command_imports_only_its_own_module() -> None:
    """`pybroker produce` does not import the broker, coordination server or console (0.7 s
    of CPU on every call of a shell pipeline); a line without a command still lists them all."""
    probe = (
        "import sys; from broker.cli.main import build_parser; "
        "p = build_parser(['--log-level', 'WARNING', 'produce', 't']); "
        "print(sorted(m for m in ('broker.cli.start', 'broker.server.broker', 'coord.server.server') "
        "if m in sys.modules)); build_parser(['--help']); print('broker.cli.start' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60, check=True).stdout.split()
    assert out == [b"[]", b"True"]
    assert b"invalid choice: 'nope'" in cli("nope").stderr and b"produce" in cli("nope").stderr
