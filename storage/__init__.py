"""Storage primitives shared by coord and the broker: the seam every write and fsync passes.

coord's txn log, snapshots and epoch files and the broker's segments, indexes and
checkpoints both write through `storage.diskio`, so neither depends on the other for disk
I/O. This package must never import broker, coord or client, and never know a file format.
"""
