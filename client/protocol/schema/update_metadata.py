"""UpdateMetadata (api key 6): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 6
NAME = "UpdateMetadata"
VERSIONS = "0-8"
FLEXIBLE = "6+"

REQUEST = """
controller_id int32
is_k_raft_controller bool 8+ default=false
type int8 8+ tag=0
controller_epoch int32
broker_epoch int64 5+ default=-1
ungrouped_partition_states []UpdateMetadataPartitionState 0-4
  topic_name string 0-4
  partition_index int32
  controller_epoch int32
  leader int32
  leader_epoch int32
  isr []int32
  zk_version int32
  replicas []int32
  offline_replicas []int32 4+
topic_states []UpdateMetadataTopicState 5+
  topic_name string 5+
  topic_id uuid 7+
  partition_states []UpdateMetadataPartitionState 5+
live_brokers []UpdateMetadataBroker
  id int32
  v0_host string 0
  v0_port int32 0
  endpoints []UpdateMetadataEndpoint 1+
    port int32 1+
    host string 1+
    listener string 3+
    security_protocol int16 1+
  rack string 2+ nullable=0+
"""

RESPONSE = """
error_code int16
"""
