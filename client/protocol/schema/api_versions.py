"""ApiVersions (api key 18): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 18
NAME = "ApiVersions"
VERSIONS = "0-3"
FLEXIBLE = "3+"

REQUEST = """
client_software_name string 3+
client_software_version string 3+
"""

RESPONSE = """
error_code int16
api_keys []ApiVersion
  api_key int16
  min_version int16
  max_version int16
throttle_time_ms int32 1+
supported_features []SupportedFeatureKey 3+ tag=0
  name string 3+
  min_version int16 3+
  max_version int16 3+
finalized_features_epoch int64 3+ tag=1 default=-1
finalized_features []FinalizedFeatureKey 3+ tag=2
  name string 3+
  max_version_level int16 3+
  min_version_level int16 3+
zk_migration_ready bool 3+ tag=3 default=false
"""
