"""Tooling, not production: start real servers on loopback for benchmarks and tests.

`launchers.coord_ensemble` runs our own coord ensemble as `python -m coord start` processes;
`launchers.zookeeper` runs Apache ZooKeeper (Debian's package) standalone or as an ensemble.
Their users are the test fixtures (tests/support/zookeeper.py) and the load tool
`pybroker perf coord` (broker/perf/coord.py, tooling too). broker, coord and client must
never import this package from a server's or a client's code path.
"""
