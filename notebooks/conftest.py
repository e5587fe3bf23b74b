"""nbval and notebook 08: skip it, saying why, when its servers can't be had here.

Notebook 08 needs PostgreSQL and RabbitMQ. It finds them, or starts throwaway ones from the
installed binaries (``eda_kit.services``); only when a server neither answers nor can be
started is there nothing to run, and then its cells are skipped with one line saying what is
missing. ``EDA_REQUIRE_SERVICES=1`` (CI) never skips: the notebook runs, and fails if a server
is missing.
"""

from __future__ import annotations

import os

import pytest

NEEDS_SERVERS = {"08_postgres_and_rabbitmq.ipynb"}


def missing_servers() -> str | None:
    """One line naming what notebook 08 lacks here, or None when it can run."""
    from eda_kit import services

    for kind in services.KINDS:
        if services.find(kind) is None and (problem := services.missing(kind)) is not None:
            return problem
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("EDA_REQUIRE_SERVICES") == "1":
        return
    needy = [item for item in items if item.path.name in NEEDS_SERVERS]
    reason = missing_servers() if needy else None
    if reason is not None:
        for item in needy:
            item.add_marker(pytest.mark.skip(reason=reason))
