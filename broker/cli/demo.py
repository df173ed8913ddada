"""`pybroker demo failover`: watch a replicated partition survive SIGKILLs, narrated live.

Starts a local cluster (cluster_procs) in a temporary directory, creates a topic with
replication factor 3 and min.insync.replicas=2, runs a numbered acks=all producer and a
consumer (demo_traffic), then plays three acts: SIGKILL the leader of partition 0,
SIGKILL the controller, restart the dead brokers. What happens is told as it happens,
from coord watches (demo_watch) and the client's own logs; the summary (demo_ledger)
says whether any acknowledged record was lost, and the exit code is 0 only if none was.
Every act has a time bound and the cluster is always torn down, also on Ctrl-C. This
module only orchestrates; it must never judge the outcome itself (demo_ledger does).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from broker.cli.cluster_procs import (
    ClusterStartError,
    plan_cluster,
    refuse_if_running,
    restart_broker,
    signal_member,
    start_cluster,
    stop_all,
)
from broker.cli.cluster_security import add_secured_cluster_flags, client_settings, coord_options, secured_plan
from broker.cli.cluster_state import ClusterState, ClusterStateError, remove_state, save_state
from broker.cli.demo_ledger import Ledger, render_summary, summarize
from broker.cli.demo_traffic import ClientLogTap, Traffic
from broker.cli.demo_watch import ClusterView, CoordView
from broker.cli.status import gather_report
from broker.cli.status_model import render_table
from broker.config import ConfigError
from broker.metadata import znodes as Z
from client import AsyncAdmin, NewTopic
from client.errors import ClientError
from client.protocol.errors import BrokerError
from coord.client import CoordClient
from coord.protocol.errors import CoordError
from coord.service import run_until_signal

TOPIC = "failover-demo"
MIN_ISR = 2
FINALE_SECONDS = 15.0  # kept for the producer's last answers, the consumer's catch-up and the teardown


def console_address(state: ClusterState) -> str:
    """The first broker's console, told to fall back to the others' while that broker is down."""
    urls = [b for b in state.brokers if b.console_url]
    first = urls[0].console_url if urls else None
    if first is None:
        return "(no broker serves a console)"
    others = ",".join(f"{b.host}:{b.metrics_port}" for b in urls[1:])
    return first + (f"?also={others}" if others else "")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("demo", help="guided demonstrations on a local cluster")
    sub = group.add_subparsers(dest="demo_command", metavar="DEMO")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
    p = sub.add_parser(
        "failover",
        help="kill the leader, then the controller, under acks=all load; exit 0 only if no acknowledged record is lost",
    )
    p.add_argument(
        "--nodes", type=_positive_int, default=3, help="brokers (default 3; replication factor is min(3, nodes))"
    )
    p.add_argument(
        "--session-timeout-ms",
        type=int,
        default=4000,
        help="brokers' coord session timeout: how soon a killed broker is noticed (default 4000)",
    )
    p.add_argument("--warmup", type=float, default=4.0, help="seconds of traffic before act 1 (default 4)")
    p.add_argument("--dwell", type=float, default=3.0, help="seconds to watch after each recovery (default 3)")
    p.add_argument(
        "--act-timeout", type=float, default=20.0, help="longest wait for recovery in each act, seconds (default 20)"
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=90.0,
        help="bound on the whole demo: acts are cut short so that the finale starts "
        f"{FINALE_SECONDS:.0f} s before it (default 90)",
    )
    p.add_argument("--rate", type=float, default=50.0, help="records per second (default 50)")
    add_secured_cluster_flags(p)
    p.add_argument("--data-dir", type=Path, default=None, help="cluster directory (default: a new temporary one)")
    p.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the cluster's directory (logs) afterwards (a --data-dir that existed is always kept)",
    )
    p.set_defaults(func=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(args: argparse.Namespace) -> int:
    async def service(stop: asyncio.Event) -> int:
        demo = FailoverDemo(args)
        task = asyncio.ensure_future(demo.run())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not task.done():
            demo.say("interrupted: tearing the cluster down")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return 130
        try:
            return task.result()
        except (
            ClusterStartError,
            ClusterStateError,
            ClientError,
            BrokerError,
            CoordError,
            OSError,
            ValueError,
            ConfigError,
        ) as exc:
            print(f"pybroker demo failover: error: {exc}", file=sys.stderr)
            return 1

    return run_until_signal(service)


class FailoverDemo:
    def __init__(self, args: argparse.Namespace, out: Callable[[str], None] = print) -> None:
        self.args = args
        self.out = out
        self.t0 = time.monotonic()
        self.ledger = Ledger()
        self.dead: list[int] = []
        self.replicas: list[int] = []
        self.min_isr = 1  # Kafka's default, until the topic is created with MIN_ISR
        self.watch: CoordView | None = None
        self.traffic: Traffic | None = None
        self.security: dict[str, Any] = {}  # the clients' TLS/SASL settings (cluster_security)
        self.to_coord: dict[str, Any] = {}  # how to reach coord

    def _running(self) -> tuple[CoordView, Traffic]:
        """The coord view and the traffic, once the cluster is up (the steps after it need both)."""
        assert self.watch is not None and self.traffic is not None, "the demo's cluster is not up yet"
        return self.watch, self.traffic

    def left(self, want: float) -> float:
        """`want` seconds, or less so that the acts end FINALE_SECONDS before --max-seconds."""
        end = self.t0 + self.args.max_seconds - FINALE_SECONDS
        return max(0.5, min(want, end - time.monotonic()))

    def say(self, message: str) -> None:
        self.out(f"[{time.monotonic() - self.t0:6.2f}s] {message}")

    def act(self, title: str) -> None:
        self.out(f"\n== {title} ==")

    # -- the whole story ------------------------------------------------------------

    async def run(self) -> int:
        data_dir = self.args.data_dir or Path(tempfile.mkdtemp(prefix="pybroker-demo-"))
        refuse_if_running(data_dir)
        # Only a directory the demo made is removed afterwards, never one the user had.
        remove_dir = not self.args.keep_data and (self.args.data_dir is None or not data_dir.exists())
        state = plan_cluster(data_dir, self.args.nodes, 3, self.args.session_timeout_ms, **secured_plan(self.args))
        self.security = client_settings(state.command_config)
        self.to_coord = coord_options(state.broker_config)
        Path(state.data_dir).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a CLI, nothing else runs yet
        save_state(state)  # `pybroker cluster down --data-dir` can clean up if we are killed
        tap = ClientLogTap()
        ticker: asyncio.Task | None = None
        try:
            self.say(f"starting 3 coord members (an ensemble) and {self.args.nodes} brokers in {state.data_dir}")
            controller = await start_cluster(state)
            save_state(state)
            self.say(
                f"cluster up: bootstrap {state.bootstrap}, coord {state.coord_connect}; "
                f"broker {controller} won /controller"
            )
            self.say(f"watch it live in a browser: {console_address(state)}")
            await self._create_topic(state)
            self.watch = CoordView(state.coord_connect, self.say, **self.to_coord)
            await self.watch.start([TOPIC])
            p0 = _p0(self.watch.view)
            self.say(
                f"{TOPIC}-0: replicas {self.replicas}, leader {p0.leader}, leader epoch {p0.leader_epoch}, "
                f"ISR {list(p0.isr)}; watching /brokers, /controller, /controller_epoch in coord"
            )
            tap.install()
            self.traffic = Traffic(
                state.bootstrap, TOPIC, self.ledger, self.say, rate=self.args.rate, security=self.security
            )
            await self.traffic.start()
            ticker = asyncio.ensure_future(self._tick(tap))
            self.say(f"producer (acks=all, {self.args.rate:.0f} records/s, numbered) and consumer running")
            await asyncio.sleep(self.left(self.args.warmup))
            await self._act_kill_leader(state)
            await self._act_kill_controller(state)
            await self._act_restart(state)
            self.act("Finale: stop the producer, let the consumer catch up")
            await self.traffic.stop_producing(timeout=FINALE_SECONDS / 3)
            await self.traffic.drain(timeout=FINALE_SECONDS / 3)
            ticker.cancel()
            await self._final_status(state)
            summary = summarize(self.ledger)
            self.out("\n" + render_summary(summary))
            return 0 if summary.ok else 1
        finally:
            if ticker is not None:
                ticker.cancel()
            await self._close_clients()
            tap.remove()
            stop_all(state, grace=5.0)
            remove_state(Path(state.data_dir))
            if remove_dir:
                shutil.rmtree(state.data_dir, ignore_errors=True)
                self.say("cluster stopped and its directory removed")
            else:
                self.say(f"cluster stopped; data and logs kept in {state.data_dir}")

    async def _close_clients(self) -> None:
        if self.traffic is not None:
            await self.traffic.close()
        if self.watch is not None:
            await self.watch.stop()

    async def _create_topic(self, state: ClusterState) -> None:
        rf = min(3, self.args.nodes)
        async with AsyncAdmin(state.bootstrap, **self.security) as admin:
            await admin.create_topics([NewTopic(TOPIC, 1, rf, {"min.insync.replicas": str(MIN_ISR)})])
            self.min_isr = MIN_ISR
            self.say(f"created topic {TOPIC}: 1 partition, replication factor {rf}, min.insync.replicas={MIN_ISR}")
        async with CoordClient(state.coord_connect, session_timeout=10.0, **self.to_coord) as client:
            data, _ = await client.get(Z.topic_path(TOPIC))
            self.replicas = Z.decode_assignment(TOPIC, data or b"")[0]
            deadline = time.monotonic() + 30
            while await client.exists(Z.state_path(TOPIC, 0)) is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

    async def _tick(self, tap: ClientLogTap) -> None:
        """Once a second: what the client library did (retries, errors) that the app did not see."""
        n = 0
        while True:
            await asyncio.sleep(1.0)
            n += 1
            counts = tap.take()
            errors = self._running()[1].take_errors()
            if counts:
                self.say("client: " + ", ".join(f"{k} x{v}" for k, v in counts.most_common(4)))
            if errors:
                self.say("errors returned to the application: " + ", ".join(f"{k} x{v}" for k, v in errors.items()))
            if n % 5 == 0:
                led = self.ledger
                oldest = self._running()[1].oldest_unanswered()
                waiting = (
                    ""
                    if oldest is None or oldest[1] < 2
                    else f" (record #{oldest[0]} has waited {oldest[1]:.0f} s: the client retries it silently)"
                )
                self.say(
                    f"traffic: sent {len(led.sent_at)}, acknowledged {len(led.acked)}, "
                    f"consumed {len(led.consumed)}, awaiting an answer {self._running()[1].in_flight}{waiting}"
                )

    # -- acts -----------------------------------------------------------------------

    def _kill(self, state: ClusterState, broker_id: int, label: str) -> float:
        member = state.broker(broker_id)
        signal_member(member, signal.SIGKILL)
        at = time.monotonic()
        self.ledger.failure(label, at)
        self.dead.append(broker_id)
        self.say(
            f"SIGKILL broker {broker_id} (pid {member.pid}). No goodbye: its coord session lives on "
            f"until the session timeout ({self.args.session_timeout_ms} ms) passes without a heartbeat"
        )
        return at

    async def _writes_resumed(self, since: float, condition: Callable[[ClusterView], bool], timeout: float) -> None:
        """Wait until `condition` holds in coord and a record sent after `since` is acknowledged."""
        ok = await self._running()[0].wait_for(
            lambda v: condition(v) and self.ledger.first_ack_after(since) is not None, timeout
        )
        first = self.ledger.first_ack_after(since)
        if ok and first is not None:
            self.say(
                f"writes flow again: record #{first[0]} acknowledged by the whole ISR "
                f"{first[1] - since:.2f} s after the kill"
            )
        else:
            self.say(f"no recovery within {timeout:.0f} s (the act's time bound); moving on")

    def _live_replicas(self) -> list[int]:
        return [r for r in self.replicas if r not in self.dead]

    async def _act_kill_leader(self, state: ClusterState) -> None:
        self.act("Act 1: SIGKILL the leader of partition 0")
        leader = _p0(self._running()[0].view).leader
        if leader < 0:
            self.say(f"{TOPIC}-0 has no leader to kill; skipping act 1")
            return
        at = self._kill(state, leader, f"act 1: SIGKILL leader (broker {leader})")
        await self._writes_resumed(at, lambda v: _p0(v).leader not in (leader, -1), self.left(self.args.act_timeout))
        await asyncio.sleep(self.left(self.args.dwell))

    async def _act_kill_controller(self, state: ClusterState) -> None:
        self.act("Act 2: SIGKILL the controller")
        view = self._running()[0].view
        controller, epoch = view.controller, view.controller_epoch
        if controller is None or controller in self.dead:
            self.say("no live controller to kill; skipping act 2")
            return
        at = self._kill(state, controller, f"act 2: SIGKILL controller (broker {controller})")
        wait = self.left(self.args.act_timeout)
        elected = await self._running()[0].wait_for(
            lambda v: v.controller not in (None, controller) and v.controller_epoch > epoch, wait
        )
        if not elected:
            self.say(f"no new controller within {wait:.0f} s")
        live = self._live_replicas()
        if len(live) < self.min_isr:
            self.say(
                f"only {len(live)} of the replicas {self.replicas} is alive, fewer than min.insync.replicas="
                f"{self.min_isr}: acks=all writes are refused (NOT_ENOUGH_REPLICAS) until a broker returns. "
                f"Kafka prefers being unavailable to acknowledging a write one more crash could lose"
            )
            await asyncio.sleep(self.left(self.args.dwell))
            return
        await self._writes_resumed(at, lambda v: _p0(v).leader in live, self.left(self.args.act_timeout))
        await asyncio.sleep(self.left(self.args.dwell))

    async def _act_restart(self, state: ClusterState) -> None:
        self.act("Act 3: restart the dead brokers")
        if not self.dead:
            self.say("nobody died; nothing to restart")
            return
        started = time.monotonic()
        for broker_id in self.dead:
            self.say(f"starting broker {broker_id} again (same id, data and port)")
            try:
                await restart_broker(state, broker_id, timeout=max(10.0, self.left(self.args.act_timeout)))
            except ClusterStartError as exc:
                self.say(f"broker {broker_id} did not come back: {exc}")
        save_state(state)
        self.dead.clear()
        full = await self._running()[0].wait_for(
            lambda v: set(_p0(v).isr) >= set(self.replicas) and self.ledger.first_ack_after(started) is not None,
            self.left(self.args.act_timeout),
        )
        isr = list(_p0(self._running()[0].view).isr)
        self.say(
            f"{TOPIC}-0 ISR is {isr}"
            + (
                ": every replica caught up with the leader and is back in sync"
                if full
                else " when the act's time was up"
            )
        )
        await asyncio.sleep(self.left(self.args.dwell))

    async def _final_status(self, state: ClusterState) -> None:
        try:
            report = await gather_report(state.bootstrap, state.coord_connect, [TOPIC], self.security, self.to_coord)
        except Exception as exc:  # noqa: BLE001 - the summary matters more than the table
            self.say(f"could not read the final status: {exc}")
            return
        self.out("\nFinal state (pybroker status)\n" + render_table(report))


def _p0(v: ClusterView) -> Z.PartitionState:
    """Partition 0's state, or a leaderless placeholder while its znode is unreadable."""
    return v.states.get((TOPIC, 0)) or Z.PartitionState(-1, -1, (), -1)
