"""Produce (api key 0): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 0
NAME = "Produce"
VERSIONS = "0-11"
FLEXIBLE = "9+"

REQUEST = """
transactional_id string 3+ nullable=3+ default=null
acks int16
timeout_ms int32
topic_data []TopicProduceData
  name string
  partition_data []PartitionProduceData
    index int32
    records records nullable=0+
"""

RESPONSE = """
responses []TopicProduceResponse
  name string
  partition_responses []PartitionProduceResponse
    index int32
    error_code int16
    base_offset int64
    log_append_time_ms int64 2+ default=-1
    log_start_offset int64 5+ default=-1
    record_errors []BatchIndexAndErrorMessage 8+
      batch_index int32 8+
      batch_index_error_message string 8+ nullable=8+ default=null
    error_message string 8+ nullable=8+ default=null
    current_leader LeaderIdAndEpoch 10+ tag=0
      leader_id int32 10+ default=-1
      leader_epoch int32 10+ default=-1
throttle_time_ms int32 1+
node_endpoints []NodeEndpoint 10+ tag=0
  node_id int32 10+
  host string 10+
  port int32 10+
  rack string 10+ nullable=10+ default=null
"""
