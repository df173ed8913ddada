"""SyncGroup (api key 14): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 14
NAME = "SyncGroup"
VERSIONS = "0-5"
FLEXIBLE = "4+"

REQUEST = """
group_id string
generation_id int32
member_id string
group_instance_id string 3+ nullable=3+ default=null
protocol_type string 5+ nullable=5+ default=null
protocol_name string 5+ nullable=5+ default=null
assignments []SyncGroupRequestAssignment
  member_id string
  assignment bytes
"""

RESPONSE = """
throttle_time_ms int32 1+
error_code int16
protocol_type string 5+ nullable=5+ default=null
protocol_name string 5+ nullable=5+ default=null
assignment bytes
"""
