"""Faults of the machine under the storage engines: failed writes and fsyncs, full disks."""
