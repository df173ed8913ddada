"""StopReplica (api key 5): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 5
NAME = "StopReplica"
VERSIONS = "0-4"
FLEXIBLE = "2+"

REQUEST = """
controller_id int32
is_k_raft_controller bool 4+ default=false
controller_epoch int32
broker_epoch int64 1+ default=-1
delete_partitions bool 0-2
ungrouped_partitions []StopReplicaPartitionV0 0
  topic_name string 0
  partition_index int32 0
topics []StopReplicaTopicV1 1-2
  name string 1-2
  partition_indexes []int32 1-2
topic_states []StopReplicaTopicState 3+
  topic_name string 3+
  partition_states []StopReplicaPartitionState 3+
    partition_index int32 3+
    leader_epoch int32 3+ default=-1
    delete_partition bool 3+
"""

RESPONSE = """
error_code int16
partition_errors []StopReplicaPartitionError
  topic_name string
  partition_index int32
  error_code int16
"""
