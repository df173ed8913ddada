"""LeaveGroup (api key 13): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 13
NAME = "LeaveGroup"
VERSIONS = "0-5"
FLEXIBLE = "4+"

REQUEST = """
group_id string
member_id string 0-2
members []MemberIdentity 3+
  member_id string 3+
  group_instance_id string 3+ nullable=3+ default=null
  reason string 5+ nullable=5+ default=null
"""

RESPONSE = """
throttle_time_ms int32 1+
error_code int16
members []MemberResponse 3+
  member_id string 3+
  group_instance_id string 3+ nullable=3+
  error_code int16 3+
"""
