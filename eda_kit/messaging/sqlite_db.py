"""Opening a service's SQLite database for the messaging tables, with errors that name the file.

The idempotency store and the inbox keep their tables *in the service's own database file*, so
that the service's change and the key (or the handled message id) can be committed in one
transaction. This module is the small part they share: open the file (WAL, a busy timeout),
start a write transaction, and turn the driver's errors into kit errors that say which file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..errors import InvalidType, InvalidValue, StorageError, StoreLocked

__all__ = ["open_database", "begin_write", "storage_error", "check_table"]

T = TypeVar("T")


def open_database(path: str | os.PathLike[str], *, timeout: float, what: str) -> sqlite3.Connection:
    """A connection to ``path`` in autocommit mode (we write BEGIN/COMMIT ourselves), WAL.

    ``what`` names the caller in errors ("idempotency store", "inbox"). A directory, a
    missing parent folder or a file that is not a database is refused, naming the path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidType(f"{what} path must be a str or a path, not {type(path).__name__}")
    name = os.fspath(path)
    if not isinstance(name, str):
        raise InvalidType(f"{what} path must be text, not {type(name).__name__}")
    if not name:
        # sqlite3 would open a private temporary file, deleted when it closes: nothing kept
        raise InvalidValue(f"the {what} needs a file path (or ':memory:'), not an empty string")
    if name != ":memory:":
        if os.path.isdir(name):
            raise InvalidValue(f"{what}: {name!r} is a directory; give a file path, e.g. 'shop.db'")
        parent = os.path.dirname(os.path.abspath(name))
        if not os.path.isdir(parent):
            raise InvalidValue(f"{what}: the folder {parent!r} for {name!r} does not exist")
    try:
        conn = sqlite3.connect(name, timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StorageError(f"{what}: cannot open {name!r}: {error}") from error
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if name != ":memory:":
            retry_while_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"), name, timeout)
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as error:
        conn.close()
        raise InvalidValue(f"{what}: {name!r} is not a usable SQLite database ({error})") from error
    except BaseException:
        conn.close()
        raise
    return conn


def retry_while_busy(action: Callable[[], T], path: str, timeout: float) -> T:
    """Run ``action``, retrying while another connection holds the lock (up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise locked(path, timeout) from error
            time.sleep(0.01)


def locked(path: str, timeout: float) -> StoreLocked:
    return StoreLocked(
        f"could not get the write lock on {path!r} within {timeout} s: another connection "
        "holds it (raise timeout= if that is expected)"
    )


def begin_write(conn: sqlite3.Connection, path: str, timeout: float) -> None:
    """``BEGIN IMMEDIATE``: take SQLite's write lock now, so check-then-write is one step."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise locked(path, timeout) from error
        raise storage_error(error, path) from error


def storage_error(error: sqlite3.Error, path: str) -> StorageError:
    return StorageError(f"SQLite failed on {path!r}: {error}")


def check_table(
    conn: sqlite3.Connection, table: str, columns: Iterable[str], path: str, what: str
) -> None:
    """Refuse a file whose ``table`` exists with other columns (another program's table)."""
    found: list[Any] = conn.execute(f"PRAGMA table_info({table})").fetchall()
    names = [row[1] for row in found]
    if names and names != list(columns):
        raise InvalidValue(
            f"{what}: {path!r} already has a table {table!r} with other columns "
            f"({', '.join(names)}): it belongs to another program or another version; "
            "use another file"
        )
