"""A chroot in the connect string ("h1:2181,h2:2181/kafka"), as ZooKeeper's own client does it.

The session sees the chroot as its root: every path in an outgoing request (inside a multi and
in SetWatches too) gets the chroot in front, and every server path coming back (the path of a
create or a sync, the ephemerals listed, a watch event's path) has it taken off, so callers,
their watch callbacks and their errors only ever see their own paths. Kafka's brokers use this
to keep several clusters on one ensemble. This module must never do I/O; it only rewrites
records (NamedTuples) on their way out and in.
"""

from __future__ import annotations

import logging
from typing import Any

from coord.protocol import records as R

log = logging.getLogger("coord.client")


def split_connect_string(connect: str) -> tuple[str, str]:
    """("h1:2181,h2:2181", "/chroot") from "h1:2181,h2:2181/chroot" (the chroot "" if none).
    A chroot must be an absolute path without a trailing slash; "/" alone means none."""
    hosts, slash, root = connect.partition("/")
    if not slash:
        return connect, ""
    root = "/" + root
    if root == "/":
        return hosts, ""
    parts = root.split("/")[1:]
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"invalid chroot {root!r} in connect string {connect!r}: an absolute path such as "
            "/kafka, without empty, '.' or '..' parts or a trailing slash"
        )
    return hosts, root


class Chroot:
    """The rewriting for one chroot ("" = none: every method returns what it is given)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def server_path(self, path: str) -> str:
        if not self.root:
            return path
        return self.root if path == "/" else self.root + path

    def client_path(self, path: str) -> str:
        if not self.root or path is None:
            return path
        if path == self.root:
            return "/"
        if path.startswith(self.root + "/"):
            return path[len(self.root) :]
        log.warning("server path %r is outside this client's chroot %r", path, self.root)
        return path

    def outgoing(self, record: Any) -> Any:
        """`record` with every path it names moved under the chroot."""
        if not self.root or record is None:
            return record
        if isinstance(record, R.MultiRequest):
            return type(record)([(op, self.outgoing(sub)) for op, sub in record.ops])
        if isinstance(record, (R.SetWatches, R.SetWatches2)):
            lists = {
                name: [self.server_path(p) for p in getattr(record, name) or []]
                for name in record._fields
                if name != "relativeZxid"
            }
            return record._replace(**lists)  # type: ignore[arg-type]  # every field but relativeZxid is a list of paths
        if isinstance(record, R.GetEphemeralsRequest):
            return record._replace(prefixPath=self.server_path(record.prefixPath or "/"))
        if "path" in getattr(record, "_fields", ()):
            return record._replace(path=self.server_path(record.path))
        return record

    def incoming(self, body: Any) -> Any:
        """A response body with the server paths it holds made the client's."""
        if not self.root or body is None:
            return body
        if isinstance(body, (R.CreateResponse, R.Create2Response, R.SyncResponse)):
            return body._replace(path=self.client_path(body.path or "/"))
        if isinstance(body, R.MultiResponse):
            return type(body)([self.incoming(res) for res in body.results])
        if isinstance(body, R.GetEphemeralsResponse):
            return body._replace(ephemerals=[self.client_path(p) for p in body.ephemerals or []])
        return body
