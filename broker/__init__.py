"""pybroker's log broker: storage, replication, controller, groups, server and CLI.

The broker depends on `coord` (through its client) and on `client` only for shared wire
definitions; nothing in `coord` or `client` may import from here.
"""

__version__ = "0.1.0"
