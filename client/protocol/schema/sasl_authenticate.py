"""SaslAuthenticate (api key 36): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 36
NAME = "SaslAuthenticate"
VERSIONS = "0-2"
FLEXIBLE = "2+"

REQUEST = """
auth_bytes bytes
"""

RESPONSE = """
error_code int16
error_message string nullable=0+
auth_bytes bytes
session_lifetime_ms int64 1+
"""
