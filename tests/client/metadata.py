"""Typed MetadataResponse answers for tests of the client's metadata cache, built concisely."""

from __future__ import annotations

from client.protocol import messages as m

R = m.MetadataResponse
Partition = tuple[int, int, int, list[int], list[int]]  # index, leader, leader epoch, replicas, isr


def metadata_response(
    brokers: dict[int, tuple[str, int]],
    topics: dict[str, list[Partition]] | None = None,
    errors: dict[str, int] | None = None,
    controller_id: int = -1,
    cluster_id: str | None = None,
) -> R:
    """Brokers by id -> (host, port); topics -> their partitions; errors: topics refused with a code."""
    return R(
        cluster_id=cluster_id,
        controller_id=controller_id,
        brokers=[R.MetadataResponseBroker(node_id=i, host=host, port=port) for i, (host, port) in brokers.items()],
        topics=[
            *(
                R.MetadataResponseTopic(
                    name=name,
                    partitions=[
                        R.MetadataResponsePartition(
                            partition_index=p,
                            leader_id=leader,
                            leader_epoch=epoch,
                            replica_nodes=replicas,
                            isr_nodes=isr,
                        )
                        for p, leader, epoch, replicas, isr in parts
                    ],
                )
                for name, parts in (topics or {}).items()
            ),
            *(R.MetadataResponseTopic(name=name, error_code=code) for name, code in (errors or {}).items()),
        ],
    )
