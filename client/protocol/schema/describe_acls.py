"""DescribeAcls (api key 29): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 29
NAME = "DescribeAcls"
VERSIONS = "0-3"
FLEXIBLE = "2+"

REQUEST = """
resource_type_filter int8
resource_name_filter string nullable=0+
pattern_type_filter int8 1+ default=3
principal_filter string nullable=0+
host_filter string nullable=0+
operation int8
permission_type int8
"""

RESPONSE = """
throttle_time_ms int32
error_code int16
error_message string nullable=0+
resources []DescribeAclsResource
  resource_type int8
  resource_name string
  pattern_type int8 1+ default=3
  acls []AclDescription
    principal string
    host string
    operation int8
    permission_type int8
"""
