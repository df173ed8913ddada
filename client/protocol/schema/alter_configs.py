"""AlterConfigs (api key 33): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 33
NAME = "AlterConfigs"
VERSIONS = "0-2"
FLEXIBLE = "2+"

REQUEST = """
resources []AlterConfigsResource
  resource_type int8
  resource_name string
  configs []AlterableConfig
    name string
    value string nullable=0+
validate_only bool
"""

RESPONSE = """
throttle_time_ms int32
responses []AlterConfigsResourceResponse
  error_code int16
  error_message string nullable=0+
  resource_type int8
  resource_name string
"""
