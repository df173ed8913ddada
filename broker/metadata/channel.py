"""The controller's request channel to the brokers: one ordered queue and connection each.

LeaderAndIsr, UpdateMetadata and StopReplica to one broker must arrive in the order the
controller decided them, so each broker gets a queue drained by one task over one
connection (the broker answers in order). A request that cannot be delivered (the
broker is restarting, its socket died) is retried every `retry_s` for as long as the
broker stays registered; once it is gone, its queue is dropped (it gets the whole state
again when it rejoins). Requests go at the versions of `controller_requests.VERSIONS`
(Kafka's ZooKeeper-era schemas). A refusal for a stale controller or broker epoch is
logged, not retried (the controller's next decision supersedes it); one saying we are
no registered broker is retried, since the addressee's view of /brokers/ids may lag. It must
never decide what to send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from broker.metadata.cache import MetadataCache
from broker.metadata.controller_requests import VERSIONS
from client.conn import BrokerConnection
from client.errors import ClientError
from client.protocol.api import ApiKey
from client.protocol.errors import ErrorCode
from client.protocol.messages import Message

log = logging.getLogger(__name__)


class ControllerChannel:
    def __init__(
        self,
        cache: MetadataCache,
        broker_id: int,
        *,
        request_timeout_ms: int = 30000,
        retry_s: float = 0.2,
        local: Callable[[ApiKey, Message], Awaitable[Message]] | None = None,
    ) -> None:
        self.cache = cache
        self.broker_id = broker_id
        self.request_timeout_ms = request_timeout_ms
        self.retry_s = retry_s
        self._queues: dict[int, asyncio.Queue] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        # Requests to this broker itself are handed to its request dispatcher in-process
        # (same handlers, same checks; no socket, and ready before it accepts clients).
        self.local = local

    def send(self, broker_id: int, api_key: int, body: Message) -> asyncio.Future:
        """Queue a request; the future gets the response message, or None if the broker left."""
        fut = asyncio.get_running_loop().create_future()
        if broker_id not in self._queues:
            self._queues[broker_id] = asyncio.Queue()
            self._tasks[broker_id] = asyncio.get_running_loop().create_task(
                self._drain(broker_id), name=f"controller-channel-{broker_id}"
            )
        self._queues[broker_id].put_nowait((ApiKey(api_key), body, fut))
        return fut

    def forget(self, broker_id: int) -> None:
        """The broker left: drop what was queued for it."""
        task = self._tasks.pop(broker_id, None)
        queue = self._queues.pop(broker_id, None)
        if task is not None:
            task.cancel()
        while queue is not None and not queue.empty():
            _, _, fut = queue.get_nowait()
            if not fut.done():
                fut.set_result(None)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for broker_id in list(self._tasks):
            self.forget(broker_id)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, broker_id: int) -> None:
        queue = self._queues[broker_id]
        conn: BrokerConnection | None = None
        fut: asyncio.Future | None = None
        try:
            while True:
                api_key, body, fut = await queue.get()
                refusals = 0
                while not fut.done():
                    if broker_id not in self.cache.brokers:
                        fut.set_result(None)
                        break
                    try:
                        if broker_id == self.broker_id and self.local is not None:
                            response = await self.local(api_key, body)
                        else:
                            if conn is None or not conn.connected:
                                conn = await self.cache.inter_broker.open(
                                    self.cache.brokers[broker_id],
                                    client_id=f"controller-{self.broker_id}",
                                    request_timeout_ms=self.request_timeout_ms,
                                )
                            response = await conn.request(api_key, body, api_version=VERSIONS[api_key])
                    except (ClientError, OSError) as exc:
                        log.debug("controller request to broker %d failed (%s); retrying", broker_id, exc)
                        if conn is not None:
                            conn.close()
                            conn = None
                        await asyncio.sleep(self.retry_s)
                        continue
                    if response.error_code == ErrorCode.CLUSTER_AUTHORIZATION_FAILED:
                        # The broker does not know us as a registered broker yet (its watch
                        # on /brokers/ids lags our registration): ask again, in order.
                        if not refusals:
                            _logged(broker_id, api_key, response)
                        refusals += 1
                        await asyncio.sleep(self.retry_s)
                        continue
                    fut.set_result(_logged(broker_id, api_key, response))
        finally:
            if conn is not None:
                conn.close()
            if fut is not None and not fut.done():
                fut.set_result(None)
            while not queue.empty():
                _, _, fut = queue.get_nowait()
                if not fut.done():
                    fut.set_result(None)


def _logged(broker_id: int, api_key: ApiKey, response: Message) -> Message:
    """Log a refused request, or partitions it could not apply (at the versions we send,
    LeaderAndIsr and StopReplica answer per partition by topic name)."""
    if response.error_code:
        log.warning("broker %d refused %s: %s", broker_id, ApiKey(api_key).name, _name(response.error_code))
    elif api_key in (ApiKey.LEADER_AND_ISR, ApiKey.STOP_REPLICA):
        failed = [
            f"{e.topic_name}-{e.partition_index}: {_name(e.error_code)}"
            for e in response.partition_errors
            if e.error_code
        ]
        if failed:
            log.warning("broker %d could not apply %s for %s", broker_id, ApiKey(api_key).name, ", ".join(failed))
    return response


def _name(code: int) -> str:
    return ErrorCode(code).name if code in ErrorCode._value2member_map_ else str(code)
