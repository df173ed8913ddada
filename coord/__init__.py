"""A ZooKeeper-compatible coordination service: data tree, sessions, watches, quorum, client.

coord imports nothing from `broker`, `client` or `launchers` (of ours, only the neutral
`storage` package, for its writes and fsyncs): it is a service the broker uses, exactly as
Kafka used ZooKeeper, and it must stay usable (and testable) on its own.
"""
