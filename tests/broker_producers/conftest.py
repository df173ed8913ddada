"""Fixtures for the producer-state tests: the shared broker of tests/broker_server."""

from tests.broker_server.conftest import shared_node  # noqa: F401 - re-exported as a fixture of this folder
