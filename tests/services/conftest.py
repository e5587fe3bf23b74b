"""Fixtures of the server tests (see support.py for the rules they follow)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from eda_kit import services
from tests.services.support import PostgresStores, postgres_stores, server_url, throwaway


@pytest.fixture
def postgres_url() -> str:
    return server_url("postgres")


@pytest.fixture
def amqp_url() -> str:
    return server_url("rabbitmq")


@pytest.fixture
def pg() -> Iterator[PostgresStores]:
    """Stores in private schemas of the shared PostgreSQL; dropped after the test."""
    with postgres_stores() as stores:
        yield stores


@pytest.fixture(scope="module")
def throwaway_postgres() -> Iterator[services.PostgresServer]:
    """A PostgreSQL of our own, on another port, that a test may stop, crash and restart."""
    throwaway("postgres")
    with tempfile.TemporaryDirectory(prefix="eda-pg-") as folder:
        server = services.PostgresServer.create(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
            server.remove()  # its folder, and /tmp/eda_kit-services once empty (as root)


@pytest.fixture(scope="module")
def throwaway_rabbitmq() -> Iterator[services.RabbitMQServer]:
    """A RabbitMQ node of our own, on other ports, that a test may stop, kill and restart."""
    throwaway("rabbitmq")
    with tempfile.TemporaryDirectory(prefix="eda-mq-") as folder:
        server = services.RabbitMQServer.create(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()
