"""QA regression tests reuse the client tests' fixtures: a real `pybroker start` node and fresh topics."""

from tests.client.conftest import bootstrap, new_topic  # noqa: F401  (fixtures reused here)
from tests.broker_server.conftest import Node, node, shared_node  # noqa: F401
from tests.coord_server.conftest import real_zookeeper, shared_coord  # noqa: F401
