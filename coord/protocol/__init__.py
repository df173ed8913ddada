"""ZooKeeper 3.8 client wire protocol: jute primitives, records, opcodes, errors, framing.

Shared by our coord server and our coord client, so both speak exactly the bytes the
real ZooKeeper and its clients speak. Pure data in, bytes out: nothing in this package
may touch a socket, a clock or a file.
"""
