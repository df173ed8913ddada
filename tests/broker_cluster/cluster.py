"""A replicated test cluster of real processes: one coord server, N brokers, and readers
of what coord says (leader, epoch, ISR, controller) and what each broker checkpointed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from tests.support.faultproxy import FaultProxy
from tests.support.ports import free_ports
from tests.support.procs import ProcessGroup, wait_for_port

SESSION_MS = 2000  # the smallest the coord below negotiates (2 x tick)
LAG_MS = 2000  # replica.lag.time.max.ms: short, so ISR changes show within a test


@dataclass
class Cluster:
    procs: ProcessGroup
    tmp: Path
    coord: str
    ports: dict[int, int]
    extra_config: str = ""
    broker_coord: dict[int, str] = field(default_factory=dict)  # a broker's own connect string (a proxy)
    advertised: dict[int, int] = field(default_factory=dict)  # --advertise 127.0.0.1:port (a proxy)
    coord_proxies: dict[int, FaultProxy] = field(default_factory=dict)  # broker -> its link to coord
    broker_proxies: dict[int, FaultProxy] = field(default_factory=dict)  # broker -> its advertised address
    broker_config: dict[int, str] = field(default_factory=dict)  # one broker's own extra TOML lines
    zk: KazooClient = field(init=False)

    def start_broker(self, i: int) -> None:
        conf = self.tmp / f"broker{i}.toml"
        conf.write_text(
            f'"zookeeper.session.timeout.ms" = {SESSION_MS}\n'
            f'"replica.lag.time.max.ms" = {LAG_MS}\n'
            f'"replica.high.watermark.checkpoint.interval.ms" = 300\n'
            + self.extra_config
            + self.broker_config.get(i, "")
        )
        advertise = ["--advertise", f"127.0.0.1:{self.advertised[i]}"] if i in self.advertised else []
        self.procs.start(
            f"broker{i}",
            "broker",
            "start",
            "--id",
            str(i),
            "--data-dir",
            str(self.data_dir(i)),
            "--port",
            str(self.ports[i]),
            "--coord",
            self.broker_coord.get(i, self.coord),
            "--config",
            str(conf),
            *advertise,
        )
        wait_for_port(self.ports[i], timeout=30)

    def data_dir(self, i: int) -> Path:
        return self.tmp / f"b{i}"

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports.values())

    def state(self, topic: str, partition: int = 0) -> dict[str, Any]:
        return json.loads(self.zk.get(f"/brokers/topics/{topic}/partitions/{partition}/state")[0])

    def controller(self) -> tuple[int, int] | None:
        """(holder, controller epoch), or None while /controller is vacant."""
        try:
            holder = json.loads(self.zk.get("/controller")[0])["brokerid"]
        except NoNodeError:
            return None
        return holder, int(self.zk.get("/controller_epoch")[0])

    def checkpointed_hw(self, i: int, topic: str, partition: int = 0) -> int | None:
        path = self.data_dir(i) / "replication-offset-checkpoint"
        try:
            lines = path.read_text().splitlines()[2:]
        except FileNotFoundError:
            return None
        for line in lines:
            t, p, hw = line.split()
            if (t, int(p)) == (topic, partition):
                return int(hw)
        return None

    def close(self) -> None:
        self.zk.stop()
        self.zk.close()
        for proxy in [*self.coord_proxies.values(), *self.broker_proxies.values()]:
            proxy.close()


def start_cluster(
    procs: ProcessGroup,
    tmp: Path,
    n: int = 3,
    extra_config: str = "",
    coord: str | None = None,
    proxied: bool = False,
    broker_config: dict[int, str] | None = None,
) -> Cluster:
    """Brokers 1..n on our coord server (started here), or on `coord` (e.g. a real ZooKeeper).
    `proxied`: each broker reaches coord through its own FaultProxy and is advertised (so
    dialled by clients and the other brokers) through another."""
    coord_port, *ports = free_ports(n + 1)
    if coord is None:
        procs.start(
            "coord",
            "coord",
            "start",
            "--id",
            "1",
            "--data-dir",
            str(tmp / "coord"),
            "--client-port",
            str(coord_port),
            "--tick-ms",
            "1000",
        )
        wait_for_port(coord_port)
        coord = f"127.0.0.1:{coord_port}"
    cluster = Cluster(
        procs, tmp, coord, dict(enumerate(ports, start=1)), extra_config, broker_config=dict(broker_config or {})
    )
    cluster.zk = KazooClient(hosts=coord)
    cluster.zk.start(timeout=10)
    if proxied:
        host, port = coord.rsplit(":", 1)
        for i, broker_port in cluster.ports.items():
            cluster.coord_proxies[i] = FaultProxy(int(port), target_host=host).start()
            cluster.broker_coord[i] = f"127.0.0.1:{cluster.coord_proxies[i].listen_port}"
            cluster.broker_proxies[i] = FaultProxy(broker_port).start()
            cluster.advertised[i] = cluster.broker_proxies[i].listen_port
    for i in cluster.ports:
        cluster.start_broker(i)
    return cluster
