"""The load code behind `pybroker perf ...` (its arguments: broker/cli/perf.py).

Tooling, not production: one module per thing measured (client produce/consume/e2e,
coord, log, group, records). Nothing on a server's or a client's code path imports it.
"""
