"""The inbox: each message id handled once, atomically with the handler's change."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eda_kit import Event, EventBus
from eda_kit.errors import InvalidType, InvalidValue, NotJSON, SimulatedCrash, StoreClosed
from eda_kit.messaging import INBOX_CRASH_POINTS, InMemoryInbox, SQLiteInbox

ROOT = Path(__file__).resolve().parents[2]


def placed(n, id_=None):
    return Event("OrderPlaced", {"order_id": f"A{n}", "total": 10 * n}, id=id_ or f"evt-{n}")


# --- in memory ---------------------------------------------------------------------------------


def add_revenue(event, state):
    state["orders"] = state.get("orders", 0) + 1
    state["revenue"] = state.get("revenue", 0) + event.data["total"]


def test_a_duplicate_is_skipped():
    inbox = InMemoryInbox("reports")
    assert inbox.handle(placed(1), add_revenue) is True
    assert inbox.handle(placed(1), add_revenue) is False  # the same id again
    assert inbox.handle(placed(2), add_revenue) is True
    assert inbox.state == {"orders": 2, "revenue": 30}
    assert (inbox.handled, inbox.duplicates, len(inbox)) == (2, 1, 2)
    assert inbox.seen("evt-1") and not inbox.seen("evt-9")
    assert repr(inbox) == "<InMemoryInbox 'reports': 2 handled, 1 duplicates skipped>"


def test_a_failing_handler_changes_nothing_and_the_redelivery_runs_it():
    inbox = InMemoryInbox("reports", {"orders": 5})
    attempts = []

    def half_then_fail(event, state):
        attempts.append(event.id)
        state["orders"] += 1  # half the change...
        if len(attempts) == 1:
            raise KeyError("revenue")  # ...then it fails

    with pytest.raises(KeyError):
        inbox.handle(placed(1), half_then_fail)
    assert inbox.state == {"orders": 5} and not inbox.seen("evt-1")
    assert inbox.handle(placed(1), half_then_fail) is True
    assert inbox.state == {"orders": 6}


@pytest.mark.parametrize("point", INBOX_CRASH_POINTS)
def test_a_crash_keeps_both_or_neither(point):
    inbox = InMemoryInbox("reports", crash_at=point)
    with pytest.raises(SimulatedCrash):
        inbox.handle(placed(1), add_revenue)
    committed = point == "after_commit"
    assert inbox.seen("evt-1") is committed
    assert inbox.state == ({"orders": 1, "revenue": 10} if committed else {})


def test_state_must_stay_json():
    inbox = InMemoryInbox("reports")
    with pytest.raises(NotJSON, match=r"state\['when'\]"):
        inbox.handle(placed(1), lambda e, s: s.update(when=datetime(2026, 1, 1)))
    assert inbox.state == {} and not inbox.seen("evt-1")
    with pytest.raises(InvalidType):
        InMemoryInbox("reports", state=[1])
    with pytest.raises(InvalidValue, match="consumer"):
        InMemoryInbox("")
    with pytest.raises(InvalidType, match="handles Events"):
        inbox.handle({"id": "x"}, add_revenue)


def test_as_a_bus_subscriber_it_absorbs_redeliveries():
    inbox = InMemoryInbox("reports")
    bus = EventBus()
    bus.subscribe("OrderPlaced", inbox.subscriber(add_revenue), name="Reports")
    event = placed(1)
    bus.publish(event)
    bus.publish(event)  # at-least-once: the relay published it again after a crash
    assert inbox.state == {"orders": 1, "revenue": 10}


def test_purge_forgets_old_ids():
    clock = [datetime(2026, 1, 5, tzinfo=UTC)]
    inbox = InMemoryInbox("reports", clock=lambda: clock[0])
    inbox.handle(placed(1), add_revenue)
    clock[0] += timedelta(days=8)
    inbox.handle(placed(2), add_revenue)
    assert inbox.purge(timedelta(days=7)) == 1
    assert not inbox.seen("evt-1") and inbox.seen("evt-2")


# --- SQLite ------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "reports.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE revenue (order_id TEXT PRIMARY KEY, total INTEGER)")
    conn.commit()
    conn.close()
    return path


def record(event, conn):
    conn.execute("INSERT INTO revenue VALUES (?, ?)", (event.data["order_id"], event.data["total"]))


def revenue(path):
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT order_id, total FROM revenue ORDER BY order_id").fetchall()
    conn.close()
    return rows


def test_sqlite_inbox_skips_duplicates_across_restarts(db):
    with SQLiteInbox(db, "reports") as inbox:
        assert inbox.handle(placed(1), record) is True
        assert inbox.handle(placed(1), record) is False
    with SQLiteInbox(db, "reports") as restarted:
        assert restarted.handle(placed(1), record) is False
        assert restarted.handle(placed(2), record) is True
        assert len(restarted) == 2 and restarted.seen("evt-2")
    with SQLiteInbox(db, "audit") as other:  # another consumer has its own memory
        assert other.handle(placed(1), lambda e, conn: None) is True
    assert revenue(db) == [("A1", 10), ("A2", 20)]


def test_sqlite_inbox_rolls_back_a_failed_handler(db):
    with SQLiteInbox(db, "reports") as inbox:

        def insert_then_fail(event, conn):
            record(event, conn)
            raise RuntimeError("downstream unavailable")

        with pytest.raises(RuntimeError):
            inbox.handle(placed(1), insert_then_fail)
        assert revenue(db) == [] and not inbox.seen("evt-1")
        assert inbox.handle(placed(1), record) is True
    assert revenue(db) == [("A1", 10)]


@pytest.mark.parametrize("point", INBOX_CRASH_POINTS)
def test_sqlite_inbox_crash_keeps_both_or_neither(db, point):
    with SQLiteInbox(db, "reports", crash_at=point) as inbox:
        with pytest.raises(SimulatedCrash):
            inbox.handle(placed(1), record)
    committed = point == "after_commit"
    assert revenue(db) == ([("A1", 10)] if committed else [])
    with SQLiteInbox(db, "reports") as restarted:
        assert restarted.handle(placed(1), record) is (not committed)
    assert revenue(db) == [("A1", 10)]


def test_sqlite_inbox_refuses_a_handler_that_commits(db):
    with SQLiteInbox(db, "reports") as inbox:

        def commits(event, conn):
            record(event, conn)
            conn.execute("COMMIT")

        with pytest.raises(InvalidValue, match="ended the transaction itself"):
            inbox.handle(placed(1), commits)


def test_sqlite_inbox_kill_9_inside_the_transaction(db):
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from eda_kit import Event\n"
            "from eda_kit.messaging import SQLiteInbox\n"
            "inbox = SQLiteInbox(sys.argv[1], 'reports', crash_at='after_handler', "
            "hard_crash=True)\n"
            "e = Event('OrderPlaced', {'order_id': 'A1', 'total': 10}, id='evt-1')\n"
            "inbox.handle(e, lambda ev, c: c.execute(\"INSERT INTO revenue VALUES ('A1', 10)\"))\n"
            "print('not reached')\n",
            str(db),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -9 and child.stdout == ""
    assert revenue(db) == []
    with SQLiteInbox(db, "reports") as inbox:
        assert not inbox.seen("evt-1")
        assert inbox.handle(placed(1), record) is True
    assert revenue(db) == [("A1", 10)]


def test_sqlite_inbox_bad_input(tmp_path, db):
    with pytest.raises(InvalidValue, match="is a directory"):
        SQLiteInbox(tmp_path, "reports")
    with pytest.raises(InvalidValue, match="needs a file path"):
        SQLiteInbox("", "reports")  # sqlite3 would make a private temporary file: lost at once
    with pytest.raises(InvalidValue, match="lone surrogate"):
        SQLiteInbox(db, "reports-\ud800")
    with pytest.raises(InvalidValue, match="no crash point"):
        SQLiteInbox(db, "reports", crash_at="later")
    inbox = SQLiteInbox(db, "reports")
    inbox.close()
    with pytest.raises(StoreClosed, match="closed"):
        inbox.handle(placed(1), record)


def test_sqlite_purge(db):
    clock = [datetime(2026, 1, 5, tzinfo=UTC)]
    with SQLiteInbox(db, "reports", clock=lambda: clock[0]) as inbox:
        inbox.handle(placed(1), record)
        clock[0] += timedelta(days=8)
        inbox.handle(placed(2), record)
        assert inbox.purge(7 * 24 * 3600) == 1
        assert not inbox.seen("evt-1") and inbox.seen("evt-2")
