"""AsyncAdmin: create, delete, list and describe topics, describe the cluster, list and
describe consumer groups and read their committed offsets.

Each topic call is one request to the controller when metadata names one, else to any
broker that answers; group calls go to the group's coordinator (FindCoordinator first),
and list_groups asks every broker, since each knows only the groups it coordinates;
a per-topic refusal becomes the broker's typed exception, raised for the
first failing topic (the broker has still acted on the others in the same request).
Controller calls are sent again only when the controller moved or could not be reached
(NOT_CONTROLLER, a lost connection, a timeout), within request_timeout_ms, as Kafka's
admin client does; a create retried after a lost answer may then report
TopicAlreadyExistsError for its own first attempt. This module must never retry any
other refusal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from client.client import NetworkClient, metadata_request
from client.cluster import BrokerAddress
from client.consumer.group_protocol import PROTOCOL_TYPE, GroupProtocolError, decode_assignment
from client.errors import BrokerConnectionError, ClientTimeoutError
from client.protocol import messages as m
from client.protocol.api import ApiKey
from client.protocol.errors import RETRIABLE, BrokerError, ErrorCode, raise_for
from client.security import client_security
from client.structs import (
    ClusterDescription,
    GroupDescription,
    GroupListing,
    MemberDescription,
    NewTopic,
    TopicDescription,
    TopicPartition,
)


def _topic_results(answer: Any) -> list:
    """The per-topic results of a CreateTopics, DeleteTopics or Metadata answer."""
    return answer.responses if isinstance(answer, m.DeleteTopicsResponse) else answer.topics


def _controller_moved(answer: Any) -> bool:
    """NOT_CONTROLLER for one of its topics: nothing was done for it, send again. (These
    answers carry no request-level error code: every refusal is per topic.)"""
    return any(t.error_code == ErrorCode.NOT_CONTROLLER for t in _topic_results(answer))


class AsyncAdmin:
    def __init__(
        self,
        bootstrap_servers: str | list[str] = "127.0.0.1:9092",
        *,
        request_timeout_ms: int = 30000,
        retry_backoff_ms: int = 100,
        client_id: str = "pybroker-admin",
        **security: Any,
    ) -> None:
        """`security`: kafka-python's security_protocol, ssl_* and sasl_* settings (client.security)."""
        self.client = NetworkClient(
            bootstrap_servers,
            client_id=client_id,
            request_timeout_ms=request_timeout_ms,
            retry_backoff_ms=retry_backoff_ms,
            security=client_security(**security),
        )
        self.timeout_ms = request_timeout_ms

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> AsyncAdmin:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, api_key: ApiKey, request: Any) -> Any:
        """Send to the controller (any broker if none is known); while request_timeout_ms
        lasts, a lost or refused connection, a timeout, or NOT_CONTROLLER (for any topic
        in it: the controller moved) refreshes the metadata and sends
        again, as Kafka's admin client does. Other refusals are returned to the caller."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            try:
                answer = await self._to_controller(api_key, request)
                if not _controller_moved(answer):
                    return answer
                failure: Exception = BrokerError.for_code(ErrorCode.NOT_CONTROLLER, "the controller moved")
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                failure = exc
            await self._back_off(deadline, failure)

    async def _to_controller(self, api_key: ApiKey, request: Any) -> Any:
        """One attempt: the controller if metadata names a live one, else any broker."""
        controller = self.client.cluster.controller_id
        if controller in self.client.cluster.brokers:
            return await self.client.request(controller, api_key, request)
        return await self.client.any_request(api_key, request)

    async def _back_off(self, deadline: float, failure: Exception) -> None:
        """Raise `failure` if no time is left for another attempt; else wait retry_backoff_ms
        and refresh the metadata (a new controller or leader may be named by then)."""
        if time.monotonic() + self.client.retry_backoff >= deadline:
            raise failure
        await asyncio.sleep(self.client.retry_backoff)
        try:
            await self.client.refresh_metadata()
        except (BrokerConnectionError, ClientTimeoutError):
            pass  # the next attempt goes to any broker that answers

    async def create_topics(self, topics: Iterable[NewTopic], *, validate_only: bool = False) -> None:
        """Create every topic; raises the first refusal (e.g. TopicAlreadyExistsError)."""
        entries = []
        for t in topics:
            t = NewTopic(t) if isinstance(t, str) else t
            entries.append(
                m.CreateTopicsRequest.CreatableTopic(
                    name=t.name,
                    num_partitions=t.num_partitions,
                    replication_factor=t.replication_factor,
                    configs=[
                        m.CreateTopicsRequest.CreateableTopicConfig(name=k, value=v)
                        for k, v in dict(t.configs or {}).items()
                    ],
                )
            )
        answer = await self._call(
            ApiKey.CREATE_TOPICS,
            m.CreateTopicsRequest(topics=entries, timeout_ms=self.timeout_ms, validate_only=validate_only),
        )
        self._raise_first(answer.topics)

    async def delete_topics(self, names: Iterable[str]) -> None:
        names = list(names)
        answer = await self._call(
            ApiKey.DELETE_TOPICS,
            m.DeleteTopicsRequest(
                topic_names=names,
                topics=[m.DeleteTopicsRequest.DeleteTopicState(name=n) for n in names],
                timeout_ms=self.timeout_ms,
            ),
        )
        self._raise_first(answer.responses)
        for result in answer.responses:
            self.client.cluster.forget(result.name)

    async def list_topics(self) -> list[str]:
        cluster = await self.client.refresh_metadata(all_topics=True)
        return cluster.topics()

    async def describe_topics(self, names: Iterable[str] | None = None) -> list[TopicDescription]:
        """Partitions, leaders, replicas and ISR; raises UnknownTopicOrPartitionError for a missing topic."""
        answer = await self._call(ApiKey.METADATA, metadata_request(None if names is None else list(names)))
        self.client.cluster.update(answer)
        out = []
        for topic in answer.topics:
            raise_for(topic.error_code, f"topic {topic.name!r} does not exist")
            out.append(TopicDescription(topic.name, self.client.cluster.describe(topic.name)))
        return sorted(out)

    async def describe_cluster(self) -> ClusterDescription:
        cluster = await self.client.refresh_metadata()
        return ClusterDescription(cluster.cluster_id, cluster.controller_id, sorted(cluster.brokers.values()))

    # consumer groups
    async def list_groups(self) -> list[GroupListing]:
        """Every group any live broker coordinates (each broker knows only its own)."""
        cluster = await self.client.refresh_metadata()
        answers = await asyncio.gather(
            *(self.client.request(b, ApiKey.LIST_GROUPS, m.ListGroupsRequest()) for b in cluster.brokers)
        )
        out: set[GroupListing] = set()
        for answer in answers:
            raise_for(answer.error_code, "ListGroups")
            out.update(GroupListing(g.group_id, g.protocol_type, g.group_state) for g in answer.groups)
        return sorted(out)

    async def _coordinator(self, group_id: str) -> tuple[int, BrokerAddress]:
        """(broker id, address) of the group's coordinator, retrying while it is being set up."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            try:
                answer = await self._to_controller(
                    ApiKey.FIND_COORDINATOR, m.FindCoordinatorRequest(key=group_id, key_type=0)
                )
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                await self._back_off(deadline, exc)
                continue
            code = answer.error_code
            if not code:
                return answer.node_id, BrokerAddress(answer.host, answer.port)
            if code not in RETRIABLE:
                raise_for(code, answer.error_message)
            await self._back_off(deadline, BrokerError.for_code(code, answer.error_message))

    async def _group_call(self, group_id: str, api_key: ApiKey, request: Any) -> tuple[int, Any]:
        """`body` to the group's coordinator, retried while the coordinator moves or cannot
        be reached (within request_timeout_ms)."""
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            node, address = await self._coordinator(group_id)
            try:
                answer = await self.client.request(address, api_key, request)
            except (BrokerConnectionError, ClientTimeoutError) as exc:
                await self._back_off(deadline, exc)
                continue
            code = _group_error(answer)
            if not code or code not in RETRIABLE:
                raise_for(code, f"group {group_id!r}")
                return node, answer
            await self._back_off(deadline, BrokerError.for_code(code, f"group {group_id!r}"))

    async def describe_groups(self, group_ids: Iterable[str]) -> list[GroupDescription]:
        """State, generation and members (with decoded assignments) of each group."""
        out = []
        for group_id in group_ids:
            node, answer = await self._group_call(
                group_id, ApiKey.DESCRIBE_GROUPS, m.DescribeGroupsRequest(groups=[group_id])
            )
            g = answer.groups[0]
            members = []
            for member in g.members:
                try:
                    assignment = (
                        decode_assignment(bytes(member.member_assignment)) if g.protocol_type == PROTOCOL_TYPE else []
                    )
                except GroupProtocolError:
                    assignment = []
                members.append(
                    MemberDescription(member.member_id, member.group_instance_id, member.client_id, assignment)
                )
            # Kafka's DescribeGroups does not carry the generation: -1 says "not known"
            out.append(GroupDescription(group_id, g.group_state, g.protocol_type, g.protocol_data, -1, node, members))
        return out

    async def list_group_offsets(self, group_id: str) -> dict[TopicPartition, int]:
        """Every offset the group committed (the next offset to read per partition)."""
        _, answer = await self._group_call(
            group_id, ApiKey.OFFSET_FETCH, m.OffsetFetchRequest(group_id=group_id, topics=None)
        )
        out = {}
        for topic in answer.topics:
            for p in topic.partitions:
                raise_for(p.error_code, f"committed offset of {topic.name}-{p.partition_index}")
                if p.committed_offset >= 0:
                    out[TopicPartition(topic.name, p.partition_index)] = p.committed_offset
        return out

    @staticmethod
    def _raise_first(results: list) -> None:
        for result in results:
            if result.error_code:
                raise BrokerError.for_code(result.error_code, result.error_message or result.name)


def _group_error(answer: Any) -> int:
    """The error code of a group call's answer: the request's, else its only group's."""
    if isinstance(answer, m.DescribeGroupsResponse):
        return answer.groups[0].error_code if answer.groups else ErrorCode.UNKNOWN_SERVER_ERROR
    return answer.error_code
