"""Run the Kafka client projects' own integration suites against a 3-broker pybroker cluster.

The judges are suites we did not write: librdkafka's regression tests (its tests/ folder,
built with `make build`), kafka-python's integration tests, confluent-kafka-python's
integration tests and kcat's test scripts. Each is given as a path to a checkout made
beforehand (see docs/compatibility.md for how); this script fetches nothing, builds
nothing and never writes into a checkout: test.conf, kcat's test folder and every other
file it needs go into a temporary directory. It starts one cluster with
`python -m broker cluster up`, gives every broker what kafka-python's and trivup's
fixtures configure and these suites assume (BROKER_CONFIG: 4 partitions per new topic,
session timeouts down to 1 s, no initial rebalance delay), runs each suite given (every ACL
deleted before each Python suite, whose fixtures start with none; kcat's scripts with a
pseudo-terminal for stdin, as at a shell), stops the cluster and prints one table row per
suite: suite, version, command, passed / failed / skipped, and the names of the failures.
librdkafka's `noautocreate` scenario (--librdkafka-scenario) needs a cluster of its own, with
auto topic creation off, and its socket-emulator tests (--librdkafka-sockem) a runner without
-E: each is a run of the script by itself.

It must never be imported by pybroker code or tests, and never leaves a process running.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# librdkafka tests in scope: 0000-0999, broker needed (not the mock-cluster "local" ones,
# which run with -L excluded), no JVM tooling, no Kerberos, no transactions, no share groups.
# Left out: sockem tests (-E: the runner's socket emulator; --librdkafka-sockem runs them),
# the noautocreate scenario's tests (--librdkafka-scenario noautocreate), transactions (0098, 0103, 0129),
# share groups (0170-0190), SSL/SASL/OIDC-only ones (0097, 0126, 0142), 0038_performance
# (a throughput run, minutes) and 0150 (telemetry on the mock cluster).
LIBRDKAFKA_TESTS = (
    "0001 0002 0003 0005 0007 0008 0011 0012 0013 0014 0015 0016 0017 0018 0019 0020 0021 0022 "
    "0026 0028 0029 0030 0031 0033 0034 0035 0036 0039 0040 0041 0042 0044 0045 0048 0050 "
    "0051 0052 0053 0054 0056 0057 0059 0060 0061 0063 0064 0065 0067 0069 0070 0073 0077 0081 "
    "0082 0083 0084 0085 0086 0089 0090 0091 0092 0093 0099 0101 0102 0107 0109 0110 0111 0112 0113 0114 "
    "0115 0118 0119 0122 0123 0125 0127 0130 0132 0135 0137 0140"
).split()

# librdkafka's `noautocreate` scenario (tests/scenarios/noautocreate.json): a cluster with
# auto topic creation off, the runner told so with -s; only the tests marked for it run there.
NOAUTOCREATE_TESTS = "0045 0107 0111".split()
NOAUTOCREATE_CONFIG = {"auto.create.topics.enable": "false"}

# The tests that drive the runner's socket emulator (sockem: delays, drops, closes the
# client's sockets); they run only when -E is not given.
SOCKEM_TESTS = "0049 0068 0075 0076 0088 0094".split()


# What the suites' own fixtures put in server.properties (kafka-python's servers/resources,
# trivup's defaults), as TOML values.
# Both run ACLs on, with everything allowed where no ACL names the resource.
BROKER_CONFIG = {
    "num.partitions": "4",
    "group.min.session.timeout.ms": "1000",
    "group.initial.rebalance.delay.ms": "0",
    "authorizer.class.name": '"kafka.security.authorizer.AclAuthorizer"',
    "allow.everyone.if.no.acl.found": "true",
}


@dataclass
class Result:
    suite: str
    version: str
    command: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    note: str = ""


class Cluster:
    """`pybroker cluster up` in a temporary directory; `close` always brings it down."""

    def __init__(self, root: Path, nodes: int, broker_config: dict[str, str]) -> None:
        self.dir = root / "cluster"
        self._cli("up", "--nodes", str(nodes), "--timeout", "120")
        state = json.loads((self.dir / "cluster.json").read_text())
        self.brokers = [(b["id"], b["port"]) for b in state["brokers"]]
        if broker_config:
            for broker_id, _ in self.brokers:
                toml = self.dir / f"broker-{broker_id}.toml"
                with toml.open("a") as out:
                    for key, value in broker_config.items():
                        out.write(f'"{key}" = {value}\n')
                self._cli("kill", "--signal", "TERM", str(broker_id))
                self._wait_closed(broker_id)
                self._cli("start", str(broker_id))
            time.sleep(5)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for _, port in self.brokers)

    def _cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "broker", "cluster", *args, "--data-dir", str(self.dir)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError(f"pybroker cluster {' '.join(args)}: {out.stdout}{out.stderr}")
        return out.stdout

    def _wait_closed(self, broker_id: int) -> None:
        deadline = time.monotonic() + 60
        while f"broker {broker_id}" in self._cli("ps") and "running" in self._ps_line(broker_id):
            if time.monotonic() > deadline:
                self._cli("kill", str(broker_id))
                return
            time.sleep(0.5)

    def _ps_line(self, broker_id: int) -> str:
        for line in self._cli("ps").splitlines():
            if f"broker {broker_id}" in line:
                return line
        return ""

    def clear_acls(self) -> int:
        """Delete every ACL: each suite's own fixture starts a cluster with none (librdkafka's
        0081 leaves the ACLs its CreateAcls test made, which confluent-kafka-python's
        test_basic_operations would then list as its own). Returns how many went."""
        import asyncio

        from client.client import NetworkClient
        from client.protocol.api import ApiKey
        from client.protocol.messages import DeleteAclsRequest as D

        async def delete() -> int:
            client = NetworkClient(self.bootstrap, client_id="judges", request_timeout_ms=30000, retry_backoff_ms=100)
            await client.start()
            try:  # any resource, pattern, principal, host, operation and permission (ANY = 1)
                answer = await client.any_request(
                    ApiKey.DELETE_ACLS,
                    D(
                        filters=[
                            D.DeleteAclsFilter(
                                resource_type_filter=1,
                                resource_name_filter=None,
                                pattern_type_filter=1,
                                principal_filter=None,
                                host_filter=None,
                                operation=1,
                                permission_type=1,
                            )
                        ]
                    ),
                )
            finally:
                await client.close()
            return sum(len(r.matching_acls) for r in answer.filter_results)

        return asyncio.run(delete())

    def close(self) -> None:
        self._cli("down")


def run_logged(
    cmd: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float, stdin: int | None = subprocess.DEVNULL
) -> tuple[int, str]:
    """Run `cmd` in its own process group, output to `log`; on timeout SIGINT the group
    (so runners print what they have), then SIGKILL it. Returns exit status and output."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            out.write(f"\n[judges] timed out after {timeout:.0f}s\n")
    return proc.returncode, log.read_text(errors="replace")


def run_librdkafka(
    path: Path,
    cluster: Cluster,
    work: Path,
    timeout: float,
    tests: list[str],
    kafka_version: str,
    scenario: str = "default",
    sockem: bool = False,
) -> Result:
    tests_dir = path / "tests"
    runner = tests_dir / "test-runner"
    if not runner.exists():
        raise SystemExit(f"{runner} missing: build it first (make libs && make -C tests build)")
    conf = work / "librdkafka-test.conf"
    conf.write_text(f"bootstrap.servers={cluster.bootstrap}\ntest.timeout.multiplier=4\ntest.topic.random=true\n")
    version = (path / "src" / "rdkafka.h").read_text()
    found = re.search(r"#define RD_KAFKA_VERSION\s+0x([0-9a-f]{8})", version)
    ver = "?" if found is None else ".".join(str(int(found.group(1)[i : i + 2], 16)) for i in (0, 2, 4))
    env = {
        **os.environ,
        "TESTS": ",".join(tests),
        "TEST_KAFKA_VERSION": kafka_version,
        "RDKAFKA_TEST_CONF": str(conf),
        "TEST_LEVEL": "2",
        "LD_LIBRARY_PATH": f"{path / 'src'}:{path / 'src-cpp'}",
    }
    cmd = [str(runner), "-L", "-K", *([] if sockem else ["-E"]), "-Q", "-p1", "-s", scenario]
    _, out = run_logged(cmd, tests_dir, env, work / "librdkafka.log", timeout)
    result = Result(
        "librdkafka tests/",
        ver,
        f"TESTS=<{len(tests)} tests> TEST_KAFKA_VERSION={kafka_version} test-runner {' '.join(cmd[1:])}",
    )
    # The runner's closing summary table ("| <name> | <STATE> | ...") is the authority: a
    # failed test never prints a "Test <name> FAILED" banner of its own, only '### Test
    # "<name> (<subtest>)" failed', which counts where the runner died before its table.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    states: dict[str, str] = {}
    for name, state in re.findall(r"Test (\d{4}\w*) (PASSED|FAILED|SKIPPED)", plain):
        states[name] = state
    for name in re.findall(r'^### Test "(\d{4}\w*)[^"]*" failed', plain, re.M):
        states[name] = "FAILED"
    for name, state in re.findall(r"^\|\s*(\d{4}\w*)\s*\|\s*(PASSED|FAILED|SKIPPED)\s*\|", plain, re.M):
        states[name] = state
    for name, state in sorted(states.items()):
        if state == "PASSED":
            result.passed += 1
        elif state == "FAILED":
            result.failed += 1
            result.failures.append(name)
        else:
            result.skipped += 1
    if "[judges] timed out" in out:
        result.note = "timed out; counts are the tests that finished"
    return result


def pytest_counts(out: str, result: Result) -> Result:
    # pytest's summary line ("... passed, ... in 12.3s"); a suite may print more after it
    summaries = [line for line in out.splitlines() if re.search(r" in [0-9.]+s\b", line)]
    for count, what in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summaries[-1] if summaries else ""):
        if what == "passed":
            result.passed = int(count)
        elif what == "skipped":
            result.skipped = int(count)
        else:
            result.failed += int(count)
    result.failures = sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)))
    if "[judges] timed out" in out:
        result.note = "timed out"
    return result


def run_kafka_python(path: Path, cluster: Cluster, work: Path, timeout: float, kafka_version: str) -> Result:
    empty_root = work / "no-kafka-install"  # the fixture insists on a Kafka dir even for KAFKA_URI
    empty_root.mkdir(exist_ok=True)
    first = cluster.bootstrap.split(",")[0]
    env = {
        **os.environ,
        "KAFKA_VERSION": kafka_version,
        "KAFKA_URI": f"kafka://{first}",
        "KAFKA_ROOT": str(empty_root),
        "PYTHONPATH": str(path),
    }
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "test/integration",
        "-q",
        "-p",
        "no:cacheprovider",
        "--assert=plain",
        "-o",
        "addopts=",
        "-o",
        "log_level=WARNING",
        "--timeout=120",
        "-rfEs",
    ]
    _, out = run_logged(cmd, path, env, work / "kafka-python.log", timeout)
    ver = re.search(r"__version__ = '([^']+)'", (path / "kafka" / "version.py").read_text())
    return pytest_counts(
        out,
        Result(
            "kafka-python test/integration",
            ver.group(1) if ver else "?",
            f"KAFKA_URI=kafka://<broker 1> KAFKA_VERSION={kafka_version} pytest test/integration --assert=plain",
        ),
    )


def run_confluent(path: Path, cluster: Cluster, work: Path, timeout: float, deps: Path | None) -> Result:
    # The installed confluent_kafka under the checkout's tests (--import-mode=append keeps the
    # checkout's src/ package from shadowing it); `deps`: the fixtures' imports (trivup,
    # the schema-registry and avro modules) installed with `pip install --target`.
    env = {**os.environ, "BROKERS": cluster.bootstrap}
    if deps is not None:
        env["PYTHONPATH"] = str(deps)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/integration/admin",
        "tests/integration/consumer",
        "tests/integration/producer/test_producer_wakeable_poll_flush.py",
        "tests/integration/integration_test.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--timeout=180",
        "-rfEs",
        "--import-mode=append",
    ]
    _, out = run_logged(cmd, path, env, work / "confluent-kafka-python.log", timeout)
    import confluent_kafka

    return pytest_counts(
        out,
        Result(
            "confluent-kafka-python tests/integration",
            f"tests {path.name}, confluent_kafka {confluent_kafka.__version__} "
            f"(librdkafka {confluent_kafka.libversion()[0]})",
            "BROKERS=<cluster> pytest tests/integration/{admin,consumer} "
            "producer/test_producer_wakeable_poll_flush.py integration_test.py",
        ),
    )


def run_kcat(path: Path, cluster: Cluster, work: Path, timeout: float, kcat: str) -> Result:
    # The scripts call ../kcat: copy them next to a link to the kcat under test. kcat picks
    # consumer mode only when its stdin is a terminal, as at the developer's shell the scripts
    # were written for: they get a pseudo-terminal for stdin.
    tree = work / "kcat"
    shutil.copytree(path / "tests", tree / "tests")
    (tree / "kcat").symlink_to(shutil.which(kcat) or kcat)
    about = subprocess.run([kcat, "-V"], capture_output=True, text=True).stdout
    found = re.search(r"^Version (\S+).*?librdkafka (\S+)", about, re.M | re.S)
    version = f"{found.group(1)} (librdkafka {found.group(2)})" if found else about.split("\n")[0]
    result = Result("kcat tests/", version, "BROKERS=<cluster> ./<each 0*.sh> (stdin a pseudo-terminal)")
    for script in sorted((tree / "tests").glob("0*.sh")):
        env = {**os.environ, "BROKERS": cluster.bootstrap}
        terminal, terminal_side = pty.openpty()
        try:
            rc, out = run_logged(
                ["bash", script.name],
                tree / "tests",
                env,
                work / f"kcat-{script.stem}.log",
                timeout,
                stdin=terminal_side,
            )
        finally:
            os.close(terminal)
            os.close(terminal_side)
        if "TEST SKIPPED" in out:
            result.skipped += 1
        elif rc == 0:
            result.passed += 1
        else:
            result.failed += 1
            result.failures.append(script.stem)
    return result


def table(results: list[Result]) -> str:
    lines = ["| suite | version | command | passed | failed | skipped | failures |", "|---|---|---|---|---|---|---|"]
    for r in results:
        failures = ", ".join(r.failures) + (f" ({r.note})" if r.note else "")
        lines.append(
            f"| {r.suite} | {r.version} | `{r.command}` | {r.passed} | {r.failed} | {r.skipped} | {failures} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--librdkafka", type=Path, help="librdkafka checkout, libs and tests built")
    parser.add_argument(
        "--librdkafka-tests",
        help="comma-separated test numbers (default: the ones in scope for the scenario, "
        "or the sockem ones with --librdkafka-sockem)",
    )
    parser.add_argument(
        "--librdkafka-scenario",
        choices=("default", "noautocreate"),
        default="default",
        help="librdkafka test scenario: noautocreate turns auto topic creation off in every broker",
    )
    parser.add_argument(
        "--librdkafka-sockem", action="store_true", help="run the socket-emulator tests (drop the runner's -E)"
    )
    parser.add_argument("--kafka-python", type=Path, help="kafka-python checkout")
    parser.add_argument("--confluent-kafka-python", type=Path, help="confluent-kafka-python checkout")
    parser.add_argument(
        "--confluent-deps",
        type=Path,
        help="directory of the modules confluent-kafka-python's test fixtures import "
        "(trivup, authlib, httpx, avro, ...), from pip install --target",
    )
    parser.add_argument("--kcat", type=Path, help="kcat checkout (its tests/ scripts)")
    parser.add_argument("--kcat-binary", default="kcat", help="the kcat the scripts run (default: kcat on PATH)")
    parser.add_argument("--kafka-version", default="3.8.0", help="broker version the suites gate tests on")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per suite (per script for kcat)")
    parser.add_argument("--work", type=Path, help="keep logs and the cluster here (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="judges-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    noauto = args.librdkafka_scenario == "noautocreate"
    if args.librdkafka_tests:
        tests = args.librdkafka_tests.split(",")
    else:
        tests = NOAUTOCREATE_TESTS if noauto else SOCKEM_TESTS if args.librdkafka_sockem else LIBRDKAFKA_TESTS
    cluster = Cluster(work, 3, {**BROKER_CONFIG, **(NOAUTOCREATE_CONFIG if noauto else {})})
    try:
        print(f"cluster {cluster.bootstrap}; logs in {work}", flush=True)
        if args.librdkafka:
            results.append(
                run_librdkafka(
                    args.librdkafka,
                    cluster,
                    work,
                    args.timeout,
                    tests,
                    args.kafka_version,
                    args.librdkafka_scenario,
                    args.librdkafka_sockem,
                )
            )
            print(table(results[-1:]), flush=True)
        if args.kafka_python:
            print(f"deleted {cluster.clear_acls()} ACLs left by the suites before", flush=True)
            results.append(run_kafka_python(args.kafka_python, cluster, work, args.timeout, args.kafka_version))
            print(table(results[-1:]), flush=True)
        if args.confluent_kafka_python:
            print(f"deleted {cluster.clear_acls()} ACLs left by the suites before", flush=True)
            results.append(run_confluent(args.confluent_kafka_python, cluster, work, args.timeout, args.confluent_deps))
            print(table(results[-1:]), flush=True)
        if args.kcat:
            results.append(run_kcat(args.kcat, cluster, work, min(args.timeout, 120), args.kcat_binary))
            print(table(results[-1:]), flush=True)
    finally:
        cluster.close()
    print(table(results))


if __name__ == "__main__":
    main()
