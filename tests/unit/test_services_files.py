"""A throwaway PostgreSQL leaves no files behind: its folder, and the shared temporary one.

As root, the servers live under ``<tmp>/eda_kit-services/`` (the service user can't reach a
folder under /root); the last server removed takes that folder with it.
"""

from __future__ import annotations

import tempfile

import pytest

from eda_kit.services import PostgresServer


def test_the_last_server_removed_takes_the_shared_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / "eda_kit-services"
    first = PostgresServer(shared / "postgres-5001", 5001)
    second = PostgresServer(shared / "postgres-5002", 5002)
    for server in (first, second):
        (server.directory / "data").mkdir(parents=True)
        (server.directory / "server.log").write_text("log")
    first.remove()
    assert not first.directory.exists() and second.directory.exists()  # the other one stays
    second.remove()
    assert not shared.exists()
    second.remove()  # twice: nothing left to do, no error


def test_a_project_folder_is_never_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "elsewhere"))
    root = tmp_path / ".services"
    server = PostgresServer(root / "postgres-5003", 5003)
    (server.directory / "data").mkdir(parents=True)
    server.remove()
    assert not server.directory.exists() and root.is_dir()


def test_ensure_names_every_missing_server_in_one_line_and_starts_nothing(monkeypatch):
    from eda_kit import services
    from eda_kit.errors import ServicesUnavailable

    monkeypatch.setattr(services, "find", lambda kind, root=None: None)
    monkeypatch.setattr(services, "missing", lambda kind: f"{services.NAMES[kind]}: install it")
    started = []
    monkeypatch.setattr(services, "start", lambda kind, root=None: started.append(kind))
    with pytest.raises(ServicesUnavailable) as raised:
        services.ensure()
    assert str(raised.value) == "PostgreSQL: install it | RabbitMQ: install it"
    assert raised.value._render_traceback_() == [
        "ServicesUnavailable: PostgreSQL: install it | RabbitMQ: install it"
    ]  # how IPython shows it: one line, no traceback
    assert started == []


def test_ensure_says_which_throwaway_servers_it_started_and_how_to_stop_them(monkeypatch):
    from eda_kit import services

    found = {"postgres": "postgresql://postgres@127.0.0.1:5432/test", "rabbitmq": None}
    monkeypatch.setattr(services, "find", lambda kind, root=None: found[kind])
    monkeypatch.setattr(services, "missing", lambda kind: None)
    monkeypatch.setattr(
        services, "start", lambda kind, root=None: "amqp://guest:guest@127.0.0.1:40001/"
    )
    servers = services.ensure()
    assert servers.amqp == "amqp://guest:guest@127.0.0.1:40001/"
    assert "started throwaway RabbitMQ at amqp://" in str(servers)
    assert "make services-stop" in str(servers)
    found["rabbitmq"] = "amqp://guest:guest@127.0.0.1:5672/"
    assert str(services.ensure()) == "PostgreSQL and RabbitMQ answer."
