"""A snapshot packed in steps while transactions keep applying is the tree at one zxid.

The image is taken, then every step of packing is followed by a few random transactions
(creates, sequential and ephemeral ones, deletes, setData, setACL, sessions opened and
closed with their ephemerals, quota'd subtrees whose stats node changes on every write,
multis, a path deleted and created again). The file the steps make must be byte for byte
the file of the tree packed at once at the image's zxid, and once detached the image
keeps nothing more."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coord.server import txn as T
from coord.server.datatree import OPEN_ACL, READ_ACL, DataTree
from coord.server.snapshot import frame, pack_image_steps, pack_tree, parse_snapshot
from coord.server.txn import Txn

DIRS = ["/a", "/a/b", "/q", "/q/c", "/zookeeper/quota/q"]


class Writer:
    """Random valid transactions against a tree (what the prep step would have let through)."""

    def __init__(self, tree: DataTree, rng: random.Random) -> None:
        self.tree, self.rng, self.zxid, self.sessions = tree, rng, 0, [1001, 1002]

    def apply(self, kind: int, body: list) -> None:
        self.zxid += 1
        self.tree.apply(Txn(self.zxid, 5000 + self.zxid, 1, kind, body))

    def setup(self) -> None:
        for sid in self.sessions:
            self.apply(T.CREATE_SESSION, [sid, 4000, bytes(16)])
        for path in DIRS:
            self.apply(T.CREATE, [path, b"", OPEN_ACL, 0])
        self.apply(T.CREATE, ["/zookeeper/quota/q/zookeeper_limits", b"count=-1,bytes=100", OPEN_ACL, 0])
        self.apply(T.CREATE, ["/zookeeper/quota/q/zookeeper_stats", b"count=0,bytes=0", OPEN_ACL, 0])
        for _ in range(30):
            self.step()

    def leaves(self) -> list[str]:
        return [
            p
            for p, n in self.tree.nodes.items()
            if not n.children and p.count("/") >= 2 and not p.startswith("/zookeeper") and p not in DIRS
        ]

    def step(self) -> None:
        rng, choice = self.rng, self.rng.randrange(8)
        leaves = self.leaves()
        if choice <= 1 or not leaves:
            owner = rng.choice([0, 0, *self.sessions])
            path = f"{rng.choice(DIRS[:4])}/n{self.zxid}"
            self.apply(T.CREATE, [path, rng.randbytes(rng.randrange(40)), OPEN_ACL, owner])
        elif choice == 2:
            self.apply(T.DELETE, [rng.choice(leaves)])
        elif choice == 3:
            path = rng.choice(leaves)  # deleted and created again in one multi
            self.apply(T.MULTI, [(T.DELETE, [path]), (T.CREATE, [path, b"again", OPEN_ACL, 0])])
        elif choice == 4:
            self.apply(T.SET_DATA, [rng.choice(leaves + DIRS), rng.randbytes(rng.randrange(60))])
        elif choice == 5:
            self.apply(T.SET_ACL, [rng.choice(leaves + DIRS), rng.choice([OPEN_ACL, READ_ACL])])
        elif choice == 6:
            sid = self.sessions.pop(rng.randrange(len(self.sessions))) if len(self.sessions) > 1 else None
            if sid is not None:
                self.apply(T.CLOSE_SESSION, [sid, sorted(self.tree.ephemerals.get(sid, ()))])
        else:
            sid = 2000 + self.zxid
            self.sessions.append(sid)
            self.apply(T.CREATE_SESSION, [sid, 6000, bytes([sid % 256]) * 16])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), step_nodes=st.integers(1, 5), writes=st.integers(0, 6))
def test_a_stepped_snapshot_is_the_tree_at_its_zxid(seed: int, step_nodes: int, writes: int) -> None:
    tree = DataTree()
    writer = Writer(tree, random.Random(seed))
    writer.setup()
    at_image = pack_tree(tree)
    image = tree.attach_image()
    body = []
    for part in pack_image_steps(image, step_nodes=step_nodes, step_bytes=50):
        body.append(part)
        for _ in range(writes):
            writer.step()
    tree.detach_image(image)
    assert b"".join(frame(body)) == at_image
    assert parse_snapshot(at_image, "image").last_zxid == image.zxid
    assert tree.last_zxid > image.zxid or writes == 0
    kept = image.kept
    writer.step()
    assert image.kept == kept  # detached: the tree no longer reports changes to it


def test_one_image_at_a_time() -> None:
    tree = DataTree()
    image = tree.attach_image()
    with pytest.raises(RuntimeError):
        tree.attach_image()
    tree.detach_image(image)
    tree.detach_image(tree.attach_image())
