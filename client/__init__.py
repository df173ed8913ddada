"""The Python client for pybroker: producer, consumer and admin, asyncio first.

client imports nothing from `broker` or `coord`: applications install and use it alone.
"""
