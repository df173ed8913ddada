"""The producer: AsyncProducer (producer.py, public API), RecordAccumulator (accumulator.py,
batching), Sender (sender.py, the in-flight pipeline) and IdempotenceState (idempotence.py,
producer id and sequence numbers). Import from `client`."""
