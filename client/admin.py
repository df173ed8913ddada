"""AsyncAdmin: create, delete, list and describe topics, describe the cluster, list and
describe consumer groups and read their committed offsets.

Each topic call is one request to the controller when metadata names one, else to any
broker that answers; group calls go to the group's coordinator (FindCoordinator first),
and list_groups asks every broker, since each knows only the groups it coordinates; a per-topic refusal becomes the broker's typed exception, raised for the
first failing topic (the broker has still acted on the others in the same request).
Controller calls are sent again only when the controller moved or could not be reached
(NOT_CONTROLLER, a lost connection, a timeout), within request_timeout_ms, as Kafka's
admin client does; a create retried after a lost answer may then report
TopicAlreadyExistsError for its own first attempt. This module must never retry any
other refusal.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncio
import time

from client.client import NetworkClient
from client.cluster import BrokerAddress
from client.consumer.group_protocol import PROTOCOL_TYPE, GroupProtocolError, decode_assignment
from client.protocol.api import ApiKey
from client.errors import BrokerConnectionError, ClientTimeoutError
from client.protocol.errors import RETRIABLE, BrokerError, ErrorCode, raise_for
from client.structs import (ClusterDescription, GroupDescription, GroupListing, MemberDescription, NewTopic,
                            TopicDescription, TopicPartition)


def _controller_moved(answer: dict) -> bool:
    """NOT_CONTROLLER for the request or one of its topics: nothing was done, send again."""
    return answer.get("error", 0) == ErrorCode.NOT_CONTROLLER or any(
        t.get("error", 0) == ErrorCode.NOT_CONTROLLER for t in answer.get("topics", ()) if isinstance(t, dict))


class AsyncAdmin:
    def __init__(self, bootstrap_servers: str | list[str] = "127.0.0.1:9092", *, request_timeout_ms: int = 30000,
                 retry_backoff_ms: int = 100, client_id: str = "pybroker-admin") -> None:
        self.client = NetworkClient(bootstrap_servers, client_id=client_id, request_timeout_ms=request_timeout_ms,
                                    retry_backoff_ms=retry_backoff_ms)
        self.timeout_ms = request_timeout_ms

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> "AsyncAdmin":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, api_key: ApiKey, body: dict) -> dict:
        """Send to the controller (any broker if none is known); while request_timeout_ms
        lasts, a lost or refused connection, a timeout, or NOT_CONTROLLER (for the whole
        request or any topic in it: the controller moved) refreshes the metadata and sends
        again, as Kafka's admin client does. Other refusals are returned to the caller."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            try:
                answer = await self._to_controller(api_key, body)
                if not _controller_moved(answer):
                    raise_for(answer.get("error", 0), answer.get("message"))
                    return answer
                failure: Exception = BrokerError.for_code(ErrorCode.NOT_CONTROLLER, answer.get("message"))
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                failure = exc
            await self._back_off(deadline, failure)

    async def _to_controller(self, api_key: ApiKey, body: dict) -> dict:
        """One attempt: the controller if metadata names a live one, else any broker."""
        controller = self.client.cluster.controller_id
        if controller in self.client.cluster.brokers:
            return (await self.client.request(controller, api_key, body)).body
        return (await self.client.any_request(api_key, body)).body

    async def _back_off(self, deadline: float, failure: Exception) -> None:
        """Raise `failure` if no time is left for another attempt; else wait retry_backoff_ms
        and refresh the metadata (a new controller or leader may be named by then)."""
        if time.monotonic() + self.client.retry_backoff >= deadline:
            raise failure
        await asyncio.sleep(self.client.retry_backoff)
        try:
            await self.client.refresh_metadata()
        except (BrokerConnectionError, ClientTimeoutError):
            pass   # the next attempt goes to any broker that answers

    async def create_topics(self, topics: Iterable[NewTopic], *, validate_only: bool = False) -> None:
        """Create every topic; raises the first refusal (e.g. TopicAlreadyExistsError)."""
        entries = []
        for t in topics:
            t = NewTopic(t) if isinstance(t, str) else t
            entries.append({"name": t.name, "num_partitions": t.num_partitions,
                            "replication_factor": t.replication_factor, "configs": dict(t.configs or {})})
        body = await self._call(ApiKey.CREATE_TOPICS, {"topics": entries, "timeout_ms": self.timeout_ms,
                                                      "validate_only": validate_only})
        self._raise_first(body)

    async def delete_topics(self, names: Iterable[str]) -> None:
        body = await self._call(ApiKey.DELETE_TOPICS, {"topics": list(names), "timeout_ms": self.timeout_ms})
        self._raise_first(body)
        for name in body.get("topics", ()):
            self.client.cluster.forget(name["name"])

    async def list_topics(self) -> list[str]:
        cluster = await self.client.refresh_metadata(all_topics=True)
        return cluster.topics()

    async def describe_topics(self, names: Iterable[str] | None = None) -> list[TopicDescription]:
        """Partitions, leaders, replicas and ISR; raises UnknownTopicOrPartitionError for a missing topic."""
        wanted = None if names is None else list(names)
        body = await self._call(ApiKey.METADATA, {"topics": wanted})
        self.client.cluster.update(body)
        out = []
        for topic in body.get("topics", ()):
            raise_for(topic.get("error", 0), topic.get("message") or f"topic {topic['name']!r} does not exist")
            out.append(TopicDescription(topic["name"], self.client.cluster.describe(topic["name"])))
        return sorted(out)

    async def describe_cluster(self) -> ClusterDescription:
        cluster = await self.client.refresh_metadata()
        return ClusterDescription(cluster.cluster_id, cluster.controller_id, sorted(cluster.brokers.values()))

    # consumer groups
    async def list_groups(self) -> list[GroupListing]:
        """Every group any live broker coordinates (each broker knows only its own)."""
        cluster = await self.client.refresh_metadata()
        answers = await asyncio.gather(*(self.client.request(b, ApiKey.LIST_GROUPS, {}) for b in cluster.brokers))
        out = set()
        for response in answers:
            raise_for(response.body.get("error", 0), response.body.get("message"))
            out.update(GroupListing(g["group_id"], g["protocol_type"], g["state"]) for g in response.body["groups"])
        return sorted(out)

    async def _coordinator(self, group_id: str) -> tuple[int, BrokerAddress]:
        """(broker id, address) of the group's coordinator, retrying while it is being set up."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            try:
                answer = await self._to_controller(ApiKey.FIND_COORDINATOR, {"key": group_id, "key_type": 0})
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                await self._back_off(deadline, exc)
                continue
            code = answer.get("error", 0)
            if not code:
                return answer["node_id"], BrokerAddress(answer["host"], answer["port"])
            if code not in RETRIABLE:
                raise_for(code, answer.get("message"))
            await self._back_off(deadline, BrokerError.for_code(code, answer.get("message")))

    async def _group_call(self, group_id: str, api_key: ApiKey, body: dict) -> tuple[int, dict]:
        """`body` to the group's coordinator, retried while the coordinator moves or cannot
        be reached (within request_timeout_ms)."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            node, address = await self._coordinator(group_id)
            try:
                answer = (await self.client.request(address, api_key, body)).body
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                await self._back_off(deadline, exc)
                continue
            code = answer.get("error", 0)
            if not code or code not in RETRIABLE:
                raise_for(code, answer.get("message"))
                return node, answer
            await self._back_off(deadline, BrokerError.for_code(code, answer.get("message")))

    async def describe_groups(self, group_ids: Iterable[str]) -> list[GroupDescription]:
        """State, generation and members (with decoded assignments) of each group."""
        out = []
        for group_id in group_ids:
            node, answer = await self._group_call(group_id, ApiKey.DESCRIBE_GROUPS, {"groups": [group_id]})
            g = answer["groups"][0]
            raise_for(g.get("error", 0), g.get("message"))
            members = []
            for m in g["members"]:
                try:
                    assignment = decode_assignment(m["assignment"]) if g["protocol_type"] == PROTOCOL_TYPE else []
                except GroupProtocolError:
                    assignment = []
                members.append(MemberDescription(m["member_id"], m["group_instance_id"], m["client_id"], assignment))
            out.append(GroupDescription(group_id, g["state"], g["protocol_type"], g["protocol_name"],
                                        g["generation_id"], node, members))
        return out

    async def list_group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """Every offset the group committed (the next offset to read per partition)."""
        _, answer = await self._group_call(group_id, ApiKey.OFFSET_FETCH, {"group_id": group_id, "partitions": None})
        return {TopicPartition(p["topic"], p["partition"]): p["offset"] for p in answer["partitions"]
                if p["offset"] >= 0}

    @staticmethod
    def _raise_first(body: dict) -> None:
        for topic in body.get("topics", ()):
            if topic.get("error", 0):
                raise BrokerError.for_code(topic["error"], topic.get("message") or topic["name"])
