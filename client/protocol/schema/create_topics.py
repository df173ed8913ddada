"""CreateTopics (api key 19): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 19
NAME = "CreateTopics"
VERSIONS = "0-7"
FLEXIBLE = "5+"

REQUEST = """
topics []CreatableTopic
  name string
  num_partitions int32
  replication_factor int16
  assignments []CreatableReplicaAssignment
    partition_index int32
    broker_ids []int32
  configs []CreateableTopicConfig
    name string
    value string nullable=0+
timeout_ms int32 default=60000
validate_only bool 1+ default=false
"""

RESPONSE = """
throttle_time_ms int32 2+
topics []CreatableTopicResult
  name string
  topic_id uuid 7+
  error_code int16
  error_message string 1+ nullable=0+
  topic_config_error_code int16 5+ tag=0
  num_partitions int32 5+ default=-1
  replication_factor int16 5+ default=-1
  configs []CreatableTopicConfigs 5+ nullable=5+
    name string 5+
    value string 5+ nullable=5+
    read_only bool 5+
    config_source int8 5+ default=-1
    is_sensitive bool 5+
"""
