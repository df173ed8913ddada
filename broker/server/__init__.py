"""The broker server: TCP connections, request handlers, partitions and their logs."""
