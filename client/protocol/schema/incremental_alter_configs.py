"""IncrementalAlterConfigs (api key 44): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 44
NAME = "IncrementalAlterConfigs"
VERSIONS = "0-1"
FLEXIBLE = "1+"

REQUEST = """
resources []AlterConfigsResource
  resource_type int8
  resource_name string
  configs []AlterableConfig
    name string
    config_operation int8
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
