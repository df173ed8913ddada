"""`CoordClient`: the asyncio ZooKeeper-protocol client used by the broker and the CLI.

Works against our coord server and against a real Apache ZooKeeper. Requests pipeline on
one connection (each call sends at once and awaits its reply, so `asyncio.gather` of
thousands of creates keeps the server busy). Connection loss moves the state to
SUSPENDED and the client reconnects to the next server of its (shuffled) list, resumes
the session with its id, password and lastZxidSeen, and re-registers its watches with
SetWatches; a server answering timeout 0 means the session expired: state LOST, then
`start()` may open a new session. Requests made while not connected fail at once with
ConnectionLossError (SessionExpiredError after LOST); they never queue.
With `ssl_context` every connection is TLS (a server's secureClientPort); the context
decides what is verified and which client certificate is shown. With `sasl_options`
(kazoo's spelling: {"mechanism": "DIGEST-MD5", "username": ..., "password": ...}) every
connection logs in with SASL before it counts as connected; a refused login raises
AuthFailedError from `start()` (on a reconnect: logged, and retried while SUSPENDED).
With `acl_provider` (Curator's ACLProvider: path -> ACL list) every create that names no
ACL, the parents `makepath` makes and the creates of a transaction get the provider's ACL
for their path instead of world:anyone (the broker's `zookeeper.set.acl`).
A chroot after the servers ("h1:2181,h2:2181/kafka") is this session's root, as in ZooKeeper's
client: paths go out under it and come back without it (`coord.client.chroot`).
This module must never block the event loop and never swallow an error code: every
non-zero reply becomes the CoordError subclass of that code.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import random
import ssl
import time
from collections.abc import Callable
from typing import Any

from coord.client.chroot import split_connect_string
from coord.client.connection import Connection, HandshakeRefusedError, close_quietly
from coord.client.core import (
    WATCH_CHILD,
    WATCH_DATA,
    WATCH_EXISTS,
    WATCH_PERSISTENT,
    WATCH_RECURSIVE,
    ClientCore,
    Notify,
    ProtocolError,
)
from coord.client.requests import create_request
from coord.client.transaction import Transaction
from coord.client.watches import Callback
from coord.protocol import records as R
from coord.protocol.errors import (
    AuthFailedError,
    ConnectionLossError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
    error_for,
)
from coord.protocol.opcodes import AddWatchMode, OpCode, WatcherType
from coord.security.digest_md5 import DigestMD5Client, SaslError

log = logging.getLogger("coord.client")


class ConnState(str, enum.Enum):
    """Session states a listener sees. SUSPENDED: the session may still be alive but
    nothing this client does can be trusted until CONNECTED again (a controller must
    stop acting). LOST: the session expired; its ephemerals and watches are gone."""

    CONNECTED = "CONNECTED"
    SUSPENDED = "SUSPENDED"
    LOST = "LOST"
    CLOSED = "CLOSED"


def parse_hosts(hosts: str) -> list[tuple[str, int]]:
    """The (host, port) servers of a connect string (its chroot, if any, left aside)."""
    out = []
    for part in split_connect_string(hosts)[0].split(","):
        part = part.strip()
        if not part:
            continue
        host, _, port = part.rpartition(":")
        out.append((host, int(port)) if host else (part, 2181))
    if not out:
        raise ValueError(f"no servers in connect string {hosts!r}")
    return out


class CoordClient:
    """One ZooKeeper session over a list of servers ("h1:2181,h2:2181")."""

    def __init__(
        self,
        hosts: str,
        session_timeout: float = 10.0,
        connect_timeout: float | None = None,
        read_only: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        sasl_options: dict[str, str] | None = None,
        acl_provider: Callable[[str], list[R.ACL]] | None = None,
    ) -> None:
        self.hosts = parse_hosts(hosts)
        chroot = split_connect_string(hosts)[1]
        self.acl_provider = acl_provider
        self.ssl_context = ssl_context
        if sasl_options is not None and sasl_options.get("mechanism", "DIGEST-MD5") != "DIGEST-MD5":
            raise ValueError(f"SASL mechanism {sasl_options['mechanism']!r}: coord speaks DIGEST-MD5 only")
        self.sasl_options = sasl_options
        self.session_timeout = session_timeout
        self.connect_timeout = connect_timeout or max(1.0, session_timeout / len(self.hosts))
        self.read_only = read_only
        self.core = ClientCore(chroot)
        self.state = ConnState.CLOSED
        self.negotiated_timeout = 0.0
        self._conn: Connection | None = None
        self._listeners: list[Callable[[ConnState], Any]] = []
        self._reconnect_task: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._order = list(self.hosts)
        random.shuffle(self._order)
        self._next = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, timeout: float | None = None) -> None:
        """Connect (a new session, or the current one after LOST/stop: a new one).
        Raises ConnectionLossError if no server accepts within `timeout`."""
        if self._conn is not None:
            return
        self._closing = False
        if self.state in (ConnState.LOST, ConnState.CLOSED):
            self.core.expire()
        deadline = time.monotonic() + (timeout or max(self.session_timeout, self.connect_timeout))
        await self._connect_any(deadline)

    async def stop(self) -> None:
        """Close the session (its ephemerals go at once) and the connection."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            self._reconnect_task = None
        conn = self._conn
        self._connected.clear()
        self._set_state(ConnState.CLOSED)  # recipes resign before our ephemerals vanish
        if conn is not None:
            try:
                fut = self._submit(OpCode.closeSession, None)
                await asyncio.wait_for(fut, min(2.0, self.session_timeout))
            except (TimeoutError, ConnectionLossError, SessionExpiredError):
                pass
            conn.close()
            if conn.closing is not None:  # bounded: a peer that reads nothing may never let go
                await asyncio.wait({conn.closing}, timeout=1.0)
        self._conn = None
        self.core.expire()
        self.core.auth.clear()  # a later start() is a fresh handle

    async def __aenter__(self) -> CoordClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def session_id(self) -> int:
        return self.core.session_id

    @property
    def connected(self) -> bool:
        return self.state == ConnState.CONNECTED

    def add_listener(self, listener: Callable[[ConnState], Any]) -> None:
        """Call `listener(state)` on every change to CONNECTED / SUSPENDED / LOST / CLOSED."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[ConnState], Any]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- connecting -----------------------------------------------------------------------

    async def _connect_any(self, deadline: float) -> None:
        backoff, last_error = 0.05, None
        while not self._closing:
            host, port = self._order[self._next % len(self._order)]
            self._next += 1
            try:
                await self._connect_one(host, port, deadline)
                return
            except (TimeoutError, OSError, HandshakeRefusedError, ProtocolError) as e:
                last_error = e
                log.debug("cannot connect to %s:%d: %s", host, port, e)
            if time.monotonic() >= deadline:
                break
            if self._next % len(self._order) == 0:
                await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
                backoff = min(backoff * 2, 1.0)
        names = ",".join(f"{h}:{p}" for h, p in self.hosts)
        raise ConnectionLossError(f"could not connect to any of {names}: {last_error}")

    async def _connect_one(self, host: str, port: int, deadline: float) -> None:
        left = min(self.connect_timeout, deadline - time.monotonic())
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=self.ssl_context), max(left, 0.01)
        )
        conn = Connection(self.core, reader, writer, self._on_frame, self._on_lost)
        try:
            resp = await conn.handshake(
                int(self.session_timeout * 1000), self.read_only, time.monotonic() + max(left, 0.01)
            )
        except BaseException:
            await close_quietly(writer)
            raise
        if resp.timeOut <= 0:
            await close_quietly(writer)
            self._expired()
            raise SessionExpiredError()
        self.negotiated_timeout = resp.timeOut / 1000.0
        conn.run()
        if self.sasl_options is not None:
            try:  # before it becomes the connection: its failure must not reconnect
                await self._sasl_login(conn, max(left, 0.01))
            except BaseException:
                conn.close()
                self._fail_pending(ConnectionLossError)  # an unanswered token, if any
                raise
        self._conn = conn
        for scheme, credential in self.core.auth:
            conn.send(self.core.auth_frame(scheme, credential, None))
        frame = self.core.set_watches_frame(None)
        if frame is not None:
            conn.send(frame)
        self._connected.set()
        self._set_state(ConnState.CONNECTED)

    async def _sasl_login(self, conn: Connection, timeout: float) -> None:
        """SASL DIGEST-MD5 on a fresh connection: tokens as opcode-102 requests until
        the server's rspauth proves it knows the password too."""
        assert self.sasl_options is not None
        login = DigestMD5Client(self.sasl_options["username"], self.sasl_options["password"])
        token = login.initial()
        try:
            while not login.complete:
                fut = asyncio.get_running_loop().create_future()
                conn.send(self.core.request(OpCode.sasl, R.GetSASLRequest(token), fut))
                reply = await asyncio.wait_for(fut, timeout)
                token = login.evaluate(bytes(reply.token or b""))
        except SaslError as e:
            raise AuthFailedError(f"SASL: {e}") from None

    def _on_lost(self, conn: Connection, error: BaseException | None) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        self._connected.clear()
        self._fail_pending(ConnectionLossError)
        if self._closing:
            return
        log.info("coord connection lost (%s); reconnecting", error)
        self._set_state(ConnState.SUSPENDED)
        self._reconnect_task = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closing and self._conn is None:
            try:
                await self._connect_any(time.monotonic() + self.session_timeout)
            except SessionExpiredError:
                return
            except ConnectionLossError as e:
                log.info("%s; still trying", e)
            except AuthFailedError as e:
                log.error("coord refused this client's SASL login (%s); still trying", e)
                await asyncio.sleep(1.0)

    def _expired(self) -> None:
        self._fail_pending(SessionExpiredError)
        self.core.expire()
        self._connected.clear()
        self._closing = True
        self._set_state(ConnState.LOST)

    def _fail_pending(self, exc_type: type) -> None:
        for p in self.core.drop_pending():
            if p.token is not None and not p.token.done():
                p.token.set_exception(exc_type(path=p.path))

    def _set_state(self, state: ConnState) -> None:
        if state == self.state:
            return
        self.state = state
        for listener in list(self._listeners):
            _invoke(listener, state)

    # -- requests -------------------------------------------------------------------------

    def _on_frame(self, payload: bytes) -> None:
        try:
            out = self.core.receive(payload)
        except ProtocolError as e:
            log.warning("dropping coord connection: %s", e)
            if self._conn is not None:
                self._conn.close(e)
            return
        if out is None:
            return
        if isinstance(out, Notify):
            for cb in out.callbacks:
                _invoke(cb, out.event)
            return
        fut = out.token
        if fut is None or fut.done():
            return
        if out.err:
            fut.set_exception(error_for(out.err, out.path))
        else:
            fut.set_result(out.body)

    def _submit(
        self, op: int, record: Any, path: str | None = None, watch: tuple[str, Callback] | None = None
    ) -> asyncio.Future:
        if self._conn is None:
            if self.state == ConnState.LOST:
                raise SessionExpiredError(path=path)
            raise ConnectionLossError(f"not connected to coord (state {self.state.value})", path)
        fut = asyncio.get_running_loop().create_future()
        self._conn.send(self.core.request(op, record, fut, path, watch))
        return fut

    async def request(
        self, op: int, record: Any, path: str | None = None, watch: tuple[str, Callback] | None = None
    ) -> Any:
        """Send one request and return its decoded response body (None if it has none)."""
        return await self._submit(op, record, path, watch)

    def transaction(self) -> Transaction:
        return Transaction(self.request, self.acl_provider)

    # -- the ZooKeeper operations ---------------------------------------------------------

    async def create(
        self,
        path: str,
        value: bytes = b"",
        *,
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
        container: bool = False,
        ttl: float | None = None,
        acl: list[R.ACL] | None = None,
    ) -> str:
        """Create a znode; returns its actual path (with the sequence suffix if any).
        `ttl` is in seconds (real ZooKeeper needs extendedTypesEnabled=true)."""
        if acl is None and self.acl_provider is not None:
            acl = self.acl_provider(path)
        op, record = create_request(path, value, ephemeral, sequence, container, ttl, acl)
        try:
            return (await self.request(op, record, path)).path
        except NoNodeError:
            if not makepath:
                raise
        await self._ensure_path(path.rsplit("/", 1)[0])
        return (await self.request(op, record, path)).path

    async def _ensure_path(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            try:
                await self.create("/" + "/".join(parts[:i]))
            except NodeExistsError:
                pass

    async def get(self, path: str, watch: Callback | None = None) -> tuple[bytes | None, R.Stat]:
        body = await self.request(
            OpCode.getData, R.GetDataRequest(path, watch is not None), path, (WATCH_DATA, watch) if watch else None
        )
        return body.data, body.stat

    async def set(self, path: str, value: bytes, version: int = -1) -> R.Stat:
        return (await self.request(OpCode.setData, R.SetDataRequest(path, value, version), path)).stat

    async def exists(self, path: str, watch: Callback | None = None) -> R.Stat | None:
        try:
            body = await self.request(
                OpCode.exists, R.ExistsRequest(path, watch is not None), path, (WATCH_EXISTS, watch) if watch else None
            )
        except NoNodeError:
            return None
        return body.stat

    async def get_children(self, path: str, watch: Callback | None = None, include_data: bool = False) -> Any:
        """Child names; with include_data=True, (names, Stat of the node)."""
        op = OpCode.getChildren2 if include_data else OpCode.getChildren
        cls = R.GetChildren2Request if include_data else R.GetChildrenRequest
        body = await self.request(op, cls(path, watch is not None), path, (WATCH_CHILD, watch) if watch else None)
        children = body.children or []
        return (children, body.stat) if include_data else children

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        if recursive:
            try:
                children = await self.get_children(path)
            except NoNodeError:
                return
            await asyncio.gather(*(self._delete_tree(f"{path.rstrip('/')}/{c}") for c in children))
        await self.request(OpCode.delete, R.DeleteRequest(path, version), path)

    async def _delete_tree(self, path: str) -> None:
        try:
            await self.delete(path, recursive=True)
        except NoNodeError:
            pass

    async def sync(self, path: str) -> str:
        return (await self.request(OpCode.sync, R.SyncRequest(path), path)).path

    async def add_watch(self, path: str, callback: Callback, recursive: bool = False) -> None:
        """A persistent watch (every event, not removed when it fires); recursive: also
        every descendant (no NodeChildrenChanged). Lasts until remove_watches."""
        mode = AddWatchMode.PERSISTENT_RECURSIVE if recursive else AddWatchMode.PERSISTENT
        await self.request(
            OpCode.addWatch,
            R.AddWatchRequest(path, mode),
            path,
            (WATCH_RECURSIVE if recursive else WATCH_PERSISTENT, callback),
        )

    async def remove_watches(self, path: str, watcher_type: WatcherType = WatcherType.ANY) -> None:
        """Remove this client's watches of `path` (locally and on the server);
        NoWatcherError if the server had none."""
        self.core.watches.remove(path, watcher_type != WatcherType.CHILDREN, watcher_type != WatcherType.DATA)
        await self.request(OpCode.removeWatches, R.RemoveWatchesRequest(path, watcher_type), path)

    async def add_auth(self, scheme: str, credential: bytes) -> None:
        """Authenticate this connection (e.g. "digest", b"user:password") and re-send the
        credential on every reconnect. AuthFailedError if the server refuses (it then
        drops the connection)."""
        if self._conn is None:
            raise ConnectionLossError(f"not connected to coord (state {self.state.value})")
        fut = asyncio.get_running_loop().create_future()
        self._conn.send(self.core.auth_frame(scheme, credential, fut))
        await fut
        self.core.auth.append((scheme, credential))

    async def who_am_i(self) -> list[tuple[str, str]]:
        """(scheme, user) of every identity the server gives this connection."""
        infos = (await self.request(OpCode.whoAmI, None)).clientInfo or []
        return [(i.authScheme or "", i.user or "") for i in infos]

    async def get_ephemerals(self, prefix: str = "/") -> list[str]:
        return (await self.request(OpCode.getEphemerals, R.GetEphemeralsRequest(prefix))).ephemerals or []

    async def get_all_children_number(self, path: str) -> int:
        return (await self.request(OpCode.getAllChildrenNumber, R.GetAllChildrenNumberRequest(path), path)).totalNumber


async def ensure_chroot(connect: str, **options: Any) -> None:
    """Create the chroot of `connect` (with its parents) if it is missing, through a session
    without the chroot, as a Kafka broker does at start: ZooKeeper does not make it, and a
    chrooted session can do nothing before it exists. `options` are CoordClient's."""
    servers, root = split_connect_string(connect)
    if not root:
        return
    client = CoordClient(servers, **options)
    await client.start()
    try:
        if await client.exists(root) is None:
            try:
                await client.create(root, makepath=True)
            except NodeExistsError:
                pass
    finally:
        await client.stop()


_callback_tasks: set[asyncio.Future[Any]] = set()  # referenced until done: the loop holds weak ones


def _invoke(cb: Callable[[Any], Any], arg: Any) -> None:
    """Run a user callback; a coroutine result becomes a task; errors are logged."""
    try:
        result = cb(arg)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            _callback_tasks.add(task)
            task.add_done_callback(_callback_tasks.discard)
    except Exception:  # a broken callback must not break the client
        log.exception("coord callback %r failed", cb)
