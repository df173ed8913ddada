"""The data tree as it was at one zxid, readable in steps while later transactions apply.

Packing a snapshot of a big tree takes seconds; doing it between two applies blocks the
event loop (and a ZAB member's acks and pings) that long, or else stops applying for
that long. A `TreeImage` lets the packer read the tree a few nodes at a time while the
committer goes on applying: taking the image copies only the path list (pointers, done
in C) and the session table; after that, the tree tells the image before it changes
any node that existed when the image was taken (`DataTree._keep`), and the image keeps
that node's fields as they were (copy-on-write per node: data bytes are immutable, so
keeping a node costs a small list, not a copy of its data). A node the image reads and
no transaction has touched is read from the live tree. So every node comes out exactly
as it was at the image's zxid, however far the tree has moved on.

While an image is attached, what it keeps can grow to one tree's worth of node records
(each node changed during the pack is kept once); they go when the image is detached.
It must never change the tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class _Node(Protocol):
    def to_list(self, path: str) -> list[Any]: ...


class TreeImage:
    """Nodes and sessions of a data tree at `zxid`, in snapshot form (`Node.to_list`).
    Made by `DataTree.image` or `DataTree.attach_image`; `nodes` is the tree's own dict."""

    def __init__(self, nodes: Mapping[str, _Node], sessions: Mapping[int, tuple[int, bytes]], zxid: int) -> None:
        self.nodes = nodes
        self.zxid = zxid
        self.paths: list[str] = list(nodes)
        self.sessions: list[list[Any]] = [[sid, timeout, pw] for sid, (timeout, pw) in sessions.items()]
        self._kept: dict[str, list[Any]] = {}

    def keep(self, path: str) -> None:
        """`path` is about to change: remember it as it is now, if it is not yet kept
        (the first change after the image is the one that matters)."""
        if path not in self._kept:
            node = self.nodes.get(path)
            if node is not None:
                self._kept[path] = node.to_list(path)

    def item(self, index: int) -> list[Any]:
        """The snapshot record of the `index`th node of the image."""
        path = self.paths[index]
        kept = self._kept.get(path)
        return kept if kept is not None else self.nodes[path].to_list(path)

    @property
    def kept(self) -> int:
        """How many node records the image holds for changed nodes."""
        return len(self._kept)
