"""ListGroups (api key 16): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 16
NAME = "ListGroups"
VERSIONS = "0-5"
FLEXIBLE = "3+"

REQUEST = """
states_filter []string 4+
types_filter []string 5+
"""

RESPONSE = """
throttle_time_ms int32 1+
error_code int16
groups []ListedGroup
  group_id string
  protocol_type string
  group_state string 4+
  group_type string 5+
"""
