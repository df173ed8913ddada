"""DescribeGroups (api key 15): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 15
NAME = "DescribeGroups"
VERSIONS = "0-5"
FLEXIBLE = "5+"

REQUEST = """
groups []string
include_authorized_operations bool 3+
"""

RESPONSE = """
throttle_time_ms int32 1+
groups []DescribedGroup
  error_code int16
  group_id string
  group_state string
  protocol_type string
  protocol_data string
  members []DescribedGroupMember
    member_id string
    group_instance_id string 4+ nullable=4+ default=null
    client_id string
    client_host string
    member_metadata bytes
    member_assignment bytes
  authorized_operations int32 3+ default=-2147483648
"""
