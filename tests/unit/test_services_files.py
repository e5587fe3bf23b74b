"""A throwaway PostgreSQL leaves no files behind: its folder, and the shared temporary one.

As root, the servers live under ``<tmp>/eda_kit-services/`` (the service user can't reach a
folder under /root); the last server removed takes that folder with it.
"""

from __future__ import annotations

import tempfile

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
