"""Fixtures for the broker's tests against a secured coord: coord_security's PKI and JAAS file."""

from tests.coord_security.conftest import jaas_file, pki  # noqa: F401 - re-exported as fixtures of this folder
