"""ElectLeaders (api key 43): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 43
NAME = "ElectLeaders"
VERSIONS = "0-2"
FLEXIBLE = "2+"

REQUEST = """
election_type int8 1+
topic_partitions []TopicPartitions nullable=0+
  topic string
  partitions []int32
timeout_ms int32 default=60000
"""

RESPONSE = """
throttle_time_ms int32
error_code int16 1+
replica_election_results []ReplicaElectionResult
  topic string
  partition_result []PartitionResult
    partition_id int32
    error_code int16
    error_message string nullable=0+
"""
