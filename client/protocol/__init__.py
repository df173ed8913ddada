"""Wire definitions shared by the client and the broker: framing, APIs, errors, batches.

Everything here is sans-I/O and imports nothing of pybroker's outside `client.protocol`,
so that the broker can use these definitions without depending on the client proper.
"""
