"""`pybroker cluster up|down|ps|kill|start`: a local multi-process cluster on loopback.

`up` starts a coord ensemble and N brokers as detached processes (cluster_procs), waits
until every broker is registered and a controller exists, writes the state file and
prints the bootstrap servers and coord connect string, then exits; the other actions
find the processes through the state file. This module only parses flags and prints;
it must never hold process or protocol logic.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from broker.cli.cluster_procs import (
    ClusterStartError,
    is_running,
    plan_cluster,
    refuse_if_running,
    restart_broker,
    restart_coord,
    signal_member,
    start_cluster,
    stop_all,
    wait_exited,
)
from broker.cli.cluster_security import add_secured_cluster_flags, secured_plan
from broker.cli.cluster_state import ClusterState, ClusterStateError, load_state, remove_state, save_state
from broker.config import ConfigError
from client.errors import ClientError
from coord.protocol.errors import CoordError

DEFAULT_CLUSTER_DIR = Path("pybroker-cluster")
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "STOP": signal.SIGSTOP, "CONT": signal.SIGCONT}


def add_cluster_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_CLUSTER_DIR,
        help=f"the cluster's directory: data, logs, state file (default ./{DEFAULT_CLUSTER_DIR})",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("cluster", help="run a local cluster: coord ensemble + brokers, one process each")
    sub = group.add_subparsers(dest="cluster_command", metavar="ACTION")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])

    up = sub.add_parser("up", help="start a local cluster in the background and print its addresses")
    up.add_argument("--nodes", type=int, default=3, help="brokers (default 3)")
    up.add_argument("--coord-nodes", type=int, default=3, help="coord ensemble members (default 3)")
    up.add_argument(
        "--session-timeout-ms",
        type=int,
        default=6000,
        help="brokers' coord session timeout: how soon a dead broker is noticed (default 6000)",
    )
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the cluster (default 60)")
    add_secured_cluster_flags(up)
    add_cluster_dir(up)
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop every process of the cluster (SIGTERM, then SIGKILL)")
    down.add_argument(
        "--grace", type=float, default=15.0, help="seconds to wait after SIGTERM before SIGKILL (default 15)"
    )
    add_cluster_dir(down)
    down.set_defaults(func=_down)

    ps = sub.add_parser("ps", help="list the cluster's processes and whether they run")
    add_cluster_dir(ps)
    ps.set_defaults(func=_ps)

    kill = sub.add_parser("kill", help="signal one broker (default SIGKILL, a crash)")
    kill.add_argument("id", type=int, help="broker id (coord member id with --coord)")
    kill.add_argument("--signal", default="KILL", choices=sorted(SIGNALS), help="signal to send (default KILL)")
    kill.add_argument("--coord", action="store_true", help="signal coord member ID instead of a broker")
    add_cluster_dir(kill)
    kill.set_defaults(func=_kill)

    start = sub.add_parser(
        "start", help="start a stopped broker (or, with --coord, coord member) again, with its data and port"
    )
    start.add_argument("id", type=int, help="broker id (coord member id with --coord)")
    start.add_argument("--coord", action="store_true", help="start coord member ID instead of a broker")
    add_cluster_dir(start)
    start.set_defaults(func=_start)


def _fail(message: str) -> int:
    print(f"pybroker cluster: error: {message}", file=sys.stderr)
    return 1


def describe(state: ClusterState, controller: int | None = None) -> str:
    lines = [
        f"pybroker cluster: {len(state.brokers)} brokers, {len(state.coord)} coord members, data in {state.data_dir}",
        f"  bootstrap servers  {state.bootstrap}",
        f"  coord connect      {state.coord_connect}",
    ]
    if controller is not None:
        lines.append(f"  controller         broker {controller}")
    lines += [
        f"  broker {b.id} console   {b.console_url}  (Prometheus: {b.console_url}metrics)"
        for b in state.brokers
        if b.console_url
    ]
    secured = (f" --command-config {state.command_config}" if state.command_config else "") + (
        f" --coord-config {state.broker_config}" if state.broker_config else ""
    )
    lines += [
        f"Try:  pybroker status --bootstrap {state.bootstrap} --coord {state.coord_connect}{secured}",
        f"Stop: pybroker cluster down --data-dir {state.data_dir}",
    ]
    return "\n".join(lines)


def _up(args: argparse.Namespace) -> int:
    try:
        refuse_if_running(args.data_dir)
        state = plan_cluster(args.data_dir, args.nodes, args.coord_nodes, args.session_timeout_ms, **secured_plan(args))
        Path(state.data_dir).mkdir(parents=True, exist_ok=True)
        save_state(state)  # before any start, so `down` can find a half-started cluster
        controller = asyncio.run(_start_and_record(state, args.timeout))
    except (ClusterStateError, ClusterStartError, ValueError, OSError, ConfigError, CoordError, ClientError) as exc:
        if isinstance(exc, (ClusterStartError, CoordError)):
            remove_state(args.data_dir)
        return _fail(str(exc))
    print(describe(state, controller), flush=True)
    return 0


async def _start_and_record(state: ClusterState, timeout: float) -> int:
    try:
        return await start_cluster(state, timeout)
    finally:
        save_state(state)  # the pids, whatever happened


def _down(args: argparse.Namespace) -> int:
    try:
        state = load_state(args.data_dir)
    except ClusterStateError as exc:
        return _fail(str(exc))
    alive = [m for m in [*state.brokers, *state.coord] if is_running(m)]
    killed = stop_all(state, grace=args.grace)
    remove_state(args.data_dir)
    for m in alive:
        how = "killed after the grace period" if m in killed else "stopped"
        print(f"{m.name} (pid {m.pid}) {how}")
    print(f"cluster in {state.data_dir} is down ({len(alive)} processes were running)")
    return 0


def _ps(args: argparse.Namespace) -> int:
    try:
        state = load_state(args.data_dir)
    except ClusterStateError as exc:
        return _fail(str(exc))
    print(f"{'NAME':<10} {'PID':>8} {'ADDRESS':<22} STATE")
    for m in state.members:
        print(f"{m.name:<10} {m.pid:>8} {m.address:<22} {'running' if is_running(m) else 'stopped'}")
    return 0


def _kill(args: argparse.Namespace) -> int:
    try:
        state = load_state(args.data_dir)
        member = state.coord_member(args.id) if args.coord else state.broker(args.id)
    except ClusterStateError as exc:
        return _fail(str(exc))
    if not signal_member(member, SIGNALS[args.signal]):
        return _fail(f"{member.name} is not running")
    if args.signal in ("KILL", "TERM") and not wait_exited(member, timeout=15.0):
        return _fail(f"sent SIG{args.signal} to {member.name} (pid {member.pid}), still running after 15 s")
    print(
        f"sent SIG{args.signal} to {member.name} (pid {member.pid})"
        + (", it exited" if args.signal in ("KILL", "TERM") else "")
    )
    return 0


def _start(args: argparse.Namespace) -> int:
    try:
        state = load_state(args.data_dir)
    except ClusterStateError as exc:
        return _fail(str(exc))
    try:
        if args.coord:
            restart_coord(state, args.id)
        else:
            asyncio.run(restart_broker(state, args.id))
    except (ClusterStateError, ClusterStartError) as exc:
        return _fail(str(exc))
    finally:
        save_state(state)  # the new pid, even if the member did not come up in time
    member = state.coord_member(args.id) if args.coord else state.broker(args.id)
    print(f"{member.name} running again (pid {member.pid}) on {member.address}")
    return 0
