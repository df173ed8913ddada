"""QA regression tests: the coord server fixtures of tests/coord_server (node, shared_node and
new_topic come from tests/conftest.py)."""

from tests.coord_server.conftest import real_zookeeper, shared_coord  # noqa: F401
