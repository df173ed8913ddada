"""OffsetCommitKey, OffsetCommitValue, GroupMetadataKey, GroupMetadataValue: versioned structs inside
other payloads, in our notation (see schema/__init__.py)."""

OFFSET_COMMIT_KEY = (
    "OffsetCommitKey",
    "0-1",
    "none",
    """
group string 0-1
topic string 0-1
partition int32 0-1
""",
)

OFFSET_COMMIT_VALUE = (
    "OffsetCommitValue",
    "0-4",
    "4+",
    """
offset int64
leader_epoch int32 3+ default=-1
metadata string
commit_timestamp int64
expire_timestamp int64 1 default=-1
""",
)

GROUP_METADATA_KEY = (
    "GroupMetadataKey",
    "2",
    "none",
    """
group string 2
""",
)

GROUP_METADATA_VALUE = (
    "GroupMetadataValue",
    "0-4",
    "4+",
    """
protocol_type string
generation int32
protocol string nullable=0+
leader string nullable=0+
current_state_timestamp int64 2+ default=-1
members []MemberMetadata
  member_id string
  group_instance_id string 3+ nullable=3+ default=null
  client_id string
  client_host string
  rebalance_timeout int32 1+ default=-1
  session_timeout int32
  subscription bytes
  assignment bytes
""",
)
