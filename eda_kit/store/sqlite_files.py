"""Opening SQLite files safely: the checks both the event store and the read models make.

A path given to ``SQLiteEventStore`` or ``SQLiteReadModel`` can be wrong in ways SQLite reports
badly or not at all:

- a folder, or a file in a folder that does not exist: SQLite says only "unable to open
  database file". :func:`check_database_path` names the path and the problem first.
- another program's database: SQLite opens it happily, and a store that then switched it to WAL
  and added its tables would have changed a file it does not own. :func:`inspect_database`
  looks at the file *read-only* first (its header's ``application_id`` and ``user_version``,
  and its tables), so the caller can refuse it untouched.
- a driver error later on (a full disk, a file deleted underneath, another process holding the
  lock): :func:`storage_error` turns ``sqlite3``'s errors into the kit's ``StorageError`` /
  ``StoreLocked``, naming the file (and the stream), with the driver's error kept as
  ``__cause__``.

Each kind of file the kit writes stamps its own ``application_id`` in the SQLite header (the
field SQLite reserves for exactly this: "which program's file is this?"), so it is recognised
on the next open.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from dataclasses import dataclass

from ..errors import InvalidValue, StorageError, StoreLocked

__all__ = ["DatabaseFile", "check_database_path", "inspect_database", "storage_error", "is_busy"]


def check_database_path(path: str, what: str) -> str:
    """``path`` if a database file can be created or opened there, else a clear error.

    ``what`` names the thing being opened ("event store", "read model") in the message.
    ``":memory:"`` (a private in-memory database) is always fine.
    """
    if path == ":memory:":
        return path
    if not path:
        raise InvalidValue(f"the {what} needs a file path (or ':memory:'), not an empty string")
    if os.path.isdir(path):
        raise InvalidValue(
            f"{path!r} is a folder, not a file: give the {what} a file path such as "
            f"{os.path.join(path, 'events.db' if what == 'event store' else 'read_model.db')!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidValue(
            f"can't create the {what} {path!r}: the folder {folder!r} does not exist "
            "(create it first, e.g. with os.makedirs)"
        )
    return path


@dataclass(frozen=True)
class DatabaseFile:
    """What a look at an existing SQLite file found (nothing in it was changed)."""

    application_id: int
    user_version: int
    tables: frozenset[str]  # the tables a program made (SQLite's own sqlite_* left out)

    @property
    def empty(self) -> bool:
        return not self.tables and self.application_id == 0 and self.user_version == 0


def inspect_database(path: str, what: str) -> DatabaseFile | None:
    """Look inside ``path`` read-only: ``None`` if there is no file yet (or it is empty).

    Raises ``InvalidValue`` naming the file when it is not a SQLite database at all, and
    ``StorageError`` when it can't be read.
    """
    if path == ":memory:" or not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise storage_error(error, path, f"opening the {what}") from error
    try:
        return describe_database(conn)
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error) or "encrypted" in str(error):
            raise InvalidValue(
                f"{path!r} is not a usable eda_kit {what} ({error}); it was left untouched"
            ) from error
        raise storage_error(error, path, f"reading the {what}") from error
    finally:
        conn.close()


def describe_database(conn: sqlite3.Connection) -> DatabaseFile:
    """The header fields and tables of the database behind ``conn``."""
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = frozenset(
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    )
    return DatabaseFile(application_id, user_version, tables)


def is_busy(error: sqlite3.Error) -> bool:
    """Did SQLite give up waiting for another connection's lock?"""
    text = str(error)
    return "locked" in text or "busy" in text


def storage_error(
    error: sqlite3.Error, path: str, doing: str, stream_id: str | None = None
) -> StorageError:
    """A driver error as the kit's error: ``StoreLocked`` for a lock held too long, else
    ``StorageError``, naming what was being done, the file and (if any) the stream.

    Raise it ``from error`` so the driver's error stays attached as ``__cause__``.
    """
    where = f"{path!r}" + (f" (stream {stream_id!r})" if stream_id is not None else "")
    if is_busy(error):
        return StoreLocked(
            f"{doing} {where}: another connection held the database's lock for too long "
            f"({error}); raise timeout= if that is expected"
        )
    return StorageError(f"{doing} {where} failed: {type(error).__name__}: {error}")
