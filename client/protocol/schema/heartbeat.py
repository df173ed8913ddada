"""Heartbeat (api key 12): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 12
NAME = "Heartbeat"
VERSIONS = "0-4"
FLEXIBLE = "4+"

REQUEST = """
group_id string
generation_id int32
member_id string
group_instance_id string 3+ nullable=3+ default=null
"""

RESPONSE = """
throttle_time_ms int32 1+
error_code int16
"""
