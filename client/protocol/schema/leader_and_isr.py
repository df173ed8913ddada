"""LeaderAndIsr (api key 4): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 4
NAME = "LeaderAndIsr"
VERSIONS = "0-7"
FLEXIBLE = "4+"

REQUEST = """
controller_id int32
is_k_raft_controller bool 7+ default=false
controller_epoch int32
broker_epoch int64 2+ default=-1
type int8 5+
ungrouped_partition_states []LeaderAndIsrPartitionState 0-1
  topic_name string 0-1
  partition_index int32
  controller_epoch int32
  leader int32
  leader_epoch int32
  isr []int32
  partition_epoch int32
  replicas []int32
  adding_replicas []int32 3+
  removing_replicas []int32 3+
  is_new bool 1+ default=false
  leader_recovery_state int8 6+
topic_states []LeaderAndIsrTopicState 2+
  topic_name string 2+
  topic_id uuid 5+
  partition_states []LeaderAndIsrPartitionState 2+
live_leaders []LeaderAndIsrLiveLeader
  broker_id int32
  host_name string
  port int32
"""

RESPONSE = """
error_code int16
partition_errors []LeaderAndIsrPartitionError 0-4
  topic_name string 0-4
  partition_index int32
  error_code int16
topics []LeaderAndIsrTopicError 5+
  topic_id uuid 5+
  partition_errors []LeaderAndIsrPartitionError 5+
"""
