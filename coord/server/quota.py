"""ZooKeeper quota bookkeeping: which paths carry a quota, and the text of their stats.

zkCli's `setquota -n 5 /p` writes `/zookeeper/quota/p/zookeeper_limits` ("count=5,bytes=-1")
and then `/zookeeper/quota/p/zookeeper_stats`. ZooKeeper's DataTree then keeps the stats
node's data equal to "count=<nodes in /p's subtree, /p included>,bytes=<their data>":
computed in full when the stats node is created (or the tree is restored), adjusted on
every create, delete and setData below the deepest quota'd ancestor (updateQuotaStat).
An exceeded quota is only logged, as ZooKeeper does unless enforceQuota is on.

This module holds the pure parts: path mapping and the key=value text format. It must
never touch the tree itself (the data tree applies what it computes).
"""

from __future__ import annotations

QUOTA_ROOT = "/zookeeper/quota"
LIMIT_NODE = "zookeeper_limits"
STAT_NODE = "zookeeper_stats"


def quota_path_of(parent: str) -> str | None:
    """For the parent of a limits/stats node, the data path its quota covers, or None
    when `parent` is not below /zookeeper/quota (ZooKeeper's trimQuotaPath)."""
    if not parent.startswith(QUOTA_ROOT + "/"):
        return None
    return parent[len(QUOTA_ROOT) :]


def stat_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{STAT_NODE}"


def limit_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{LIMIT_NODE}"


def parse(data: bytes | None) -> dict[str, int]:
    """ "count=3,bytes=5" -> {"count": 3, "bytes": 5}; entries that are not key=<integer>
    are skipped (the node is client-writable, and applying must never fail)."""
    fields: dict[str, int] = {}
    for part in (data or b"").decode("utf-8", "replace").split(","):
        key, sep, value = part.partition("=")
        try:
            if sep:
                fields[key.strip()] = int(value)
        except ValueError:
            continue
    return fields


def render(fields: dict[str, int]) -> bytes:
    """count and bytes first, as ZooKeeper's StatsTrack prints them, then any others."""
    rest = [f"{k}={v}" for k, v in fields.items() if k not in ("count", "bytes")]
    head = [f"count={fields.get('count', 0)}", f"bytes={fields.get('bytes', 0)}"]
    return ",".join(head + rest).encode()


def exceeded(stats: dict[str, int], limits: dict[str, int]) -> list[str]:
    """Human-readable descriptions of each limit `stats` is over (limit -1 = none)."""
    over = []
    for key, hard in (("count", "countHardLimit"), ("bytes", "byteHardLimit")):
        for name in (key, hard):
            limit = limits.get(name, -1)
            if limit > -1 and stats.get(key, 0) > limit:
                over.append(f"{key}={stats.get(key, 0)} > {name}={limit}")
    return over
