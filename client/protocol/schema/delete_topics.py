"""DeleteTopics (api key 20): fields, types and versions, in our notation (see schema/__init__.py)."""

KEY = 20
NAME = "DeleteTopics"
VERSIONS = "0-6"
FLEXIBLE = "4+"

REQUEST = """
topics []DeleteTopicState 6+
  name string 6+ nullable=6+ default=null
  topic_id uuid 6+
topic_names []string 0-5
timeout_ms int32
"""

RESPONSE = """
throttle_time_ms int32 1+
responses []DeletableTopicResult
  name string nullable=6+
  topic_id uuid 6+
  error_code int16
  error_message string 5+ nullable=5+ default=null
"""
