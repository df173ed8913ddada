"""CreatePartitions (api key 37): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 37
NAME = "CreatePartitions"
VERSIONS = "0-3"
FLEXIBLE = "2+"

REQUEST = """
topics []CreatePartitionsTopic
  name string
  count int32
  assignments []CreatePartitionsAssignment nullable=0+
    broker_ids []int32
timeout_ms int32
validate_only bool
"""

RESPONSE = """
throttle_time_ms int32
results []CreatePartitionsTopicResult
  name string
  error_code int16
  error_message string nullable=0+ default=null
"""
