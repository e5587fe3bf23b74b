"""Model-based test: hypothesis drives each store and a ten-line model side by side.

The model is the event store idea with nothing else: a list (the global log) and a dict of
lists (the streams). Hypothesis invents sequences of appends (good and bad expected versions,
batches of any size, empty batches), retries of earlier appends (at their own expected version,
at another one, mixed with new events), snapshots, checkpoints and, for SQLite, restarts; after
every step both must agree on everything a reader can see.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eda_kit import Event
from eda_kit.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    DuplicateEventId,
    InMemoryEventStore,
    SQLiteEventStore,
    WrongExpectedVersion,
)

STREAMS = st.sampled_from(["order-1", "order-2", "account-7"])
EXPECTED = st.one_of(st.sampled_from([ANY, NO_STREAM, STREAM_EXISTS]), st.integers(0, 4))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
EVENTS = st.lists(st.builds(Event, st.sampled_from(["A", "B", "C"]), JSON), max_size=3)


class Model:
    def __init__(self) -> None:
        self.log: list[tuple[str, int, Event]] = []
        self.streams: dict[str, list[Event]] = {}
        self.snapshots: dict[str, dict[int, object]] = {}
        self.checkpoints: dict[str, int] = {}

    def append(self, stream_id, events, expected):
        stream = self.streams.get(stream_id, [])
        actual = len(stream)
        held = [i for i, e in enumerate(stream) if e.id in {n.id for n in events}]
        if held:  # the idempotence rule, written out plainly
            ids = [e.id for e in events]
            start = held[0]
            if [e.id for e in stream[start : start + len(ids)]] != ids:
                return DuplicateEventId(stream_id, ids, "not one retry")
            base = 0 if expected is NO_STREAM else expected
            if isinstance(base, int) and base != start:
                return DuplicateEventId(stream_id, ids, "somewhere else")
            return start + len(ids)
        ok = (
            expected is ANY
            or (expected is NO_STREAM and actual == 0)
            or (expected is STREAM_EXISTS and actual > 0)
            or expected == actual
        )
        if not ok:
            return WrongExpectedVersion(stream_id, expected, actual)
        for event in events:
            stream = self.streams.setdefault(stream_id, [])
            stream.append(event)
            self.log.append((stream_id, len(stream), event))
        return actual + len(events)


class StoreMachine(RuleBasedStateMachine):
    """Compare one store with the model. Subclasses say which store."""

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.store = self.open_store()
        self.appends: list[tuple[str, list[Event], object]] = []

    def open_store(self):
        raise NotImplementedError

    @rule(stream_id=STREAMS, events=EVENTS, expected=EXPECTED)
    def append(self, stream_id, events, expected):
        self.compare_append(stream_id, events, expected)
        self.appends.append((stream_id, events, expected))

    @precondition(lambda self: self.appends)
    @rule(data=st.data())
    def retry(self, data):
        """An earlier append again, as a writer that never got the acknowledgement would."""
        stream_id, events, expected = data.draw(st.sampled_from(self.appends))
        if data.draw(st.booleans()):  # ... or at another expected version
            expected = data.draw(EXPECTED)
        if data.draw(st.booleans()):  # ... or with new events mixed in
            events = events + data.draw(EVENTS)
        self.compare_append(stream_id, events, expected)

    def compare_append(self, stream_id, events, expected):
        want = self.model.append(stream_id, events, expected)
        if isinstance(want, DuplicateEventId):
            try:
                self.store.append(stream_id, events, expected_version=expected)
            except DuplicateEventId as got:
                assert got.stream_id == stream_id
            else:
                raise AssertionError(f"expected DuplicateEventId for {events}")
        elif isinstance(want, WrongExpectedVersion):
            try:
                self.store.append(stream_id, events, expected_version=expected)
            except WrongExpectedVersion as got:
                assert (got.stream_id, got.expected, got.actual) == (
                    want.stream_id,
                    want.expected,
                    want.actual,
                )
            else:
                raise AssertionError(f"expected {want}")
        else:
            assert self.store.append(stream_id, events, expected_version=expected) == want

    @rule(stream_id=STREAMS, data=st.data())
    def snapshot(self, stream_id, data):
        version = len(self.model.streams.get(stream_id, []))
        if version == 0:
            return
        at = data.draw(st.integers(1, version))
        state = data.draw(JSON)
        self.store.save_snapshot(stream_id, at, state)
        self.model.snapshots.setdefault(stream_id, {})[at] = state

    @rule(name=st.sampled_from(["p1", "p2"]), data=st.data())
    def checkpoint(self, name, data):
        position = data.draw(st.integers(0, len(self.model.log)))
        self.store.save_checkpoint(name, position)
        self.model.checkpoints[name] = position

    @rule(stream_id=STREAMS, data=st.data())
    def read_a_range(self, stream_id, data):
        model = self.model.streams.get(stream_id, [])
        start = data.draw(st.integers(1, len(model) + 2))
        end = data.draw(st.none() | st.integers(0, len(model) + 2))
        got = self.store.read_stream(stream_id, start, end)
        want = model[start - 1 : end]
        assert [e.id for e in got] == [e.id for e in want]

    @rule(data=st.data())
    def read_a_page(self, data):
        start = data.draw(st.integers(1, len(self.model.log) + 2))
        limit = data.draw(st.none() | st.integers(0, 4))
        got = self.store.read_all(start, limit)
        want = self.model.log[start - 1 :][:limit]
        assert [(e.stream_id, e.version, e.id) for e in got] == [(s, v, e.id) for s, v, e in want]

    @invariant()
    def same_log(self):
        got = self.store.read_all()
        assert [
            (e.position, e.stream_id, e.version, e.type, e.data, e.id, e.time) for e in got
        ] == [
            (p, s, v, e.type, e.data, e.id, e.time)
            for p, (s, v, e) in enumerate(self.model.log, start=1)
        ]

    @invariant()
    def same_streams(self):
        assert self.store.streams() == list(self.model.streams)
        assert self.store.last_position() == len(self.model.log)
        for stream_id in ("order-1", "order-2", "account-7"):
            assert self.store.stream_version(stream_id) == len(
                self.model.streams.get(stream_id, [])
            )

    @invariant()
    def same_snapshots_and_checkpoints(self):
        for stream_id, saved in self.model.snapshots.items():
            newest = max(saved)
            assert self.store.load_snapshot(stream_id).state == saved[newest]
            oldest = min(saved)
            assert self.store.load_snapshot(stream_id, oldest).version == oldest
        for name, position in self.model.checkpoints.items():
            assert self.store.load_checkpoint(name) == position

    def teardown(self):
        self.store.close()


class InMemoryMachine(StoreMachine):
    def open_store(self):
        return InMemoryEventStore()


class SQLiteMachine(StoreMachine):
    def open_store(self):
        self.directory = Path(tempfile.mkdtemp(prefix="eda-store-"))
        self.path = self.directory / "model.db"
        return SQLiteEventStore(self.path, synchronous="NORMAL")

    @precondition(lambda self: len(self.model.log) > 0)
    @rule()
    def restart(self):
        self.store.close()
        self.store = SQLiteEventStore(self.path, synchronous="NORMAL")

    def teardown(self):
        super().teardown()
        shutil.rmtree(self.directory, ignore_errors=True)


FAST = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestInMemoryStoreAgainstModel = FAST(InMemoryMachine).TestCase
TestSQLiteStoreAgainstModel = FAST(SQLiteMachine).TestCase
