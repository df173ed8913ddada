"""InitProducerId (api key 22): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 22
NAME = "InitProducerId"
VERSIONS = "0-5"
FLEXIBLE = "2+"

REQUEST = """
transactional_id string nullable=0+
transaction_timeout_ms int32
producer_id int64 3+ default=-1
producer_epoch int16 3+ default=-1
"""

RESPONSE = """
throttle_time_ms int32
error_code int16
producer_id int64 default=-1
producer_epoch int16
"""
