"""ConsumerProtocolSubscription, ConsumerProtocolAssignment: versioned structs inside other payloads,
in our notation (see schema/__init__.py)."""

CONSUMER_PROTOCOL_SUBSCRIPTION = (
    "ConsumerProtocolSubscription",
    "0-3",
    "none",
    """
topics []string
user_data bytes nullable=0+ default=null
owned_partitions []TopicPartition 1+
  topic string 1+
  partitions []int32 1+
generation_id int32 2+ default=-1
rack_id string 3+ nullable=3+ default=null
""",
)

CONSUMER_PROTOCOL_ASSIGNMENT = (
    "ConsumerProtocolAssignment",
    "0-3",
    "none",
    """
assigned_partitions []TopicPartition
  topic string
  partitions []int32
user_data bytes nullable=0+ default=null
""",
)
