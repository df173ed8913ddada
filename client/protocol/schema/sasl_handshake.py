"""SaslHandshake (api key 17): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 17
NAME = "SaslHandshake"
VERSIONS = "0-1"
FLEXIBLE = "none"

REQUEST = """
mechanism string
"""

RESPONSE = """
error_code int16
mechanisms []string
"""
