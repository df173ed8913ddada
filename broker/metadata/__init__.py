"""Cluster metadata kept in coord: znode layout (Kafka's), the broker's cache, the controller."""
