"""AlterUserScramCredentials (api key 51, KIP-554): fields, types and versions, in our notation
(see schema/__init__.py)."""

KEY = 51
NAME = "AlterUserScramCredentials"
VERSIONS = "0"
FLEXIBLE = "0+"

REQUEST = """
deletions []ScramCredentialDeletion
  name string
  mechanism int8
upsertions []ScramCredentialUpsertion
  name string
  mechanism int8
  iterations int32
  salt bytes
  salted_password bytes
"""

RESPONSE = """
throttle_time_ms int32
results []AlterUserScramCredentialsResult
  user string
  error_code int16
  error_message string nullable=0+
"""
