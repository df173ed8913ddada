"""The producer: AsyncProducer (producer.py, public API), RecordAccumulator (accumulator.py,
batching) and Sender (sender.py, the in-flight pipeline). Import from `client`."""
