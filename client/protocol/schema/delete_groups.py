"""DeleteGroups (api key 42): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 42
NAME = "DeleteGroups"
VERSIONS = "0-2"
FLEXIBLE = "2+"

REQUEST = """
groups_names []string
"""

RESPONSE = """
throttle_time_ms int32
results []DeletableGroupResult
  group_id string
  error_code int16
"""
