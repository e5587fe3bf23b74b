"""Fixtures shared by the library tests."""

from __future__ import annotations

import pytest

from eda_kit import InMemoryEventStore, SQLiteEventStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    """Each test that asks for ``store`` runs twice: in memory, and in a SQLite file.

    A test module that needs something else under that name defines its own fixture, which
    takes precedence over this one.
    """
    if request.param == "memory":
        store = InMemoryEventStore()
    else:
        store = SQLiteEventStore(tmp_path / "bank.db")
    yield store
    store.close()
