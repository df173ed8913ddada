"""OffsetCommit and OffsetFetch: a group's committed positions, kept in `__consumer_offsets`.

OffsetCommit is checked against the member and generation by the group core, written
to the group's offsets partition and answered once the write is replicated; OffsetFetch
answers from the coordinator's table (offset -1 for a partition never committed).
Per-partition results carry their own error; a request-level error (NOT_COORDINATOR,
COORDINATOR_LOAD_IN_PROGRESS) means the client must find the coordinator or retry.
Handlers must never change group state themselves.
"""

from __future__ import annotations

from broker.groups.messages import OffsetCommit, OffsetCommitResult, OffsetFetch, OffsetFetchResult, Response
from broker.groups.records import OffsetAndMetadata
from broker.server.handlers.common import BrokerContext, MalformedRequest, Reply, get, get_entries
from broker.server.handlers.groups import ask, group_id_of

NO_TIMESTAMP = -1


def _partition(entry: dict) -> tuple[str, int]:
    topic, partition = get(entry, "topic", str), get(entry, "partition", int)
    if partition < 0:
        raise MalformedRequest(f"partition must be >= 0, not {partition}")
    return topic, partition


async def offset_commit(ctx: BrokerContext, body: dict) -> Reply:
    group_id = group_id_of(body)
    generation = get(body, "generation_id", int, -1)
    member_id = get(body, "member_id", str, "")
    instance = get(body, "group_instance_id", (str, type(None)), None)
    offsets = []
    for entry in get_entries(body):
        offset = get(entry, "offset", int)
        if offset < 0:
            raise MalformedRequest(f"offset must be >= 0, not {offset}")
        offsets.append((_partition(entry), OffsetAndMetadata(
            offset, get(entry, "leader_epoch", int, -1), get(entry, "metadata", (str, type(None)), "") or "",
            NO_TIMESTAMP)))

    def answer(r: Response) -> dict:
        assert isinstance(r, OffsetCommitResult)
        return {"error": int(r.error), "message": None if not r.error else r.error.name,
                "partitions": [{"topic": t, "partition": p, "error": int(e)} for (t, p), e in r.partitions]}

    refusal_parts = [{"topic": t, "partition": p} for (t, p), _ in offsets]
    return await ask(ctx, group_id, lambda rid: OffsetCommit(rid, member_id, generation, tuple(offsets), instance),
                     answer, partitions=refusal_parts)


async def offset_fetch(ctx: BrokerContext, body: dict) -> Reply:
    group_id = group_id_of(body)
    entries = get(body, "partitions", (list, type(None)), None)
    wanted = None if entries is None else tuple(_partition(e) if isinstance(e, dict) else _bad() for e in entries)

    def answer(r: Response) -> dict:
        assert isinstance(r, OffsetFetchResult)
        return {"error": int(r.error), "message": None, "partitions": [
            {"topic": t, "partition": p, "offset": o.offset, "leader_epoch": o.leader_epoch,
             "metadata": o.metadata, "error": 0} for (t, p), o in r.offsets]}

    return await ask(ctx, group_id, lambda rid: OffsetFetch(rid, wanted), answer, partitions=[])


def _bad() -> tuple[str, int]:
    raise MalformedRequest("every item of 'partitions' must be a map")
