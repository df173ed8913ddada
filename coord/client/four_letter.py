"""ZooKeeper's four-letter words (ruok, srvr, mntr, ...) from a client's side.

A four-letter word is not a session request: four ASCII bytes on a fresh connection, answered
with text until the server closes. Used by operators' tools (`pybroker status`, the cluster
launcher) to ask a coord member or a ZooKeeper server how it is. This module must never hold
a session.
"""

from __future__ import annotations

import socket


def four_letter(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter word and return the whole answer."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks: list[bytes] = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks).decode(errors="replace")
            chunks.append(data)
