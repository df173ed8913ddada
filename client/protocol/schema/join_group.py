"""JoinGroup (api key 11): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 11
NAME = "JoinGroup"
VERSIONS = "0-9"
FLEXIBLE = "6+"

REQUEST = """
group_id string
session_timeout_ms int32
rebalance_timeout_ms int32 1+ default=-1
member_id string
group_instance_id string 5+ nullable=5+ default=null
protocol_type string
protocols []JoinGroupRequestProtocol
  name string
  metadata bytes
reason string 8+ nullable=8+ default=null
"""

RESPONSE = """
throttle_time_ms int32 2+
error_code int16
generation_id int32 default=-1
protocol_type string 7+ nullable=7+ default=null
protocol_name string nullable=7+
leader string
skip_assignment bool 9+ default=false
member_id string
members []JoinGroupResponseMember
  member_id string
  group_instance_id string 5+ nullable=5+ default=null
  metadata bytes
"""
