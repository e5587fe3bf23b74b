"""The outbox relay: nothing lost, in order per stream, at least once, across crashes.

The crash tests kill a real process (``kill -9``, via the crash switch's ``hard=True``) at
every point of the relay and of the inbox, then restart in a fresh process, and check that
the consumer applied every stored event exactly once, in order per stream.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from eda_kit import Event, EventBus, InMemoryEventStore, SQLiteEventStore
from eda_kit.errors import InvalidType, InvalidValue, RelayStalled, SimulatedCrash
from eda_kit.messaging import (
    INBOX_CRASH_POINTS,
    RELAY_CRASH_POINTS,
    CrashSwitch,
    InMemoryInbox,
    OutboxSource,
    Publisher,
    Relay,
)

ROOT = Path(__file__).resolve().parents[2]


def fill(store, n=5):
    for i in range(1, n + 1):
        stream = "order-A" if i % 2 else "order-B"
        store.append(stream, Event("OrderNoted", {"n": i}))


class Recorder:
    def __init__(self):
        self.seen = []

    def publish(self, event):
        self.seen.append(event.data["n"])


def test_the_relay_publishes_everything_in_order_and_keeps_its_position():
    store = InMemoryEventStore()
    fill(store)
    target = Recorder()
    relay = Relay(store, target, name="r", batch_size=2)
    assert isinstance(store, OutboxSource) and isinstance(EventBus(), Publisher)
    assert [e.data["n"] for e in relay.pending()] == [1, 2, 3, 4, 5]
    assert relay.run() == 5
    assert target.seen == [1, 2, 3, 4, 5]
    assert relay.position == 5 == store.load_checkpoint("r")
    assert relay.run() == 0
    store.append("order-C", Event("OrderNoted", {"n": 6}))
    assert relay.run() == 1 and target.seen[-1] == 6
    assert repr(relay) == "<Relay 'r' at position 6: 6 published>"


def test_limit_and_select():
    store = InMemoryEventStore()
    fill(store)
    target = Recorder()
    relay = Relay(store, target, name="r", select=lambda e: e.stream_id == "order-A")
    assert relay.run(limit=2) == 2 and target.seen == [1, 3]
    assert relay.run() == 1 and target.seen == [1, 3, 5]
    assert relay.position == 5  # passed over order-B's events, not stuck on them


def test_a_failing_target_stalls_the_relay_at_that_event_and_skips_nothing():
    store = InMemoryEventStore()
    fill(store)

    class Flaky(Recorder):
        down = True

        def publish(self, event):
            if event.data["n"] == 3 and self.down:
                raise ConnectionError("broker unreachable")
            super().publish(event)

    target = Flaky()
    relay = Relay(store, target, name="r")
    with pytest.raises(RelayStalled) as stalled:
        relay.run()
    assert str(stalled.value) == (
        "relay 'r' could not publish position 3 (OrderNoted in stream 'order-A'): "
        "ConnectionError: broker unreachable. Its position did not move: the next run() "
        "publishes this event first."
    )
    assert isinstance(stalled.value.__cause__, ConnectionError)
    assert relay.position == 2 and target.seen == [1, 2]
    target.down = False
    assert relay.run() == 3 and target.seen == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("point", RELAY_CRASH_POINTS)
def test_a_crash_at_any_point_loses_nothing(point):
    store = InMemoryEventStore()
    fill(store)
    target = Recorder()
    with pytest.raises(SimulatedCrash, match=point):
        Relay(store, target, name="r", crash_at=point, crash_skip=1).run()
    Relay(store, target, name="r").run()  # "restarted"
    assert sorted(set(target.seen)) == [1, 2, 3, 4, 5]
    duplicates = len(target.seen) - 5
    assert duplicates == (1 if point == "after_publish" else 0)
    assert target.seen == sorted(target.seen)  # still in order


def test_bad_arguments_are_refused():
    store = InMemoryEventStore()
    with pytest.raises(InvalidType, match="no read_all"):
        Relay(object(), EventBus())
    with pytest.raises(InvalidType, match="publish"):
        Relay(store, object())
    with pytest.raises(InvalidValue, match="no crash point 'after_lunch'"):
        Relay(store, EventBus(), crash_at="after_lunch")
    with pytest.raises(InvalidValue, match="batch_size"):
        Relay(store, EventBus(), batch_size=0)
    with pytest.raises(InvalidValue, match="name"):
        Relay(store, EventBus(), name=" ")
    with pytest.raises(InvalidValue, match="limit"):
        Relay(store, EventBus()).run(limit=-1)


def test_the_crash_switch():
    switch = CrashSwitch("after_publish", skip=1)
    switch.reached("before_publish")
    switch.reached("after_publish")  # skipped once
    with pytest.raises(SimulatedCrash, match="crashed at 'after_publish'"):
        switch.reached("after_publish")
    switch.reached("after_publish")  # spent
    assert repr(switch) == "CrashSwitch('after_publish', fired)"
    assert repr(CrashSwitch()) == "CrashSwitch(off)"
    for bad in ({"at": ""}, {"skip": -1}, {"hard": 1}):
        with pytest.raises((InvalidValue, InvalidType)):
            CrashSwitch(**{"at": "x", **bad})


# --- the whole path, with kill -9 between every step, in fresh processes -----------------------

PIPELINE = r"""
import sys
from eda_kit import EventBus
from eda_kit.store import SQLiteEventStore
from eda_kit.messaging import Relay, SQLiteInbox

events_db, consumer_db, relay_crash, inbox_crash, skip = sys.argv[1:6]
skip = int(skip)
store = SQLiteEventStore(events_db)
inbox = SQLiteInbox(consumer_db, "shipping", crash_at=inbox_crash or None, crash_skip=skip,
                    hard_crash=True)

def ship(event, conn):                 # the consumer's change, in the inbox's transaction
    conn.execute("INSERT INTO shipped (stream_id, n) VALUES (?, ?)",
                 (event.stream_id, event.data["n"]))

bus = EventBus()
bus.subscribe("#", inbox.subscriber(ship), name="Shipping")
relay = Relay(store, bus, name="to-shipping", batch_size=2, crash_at=relay_crash or None,
              crash_skip=skip, hard_crash=True)
published = relay.run()
print(f"published {published}, handled {inbox.handled}, skipped {inbox.duplicates}",
      flush=True)
"""


def run_pipeline(events_db, consumer_db, relay_crash="", inbox_crash="", skip=0):
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            PIPELINE,
            str(events_db),
            str(consumer_db),
            relay_crash,
            inbox_crash,
            str(skip),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return child.returncode, child.stdout.strip(), child.stderr


@pytest.fixture
def databases(tmp_path):
    events_db, consumer_db = tmp_path / "events.db", tmp_path / "shipping.db"
    with SQLiteEventStore(events_db) as store:
        fill(store, 6)
    conn = sqlite3.connect(consumer_db)
    conn.execute("CREATE TABLE shipped (seq INTEGER PRIMARY KEY, stream_id TEXT, n INTEGER)")
    conn.commit()
    conn.close()
    return events_db, consumer_db


def shipped(consumer_db):
    conn = sqlite3.connect(consumer_db)
    rows = conn.execute("SELECT stream_id, n FROM shipped ORDER BY seq").fetchall()
    conn.close()
    return rows


CRASHES = [("relay", p, s) for p in RELAY_CRASH_POINTS for s in (0, 3)] + [
    ("inbox", p, s) for p in INBOX_CRASH_POINTS for s in (0, 3)
]


@pytest.mark.parametrize(("who", "point", "skip"), CRASHES)
def test_kill_9_at_every_step_then_a_fresh_process_delivers_each_event_once(
    databases, who, point, skip
):
    events_db, consumer_db = databases
    relay_crash, inbox_crash = (point, "") if who == "relay" else ("", point)
    code, out, err = run_pipeline(events_db, consumer_db, relay_crash, inbox_crash, skip)
    assert code == -signal.SIGKILL, (out, err)
    assert out == ""  # it died before its summary
    code, out, err = run_pipeline(events_db, consumer_db)  # the restart: a fresh process
    assert code == 0, err
    rows = shipped(consumer_db)
    expected = [("order-A" if n % 2 else "order-B", n) for n in range(1, 7)]
    assert rows == expected  # every event, once, in log (hence stream) order
    # what the restart had to do: the events after the saved position; one of them is a
    # duplicate the inbox skips when the first process died between publish and checkpoint
    saved = skip + (1 if (who, point) == ("relay", "after_checkpoint") else 0)
    duplicate = (who, point) in {("relay", "after_publish"), ("inbox", "after_commit")}
    assert out == f"published {6 - saved}, handled {6 - saved - duplicate}, skipped {duplicate:d}"
    with SQLiteEventStore(events_db) as store:
        assert store.load_checkpoint("to-shipping") == 6


def test_a_clean_run_prints_a_deterministic_summary(databases):
    events_db, consumer_db = databases
    assert run_pipeline(events_db, consumer_db)[:2] == (0, "published 6, handled 6, skipped 0")
    assert run_pipeline(events_db, consumer_db)[:2] == (0, "published 0, handled 0, skipped 0")


def test_the_in_memory_pair_survives_a_simulated_crash_at_every_point():
    for who, point in [("relay", p) for p in RELAY_CRASH_POINTS] + [
        ("inbox", p) for p in INBOX_CRASH_POINTS
    ]:
        store = InMemoryEventStore()
        fill(store)
        inbox = InMemoryInbox(
            "shipping", {"shipped": []}, crash_at=point if who == "inbox" else None, crash_skip=2
        )
        bus = EventBus()
        bus.subscribe("#", inbox.subscriber(lambda e, state: state["shipped"].append(e.data["n"])))
        relay = Relay(store, bus, crash_at=point if who == "relay" else None, crash_skip=2)
        with pytest.raises(SimulatedCrash):
            relay.run()
        inbox.crash = CrashSwitch()  # the restarted consumer keeps its memory (same process)
        Relay(store, bus).run()
        assert inbox.state == {"shipped": [1, 2, 3, 4, 5]}, (who, point)


def test_checkpoint_every_trades_commits_for_duplicates():
    class CountingStore(InMemoryEventStore):
        saves = 0

        def save_checkpoint(self, name, position):
            self.saves += 1
            super().save_checkpoint(name, position)

    store = CountingStore()
    fill(store, 7)
    target = Recorder()
    with pytest.raises(SimulatedCrash):  # dies after publishing the 5th event
        Relay(store, target, checkpoint_every=3, crash_at="after_publish", crash_skip=4).run()
    assert store.load_checkpoint("relay") == 3 and store.saves == 1  # saved after 3, not 5
    Relay(store, target, checkpoint_every=3).run()
    assert target.seen == [1, 2, 3, 4, 5, 4, 5, 6, 7]  # 4 and 5 again: at most 3 duplicates
    assert store.saves == 3  # after 6, then the end of the run (7)
    with pytest.raises(InvalidValue, match="checkpoint_every"):
        Relay(store, target, checkpoint_every=0)


def test_a_stalled_relay_saves_what_it_did_publish():
    store = InMemoryEventStore()
    fill(store, 5)

    class BrokenAtFour(Recorder):
        def publish(self, event):
            if event.data["n"] == 4:
                raise ConnectionError("down")
            super().publish(event)

    with pytest.raises(RelayStalled):
        Relay(store, BrokenAtFour(), checkpoint_every=10).run()
    assert store.load_checkpoint("relay") == 3  # 1-3 went out and are not sent again
