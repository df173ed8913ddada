"""Starting, stopping and watching the processes of a local cluster.

A local cluster is 3 (or `--coord-nodes`) coord members forming a real ensemble and N
brokers, each a separate, detached `python -m broker ...` process on loopback with its
own ports, data directory and log file under the cluster's data directory. The same
functions serve `pybroker cluster ...` (which exits and leaves the processes running)
and `pybroker demo failover` (which tears them down itself). Children run the code of
the `broker` package that started them (PYTHONPATH is set to it), so a worktree's
cluster runs the worktree's code. This module must never talk to a broker's wire
protocol; readiness is read from coord only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import broker
from broker.cli.cluster_security import add_scram_logins, coord_options, scram_logins
from broker.cli.cluster_state import ClusterState, ClusterStateError, Member, load_state, pid_alive, state_path
from broker.cli.status_model import parse_srvr_mode
from broker.metadata import znodes as Z
from coord.client import CoordClient
from coord.client.four_letter import four_letter

LOOPBACK = "127.0.0.1"
COORD_TICK_MS = 1000


class ClusterStartError(RuntimeError):
    """A process of the cluster died or the cluster did not become ready in time."""


def pick_free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct ports the kernel says are free now (all held while choosing)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def plan_cluster(
    data_dir: Path,
    nodes: int,
    coord_nodes: int = 3,
    session_timeout_ms: int = 6000,
    host: str = LOOPBACK,
    *,
    listener_protocol: str = "PLAINTEXT",
    broker_config: Path | None = None,
    command_config: Path | None = None,
    coord_options: list[str] | None = None,
    coord_jaas: Path | None = None,
) -> ClusterState:
    """Ports, directories and commands for every process; nothing is started.

    A secured cluster (cluster_security): every broker listens with `listener_protocol` and gets
    the settings of `broker_config` added to its file; every coord member gets `coord_options`
    (ZooKeeper's NAME=VALUE) and `coord_jaas`, and a secureClientPort of its own when the options
    give it a TLS key store; `command_config` is what the commands' clients use."""
    if nodes < 1:
        raise ValueError("--nodes must be at least 1")
    if coord_nodes < 1:
        raise ValueError("--coord-nodes must be at least 1")
    options = list(coord_options or [])
    bad = [o for o in options if "=" not in o]
    if bad:
        raise ValueError(f"coord options are NAME=VALUE, not {bad[0]!r}")
    coord_tls = any(o.split("=", 1)[0] == "ssl.keyStore.location" for o in options)
    data_dir = Path(data_dir).resolve()
    ports = pick_free_ports(3 * coord_nodes + 2 * nodes + (coord_nodes if coord_tls else 0), host)
    python = [sys.executable, "-m", "broker"]
    peers = ",".join(
        f"{i}={host}:{ports[coord_nodes + 2 * (i - 1)]}:{ports[coord_nodes + 2 * (i - 1) + 1]}"
        for i in range(1, coord_nodes + 1)
    )
    state = ClusterState(
        data_dir=str(data_dir),
        session_timeout_ms=session_timeout_ms,
        listener_protocol=listener_protocol.upper(),
        broker_config=str(Path(broker_config).resolve()) if broker_config else "",
        command_config=str(Path(command_config).resolve()) if command_config else "",
        coord_options=options,
        coord_jaas=str(Path(coord_jaas).resolve()) if coord_jaas else "",
    )
    for i in range(1, coord_nodes + 1):
        client_port = ports[i - 1]
        member_dir = data_dir / f"coord-{i}"
        command = [
            *python,
            "coord",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(member_dir),
            "--client-port",
            str(client_port),
            "--host",
            host,
            "--tick-ms",
            str(COORD_TICK_MS),
        ]
        if coord_nodes > 1:
            command += ["--peers", peers]
        secure_port = ports[3 * coord_nodes + 2 * nodes + i - 1] if coord_tls else 0
        command += [
            x for o in options + ([f"secureClientPort={secure_port}"] if secure_port else []) for x in ("-D", o)
        ]
        command += ["--jaas-config", state.coord_jaas] if state.coord_jaas else []
        state.coord.append(
            Member(
                "coord",
                i,
                host,
                client_port,
                command,
                str(data_dir / "logs" / f"coord-{i}.log"),
                str(member_dir),
                quorum_port=ports[coord_nodes + 2 * (i - 1)],
                election_port=ports[coord_nodes + 2 * (i - 1) + 1],
                secure_port=secure_port,
            )
        )
    connect = state.coord_connect
    for i in range(1, nodes + 1):
        port = ports[3 * coord_nodes + i - 1]
        metrics_port = ports[3 * coord_nodes + nodes + i - 1]
        broker_dir = data_dir / f"broker-{i}"
        config = data_dir / f"broker-{i}.toml"
        # A PLAINTEXT listener is the --host/--port flags; any other is `listeners` in the file.
        address = ["--port", str(port), "--host", host] if state.listener_protocol == "PLAINTEXT" else []
        command = [
            *python,
            "broker",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(broker_dir),
            *address,
            "--coord",
            connect,
            "--config",
            str(config),
            "--metrics-port",
            str(metrics_port),
        ]
        state.brokers.append(
            Member(
                "broker",
                i,
                host,
                port,
                command,
                str(data_dir / "logs" / f"broker-{i}.log"),
                str(broker_dir),
                metrics_port=metrics_port,
            )
        )
    return state


def write_broker_configs(state: ClusterState) -> None:
    """Each broker's TOML: the coord session timeout (how fast a dead broker is noticed) and, in
    a secured cluster, its listener and the settings of the cluster's broker config file."""
    extra = Path(state.broker_config).read_text() if state.broker_config else ""
    for b in state.brokers:
        lines = f'"zookeeper.session.timeout.ms" = {state.session_timeout_ms}\n'
        if state.listener_protocol != "PLAINTEXT":
            lines += f'listeners = "{state.listener_protocol}://{b.host}:{b.port}"\n'
        Path(b.command[b.command.index("--config") + 1]).write_text(lines + extra)


def _child_env() -> dict[str, str]:
    code_root = str(Path(broker.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": code_root + (os.pathsep + path if path else "")}


def spawn(member: Member) -> None:
    """Start `member` detached (own session, output to its log); records its pid."""
    log_path = Path(member.log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            member.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_child_env(),
            start_new_session=True,
        )
    member.pid = proc.pid


def is_running(member: Member) -> bool:
    return pid_alive(member.pid, member.command)


def running_state(data_dir: Path) -> ClusterState | None:
    """The state of a cluster with at least one live process in `data_dir`, else None."""
    if not state_path(data_dir).exists():
        return None
    state = load_state(data_dir)
    return state if any(is_running(m) for m in state.members) else None


def refuse_if_running(data_dir: Path) -> None:
    """ClusterStateError naming the live processes if a cluster already runs in `data_dir`."""
    running = running_state(data_dir)
    if running is not None:
        pids = ", ".join(f"{m.name}={m.pid}" for m in running.members if is_running(m))
        raise ClusterStateError(
            f"a cluster is already running in {data_dir} ({pids}); "
            f"stop it first with `pybroker cluster down --data-dir {data_dir}`"
        )


def signal_member(member: Member, sig: int) -> bool:
    """Send `sig` to a running member; False if it was not running."""
    if not is_running(member):
        return False
    try:
        os.kill(member.pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_exited(*members: Member, timeout: float) -> bool:
    """True once none of `members` runs; False if one still does after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while any(is_running(m) for m in members):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_members(members: list[Member], grace: float = 10.0) -> list[Member]:
    """SIGTERM every running member, SIGKILL those still running after `grace` seconds.

    Returns the members that had to be killed."""
    termed = [m for m in members if signal_member(m, signal.SIGTERM)]
    wait_exited(*termed, timeout=grace)
    killed = [m for m in termed if signal_member(m, signal.SIGKILL)]
    wait_exited(*killed, timeout=10.0)
    return killed


def stop_all(state: ClusterState, grace: float = 10.0) -> list[Member]:
    """Stop the brokers, then coord: brokers leave coord cleanly (controlled shutdown,
    ephemerals deleted) only while coord still has a quorum. Returns those killed."""
    return [*stop_members(state.brokers, grace), *stop_members(state.coord, grace)]


def log_tail(member: Member, lines: int = 15) -> str:
    try:
        text = Path(member.log).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _check_alive(members: list[Member]) -> None:
    for m in members:
        if not is_running(m):
            raise ClusterStartError(f"{m.name} exited during start-up; last lines of {m.log}:\n{log_tail(m)}")


async def connect_coord(state: ClusterState, deadline: float, watch: list[Member]) -> CoordClient:
    """A session with the ensemble, retried until it has a quorum or `deadline` passes."""
    last: BaseException | None = None
    while time.monotonic() < deadline:
        _check_alive(watch)
        client = CoordClient(
            state.coord_connect, session_timeout=10.0, connect_timeout=2.0, **coord_options(state.broker_config)
        )
        try:
            await client.start(timeout=min(5.0, max(0.5, deadline - time.monotonic())))
            await client.exists("/")
            return client
        except Exception as exc:  # noqa: BLE001 - any failure means "not serving yet"
            last = exc
            await client.stop()
            await asyncio.sleep(0.3)
    raise ClusterStartError(
        f"the coord ensemble {state.coord_connect} did not serve within the time allowed "
        f"(last error: {last}); see the logs in {Path(state.data_dir) / 'logs'}"
    )


async def _fresh_registrations(client: CoordClient, broker_ids: list[int], stale: dict[int, int]) -> set[str]:
    """Ids of `broker_ids` registered by a session other than the `stale` czxid one."""
    out = set()
    for i in broker_ids:
        stat = await client.exists(Z.broker_path(i))
        if stat is not None and stat.czxid != stale.get(i):
            out.add(str(i))
    return out


async def wait_registered(
    client: CoordClient,
    state: ClusterState,
    broker_ids: list[int],
    deadline: float,
    stale: dict[int, int] | None = None,
) -> int:
    """Wait until every broker in `broker_ids` is in /brokers/ids (with a registration
    newer than its `stale` czxid, left by a killed process) and /controller exists;
    returns the controller's broker id."""
    wanted = {str(i) for i in broker_ids}
    while True:
        _check_alive([*state.coord, *(state.broker(i) for i in broker_ids)])
        try:
            registered = await _fresh_registrations(client, broker_ids, stale or {})
            data, _ = await client.get(Z.CONTROLLER)
            if wanted <= registered and data:
                return Z.decode_controller(data)
        except Exception:  # noqa: BLE001 - NoNode or a passing disconnect: look again
            registered = set()
        if time.monotonic() > deadline:
            missing = ", ".join(sorted(wanted - registered)) or "none"
            raise ClusterStartError(
                f"brokers not registered in time (missing: {missing}, or no controller); "
                f"see the logs in {Path(state.data_dir) / 'logs'}"
            )
        await asyncio.sleep(0.2)


async def start_cluster(state: ClusterState, timeout: float = 60.0) -> int:
    """Start coord, then the brokers; wait until all registered and a controller exists.

    Returns the controller id. On failure every process started here is stopped again."""
    Path(state.data_dir, "logs").mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a CLI, nothing else runs yet
    write_broker_configs(state)
    deadline = time.monotonic() + timeout
    try:
        for m in state.coord:
            spawn(m)
        client = await connect_coord(state, deadline, state.coord)
        try:
            await add_scram_logins(
                client, scram_logins(state.broker_config, state.command_config, state.listener_protocol)
            )
            for b in state.brokers:
                spawn(b)
            return await wait_registered(client, state, [b.id for b in state.brokers], deadline)
        finally:
            await client.stop()
    except BaseException:
        stop_all(state, grace=3.0)
        raise


async def restart_broker(state: ClusterState, broker_id: int, timeout: float = 60.0) -> None:
    """Start a stopped broker again with its recorded command; wait for its registration."""
    member = state.broker(broker_id)
    if is_running(member):
        raise ClusterStartError(f"broker {broker_id} is already running (pid {member.pid})")
    deadline = time.monotonic() + timeout
    client = await connect_coord(state, deadline, [])
    try:
        old = await client.exists(Z.broker_path(broker_id))
        spawn(member)
        await wait_registered(
            client, state, [broker_id], deadline, stale={broker_id: old.czxid} if old is not None else None
        )
    finally:
        await client.stop()


def restart_coord(state: ClusterState, member_id: int, timeout: float = 60.0) -> None:
    """Start a stopped coord member again with its recorded command; wait until it serves
    as leader or follower (its `srvr` answer names a mode: it has rejoined the ensemble)."""
    member = state.coord_member(member_id)
    if is_running(member):
        raise ClusterStartError(f"coord member {member_id} is already running (pid {member.pid})")
    spawn(member)
    deadline = time.monotonic() + timeout
    while True:
        _check_alive([member])
        try:
            mode = parse_srvr_mode(four_letter(member.host, member.port, "srvr"))
        except OSError:
            mode = "unreachable"
        if mode in ("leader", "follower", "standalone"):
            return
        if time.monotonic() > deadline:
            raise ClusterStartError(
                f"{member.name} did not rejoin the ensemble within {timeout:.0f}s (last mode: {mode}); see {member.log}"
            )
        time.sleep(0.2)
