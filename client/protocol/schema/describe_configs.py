"""DescribeConfigs (api key 32): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 32
NAME = "DescribeConfigs"
VERSIONS = "0-4"
FLEXIBLE = "4+"

REQUEST = """
resources []DescribeConfigsResource
  resource_type int8
  resource_name string
  configuration_keys []string nullable=0+
include_synonyms bool 1+ default=false
include_documentation bool 3+ default=false
"""

RESPONSE = """
throttle_time_ms int32
results []DescribeConfigsResult
  error_code int16
  error_message string nullable=0+
  resource_type int8
  resource_name string
  configs []DescribeConfigsResourceResult
    name string
    value string nullable=0+
    read_only bool
    is_default bool 0
    config_source int8 1+ default=-1
    is_sensitive bool
    synonyms []DescribeConfigsSynonym 1+
      name string 1+
      value string 1+ nullable=0+
      source int8 1+
    config_type int8 3+
    documentation string 3+ nullable=0+
"""
