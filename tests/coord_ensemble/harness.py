"""A real coord ensemble for tests: N `python -m coord start --peers ...` processes.

`Ensemble` starts, kills (SIGKILL), pauses (SIGSTOP), resumes and restarts members on
loopback through the test's `ProcessGroup`, reads each member's Mode and Zxid from
`srvr`, and can route every directed peer link i -> j through its own `FaultProxy`, so
a test can isolate one member completely (both directions) and heal it. `tree_of` walks
one member's whole tree with kazoo, so tests can compare members.

It must never wait without a bound: every wait gives up with an AssertionError that
says what it waited for and what it saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from kazoo.client import KazooClient

from coord.client.four_letter import four_letter
from tests.support.faultproxy import FaultProxy
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup
from tests.support.waiting import wait_until

T = TypeVar("T")

TICK_MS = 250  # short ticks keep failover fast; limits stay ZooKeeper-like
INIT_LIMIT = 20  # 5 s to join a leader (a loaded machine starts processes slowly)
SYNC_LIMIT = 8  # 2 s of silence before a member gives up on the leader


class Ensemble:
    def __init__(
        self,
        procs: ProcessGroup,
        root: Path,
        size: int,
        *,
        proxied: bool = False,
        tick_ms: int = TICK_MS,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.procs = procs
        self.root = root
        self.sids = list(range(1, size + 1))
        ports = free_ports(3 * size)
        self.client_port = {sid: ports[sid - 1] for sid in self.sids}
        self.quorum_port = {sid: ports[size + sid - 1] for sid in self.sids}
        self.election_port = {sid: ports[2 * size + sid - 1] for sid in self.sids}
        self.tick_ms = tick_ms
        self.extra = extra  # more `coord start` flags, e.g. ("--snap-count", "50")
        self.proxies: dict[tuple[int, int], FaultProxy] = {}
        if proxied:
            for i in self.sids:
                for j in self.sids:
                    if i != j:
                        self.proxies[(i, j)] = FaultProxy(self.quorum_port[j]).start()

    # -- processes ---------------------------------------------------------------------

    def peers_for(self, sid: int) -> str:
        """Member `sid`'s --peers: itself at its real quorum port, each other member at the
        proxy of the link sid -> other (when proxied)."""
        parts = []
        for other in self.sids:
            port = self.quorum_port[other]
            if other != sid and self.proxies:
                port = self.proxies[(sid, other)].listen_port
            parts.append(f"{other}=127.0.0.1:{port}:{self.election_port[other]}")
        return ",".join(parts)

    def name(self, sid: int) -> str:
        return f"coord{sid}"

    def start(self, *sids: int) -> None:
        for sid in sids or self.sids:
            self.procs.start_coord(
                self.name(sid),
                "start",
                "--id",
                str(sid),
                "--data-dir",
                str(self.root / f"data{sid}"),
                "--client-port",
                str(self.client_port[sid]),
                "--peers",
                self.peers_for(sid),
                "--tick-ms",
                str(self.tick_ms),
                "--init-limit",
                str(INIT_LIMIT),
                "--sync-limit",
                str(SYNC_LIMIT),
                "--config",
                str(self._config()),
                *self.extra,
            )

    def _config(self) -> Path:
        """The members' TOML: `mntr` and `cons` (which these tests read) allowed beside srvr."""
        path = self.root / "coord.toml"
        path.write_text('four_letter_whitelist = "srvr,mntr,cons"\n')
        return path

    def kill(self, sid: int) -> None:
        self.procs.kill(self.name(sid))

    def pause(self, sid: int) -> None:
        self.procs.pause(self.name(sid))

    def resume(self, sid: int) -> None:
        self.procs.resume(self.name(sid))

    def stop(self, sid: int) -> int:
        return self.procs.stop(self.name(sid))

    def alive(self, sid: int) -> bool:
        proc = self.procs.procs.get(self.name(sid))
        return proc is not None and proc.poll() is None

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()

    # -- faults on peer links ------------------------------------------------------------

    def links_of(self, sid: int) -> list[FaultProxy]:
        return [p for (i, j), p in self.proxies.items() if sid in (i, j)]

    def isolate(self, sid: int) -> None:
        """Drop every byte to and from `sid` on peer links (a partition: nothing resets)."""
        for proxy in self.links_of(sid):
            proxy.blackhole()

    def blackhole_link(self, src: int, dst: int) -> None:
        """Drop every byte `src` sends to `dst` (one direction only)."""
        self.proxies[(src, dst)].blackhole()

    def heal(self, sid: int) -> None:
        """End the partition: the silent connections die (as TCP's would after a long
        partition) and new ones forward normally."""
        for proxy in self.links_of(sid):
            proxy.cut()
        for proxy in self.links_of(sid):
            proxy.heal()

    # -- what the members say ------------------------------------------------------------

    def hosts(self, sids: Iterable[int] | None = None) -> str:
        return ",".join(f"127.0.0.1:{self.client_port[s]}" for s in (sids or self.sids))

    def four(self, sid: int, word: str, sep: str) -> dict[str, str]:
        """A four-letter word's `key<sep>value` lines as a dict ({} when the member does
        not answer or does not serve)."""
        try:
            text = four_letter("127.0.0.1", self.client_port[sid], word, timeout=2.0)
        except OSError:
            return {}
        return dict(line.split(sep, 1) for line in text.splitlines() if sep in line)

    def srvr(self, sid: int) -> dict[str, str]:
        return self.four(sid, "srvr", ": ")

    def mode(self, sid: int) -> str | None:
        return self.srvr(sid).get("Mode")

    def zxid(self, sid: int) -> int | None:
        z = self.srvr(sid).get("Zxid")
        return None if z is None else int(z, 16)

    def mntr(self, sid: int) -> dict[str, str]:
        return self.four(sid, "mntr", "\t")

    def modes(self, sids: Iterable[int] | None = None) -> dict[int, str | None]:
        return {sid: self.mode(sid) for sid in (sids or self.sids)}

    def wait_leader(self, among: Iterable[int] | None = None, timeout: float = 60.0) -> int:
        """The one member of `among` that serves as leader while all the others of
        `among` serve as followers."""
        group = list(among or self.sids)

        def settled() -> int | None:
            modes = self.modes(group)
            leaders = [s for s, m in modes.items() if m == "leader"]
            if len(leaders) == 1 and all(m == "follower" for s, m in modes.items() if s != leaders[0]):
                return leaders[0]
            return None

        return wait_until(f"one leader among {group}", settled, timeout)

    def wait_same_zxid(self, sids: Iterable[int] | None = None, timeout: float = 45.0) -> int:
        group = list(sids or self.sids)

        def same() -> int | None:
            zxids = {self.zxid(s) for s in group}
            return zxids.pop() if len(zxids) == 1 and None not in zxids else None

        return wait_until(f"members {group} at one zxid", same, timeout)

    def trees(self, sids: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
        return {sid: tree_of(f"127.0.0.1:{self.client_port[sid]}") for sid in (sids or self.sids)}

    def assert_identical(self, sids: Iterable[int] | None = None) -> dict[str, Any]:
        """Wait for the members to reach one zxid, then compare their whole trees."""
        group = list(sids or self.sids)
        self.wait_same_zxid(group)
        trees = self.trees(group)
        first = trees[group[0]]
        for sid in group[1:]:
            if trees[sid] != first:
                only_a = sorted(set(first) - set(trees[sid]))[:5]
                only_b = sorted(set(trees[sid]) - set(first))[:5]
                differ = sorted(p for p in set(first) & set(trees[sid]) if first[p] != trees[sid][p])[:5]
                raise AssertionError(
                    f"member {group[0]} and {sid} differ: only in "
                    f"{group[0]}: {only_a}, only in {sid}: {only_b}, "
                    f"different: {differ}"
                )
        return first


def tree_of(hosts: str) -> dict[str, Any]:
    """Every znode of the member at `hosts`: path -> (data, stat)."""
    zk = KazooClient(hosts=hosts, timeout=10.0, connection_retry={"max_tries": 3})
    zk.start(timeout=20)
    try:
        out: dict[str, Any] = {}
        stack = ["/"]
        while stack:
            path = stack.pop()
            data, stat = zk.get(path)
            out[path] = (data, tuple(stat))
            for child in zk.get_children(path):
                stack.append(("" if path == "/" else path) + "/" + child)
        return out
    finally:
        zk.stop()
        zk.close()


def kazoo(hosts: str, timeout: float = 6.0, **kwargs: Any) -> KazooClient:
    """A started kazoo client with a bounded connect."""
    zk = KazooClient(hosts=hosts, timeout=timeout, **kwargs)
    zk.start(timeout=30)
    return zk


class WriteLoad:
    """Writer threads, one kazoo session each, creating `/load/w<i>-<n>` through the
    member they prefer (then the others). `acked` are the creates a member confirmed;
    a create that failed with a connection error has an unknown outcome and is not
    counted either way."""

    def __init__(self, ensemble: Ensemble, prefer: Iterable[int], pace: float = 0.01) -> None:
        import threading

        self.ensemble = ensemble
        self.prefer = list(prefer)
        self.pace = pace
        self.acked: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i, sid), daemon=True) for i, sid in enumerate(self.prefer)
        ]
        self._lock = threading.Lock()

    def __enter__(self) -> WriteLoad:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self._threads), "a writer thread hung"

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_for(self, more: int, timeout: float = 45.0) -> None:
        target = self.count() + more
        wait_until(f"{more} more acknowledged writes", lambda: self.count() >= target, timeout)

    def _run(self, index: int, sid: int) -> None:
        from kazoo.exceptions import NodeExistsError

        order = [sid] + [s for s in self.ensemble.sids if s != sid]
        zk = KazooClient(
            hosts=self.ensemble.hosts(order),
            timeout=6.0,
            randomize_hosts=False,
            connection_retry={"max_tries": -1, "max_delay": 0.5},
        )
        zk.start(timeout=30)
        try:
            zk.ensure_path("/load")
            n = 0
            while not self._stop.is_set():
                n += 1
                path = f"/load/w{index}-{n}"
                try:
                    zk.create_async(path, path.encode()).get(timeout=10)
                except NodeExistsError:
                    self.errors.append(f"{path} existed before its create")
                except Exception:  # noqa: BLE001 - connection loss, timeout: outcome unknown
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.acked.append(path)
                time.sleep(self.pace)
        finally:
            zk.stop()
            zk.close()
