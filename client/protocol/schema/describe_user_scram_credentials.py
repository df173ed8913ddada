"""DescribeUserScramCredentials (api key 50, KIP-554): fields, types and versions, in our notation
(see schema/__init__.py)."""

KEY = 50
NAME = "DescribeUserScramCredentials"
VERSIONS = "0"
FLEXIBLE = "0+"

REQUEST = """
users []UserName nullable=0+
  name string
"""

RESPONSE = """
throttle_time_ms int32
error_code int16
error_message string nullable=0+
results []DescribeUserScramCredentialsResult
  user string
  error_code int16
  error_message string nullable=0+
  credential_infos []CredentialInfo
    mechanism int8
    iterations int32
"""
