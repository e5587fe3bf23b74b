"""What the server tests share: which servers they use, when they skip, and private names.

- **Which servers.** ``EDA_POSTGRES_URL`` / ``EDA_AMQP_URL`` (defaults: the local servers of
  the developers' guide), else the throwaway servers ``make services`` recorded in
  ``.services/state.json`` (``eda_kit.services.find``).
- **When nothing answers** a test is skipped with one line saying what is missing and how to
  get it. With ``EDA_REQUIRE_SERVICES=1`` (set by ``.ci/run``) that skip is a failure instead,
  so CI can never pass by skipping.
- **Private names.** Other people run tests against the same servers at the same time, so every
  test works in its own PostgreSQL schema (``t_<pid>_<random>``) and its own RabbitMQ exchange
  and queue names, and removes them afterwards.
- **Throwaway servers** for the tests that stop, kill or restart a server: started by
  ``eda_kit.services`` on other ports, never the machine's own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from eda_kit import services

REQUIRED = os.environ.get("EDA_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it when the servers are required."""
    if REQUIRED:
        pytest.fail(f"{reason} (EDA_REQUIRE_SERVICES=1: server tests may not skip)", pytrace=False)
    pytest.skip(reason)


def require_client(kind: str) -> None:
    """Skip (or fail) unless the Python client for ``kind`` (psycopg, aio-pika) is installed."""
    module = "psycopg" if kind == "postgres" else "aio_pika"
    try:
        __import__(module)
    except ImportError:
        extra = "postgres" if kind == "postgres" else "rabbitmq"
        unavailable(f"{module} is not installed (pip install -e '.[{extra}]')")


def server_url(kind: str) -> str:
    """The URL of a ``"postgres"`` or ``"rabbitmq"`` server that answers (else skip/fail)."""
    require_client(kind)
    url = services.find(kind)
    if url is None:
        configured = os.environ.get(services.ENV[kind]) or services.DEFAULTS[kind]
        unavailable(
            f"{services.NAMES[kind]}: nothing answers at {configured} "
            f"(run `make services`, or set {services.ENV[kind]})"
        )
    return url  # type: ignore[return-value]


def unique_name(prefix: str = "t") -> str:
    """A name no other test run uses: ``t_<pid>_<8 hex digits>`` (a valid schema name)."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class PostgresStores:
    """Makes ``PostgresEventStore``\\ s in private schemas, and drops them all at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.schemas: list[str] = []
        self.stores: list[Any] = []

    def new_schema(self) -> str:
        schema = unique_name()
        self.schemas.append(schema)
        return schema

    def store(self, schema: str | None = None, **kwargs: Any) -> Any:
        from eda_kit.store.postgres import PostgresEventStore

        store = PostgresEventStore(self.url, schema=schema or self.new_schema(), **kwargs)
        self.stores.append(store)
        return store

    def cleanup(self) -> None:
        for store in self.stores:
            store.close()
        for schema in self.schemas:
            drop_schema(self.url, schema)


@contextmanager
def postgres_stores() -> Iterator[PostgresStores]:
    stores = PostgresStores(server_url("postgres"))
    try:
        yield stores
    finally:
        stores.cleanup()


def throwaway(kind: str) -> None:
    """Skip (or fail) unless a throwaway ``kind`` server can be started here."""
    require_client(kind)
    problem = services.missing(kind)
    if problem is not None:
        unavailable(problem)
