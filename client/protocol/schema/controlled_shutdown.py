"""ControlledShutdown (api key 7): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 7
NAME = "ControlledShutdown"
VERSIONS = "0-3"
FLEXIBLE = "3+"

REQUEST = """
broker_id int32
broker_epoch int64 2+ default=-1
"""

RESPONSE = """
error_code int16
remaining_partitions []RemainingPartition
  topic_name string
  partition_index int32
"""
