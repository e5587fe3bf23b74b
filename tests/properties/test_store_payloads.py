"""Payloads at the edge: whatever an Event accepts, every store writes and reads back the same.

The door is ``Event(...)`` (``eda_kit/payloads.py``): nesting deeper than ``MAX_DEPTH``,
integers beyond 64 bits and text with lone surrogates are refused there, so no store can ever
commit an event it can't read back. Hypothesis builds payloads up to the limits (and just past
them) and pushes them through both stores, a SQLite file reopened included.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from eda_kit import Event
from eda_kit.errors import NotJSON
from eda_kit.payloads import MAX_DEPTH, MAX_INT, MIN_INT
from eda_kit.store import InMemoryEventStore, SQLiteEventStore

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(MIN_INT, MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=8)  # Cs: surrogates
)


@st.composite
def deep_payloads(draw, min_depth=1, max_depth=MAX_DEPTH):
    """A chain of lists and objects ``depth`` levels deep, with scalars along the way."""
    depth = draw(st.integers(min_depth, max_depth))
    value = draw(SCALARS)
    for _ in range(depth - 1):
        if draw(st.booleans()):
            value = [draw(SCALARS), value]
        else:
            value = {"k" + draw(st.text(max_size=3)): value, "n": draw(SCALARS)}
    return {"top": value} if depth > 1 else [value]


def depth_of(value):
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@pytest.fixture(scope="module")
def stores():
    folder = Path(tempfile.mkdtemp(prefix="eda-payloads-"))
    made = [InMemoryEventStore(), SQLiteEventStore(folder / "p.db", synchronous="NORMAL")]
    yield made, folder / "p.db"
    for store in made:
        store.close()


@settings(max_examples=5, deadline=None)
@given(payload=deep_payloads(min_depth=MAX_DEPTH))
def test_the_strategy_reaches_the_limit(payload):
    assert depth_of(payload) == MAX_DEPTH == 100


@settings(max_examples=60, deadline=None)
@given(payload=deep_payloads())
def test_every_payload_an_event_accepts_is_read_back_unchanged(stores, payload):
    made, path = stores
    metadata = {"m": payload} if depth_of(payload) < MAX_DEPTH else {}
    event = Event("Deep", payload, metadata=metadata)
    for store in made:
        store.append("s", event)
        (back,) = store.read_all(from_position=store.last_position())
        assert (back.data, back.metadata) == (payload, metadata)
    with SQLiteEventStore(path, synchronous="NORMAL") as reopened:  # a fresh reader
        assert reopened.read_all(from_position=reopened.last_position())[0].data == payload


BAD_LEAVES = st.sampled_from([MAX_INT + 1, MIN_INT - 1, 10**400, "lone \ud800 surrogate"])


@settings(max_examples=40, deadline=None)
@given(payload=deep_payloads(max_depth=20), bad=BAD_LEAVES, data=st.data())
def test_a_payload_no_store_could_keep_never_becomes_an_event(payload, bad, data):
    """Plant one bad value somewhere in a good payload: refused at Event(...), with its path.

    No Event, nothing to append: no store can commit what it could not read back.
    """
    path = data.draw(st.lists(st.sampled_from(["list", "dict"]), max_size=5))
    value = bad
    for step in reversed(path):
        value = [value] if step == "list" else {"k": value}
    with pytest.raises(NotJSON, match=r"data\['bad'\]"):
        Event("Bad", {"good": payload, "bad": value})


def test_one_level_past_the_limit_is_refused_for_data_and_metadata():
    too_deep = "x"
    for _ in range(MAX_DEPTH + 1):
        too_deep = [too_deep]
    with pytest.raises(NotJSON, match="nested more than 100 levels"):
        Event("Bad", too_deep)
    with pytest.raises(NotJSON, match=r"metadata\['m'\].*nested more than 100 levels"):
        Event("Bad", metadata={"m": too_deep[0]})


# Any text, plus text made of the troublemakers (hypothesis's text leaves out surrogates).
NAMES = st.text(min_size=1, max_size=12) | st.text(
    st.sampled_from(["a", "-", " ", "\x00", "\ud800", "\udfff", "é", "😀"]), min_size=1, max_size=6
)


@settings(max_examples=60, deadline=None)
@given(type_=NAMES, id_=NAMES, stream=NAMES)
def test_any_type_id_and_stream_id_is_refused_at_the_door_or_kept_by_every_store(
    type_, id_, stream
):
    """The names around a payload follow the same rule: what the door lets in, every store
    (a reopened SQLite file included) keeps exactly; the rest is a clear ValueError."""
    try:
        event = Event(type_, {"n": 1}, id=id_)
    except ValueError as error:  # blank, NUL or lone surrogate: named, never a raw error
        assert "event type" in str(error) or "event id" in str(error)
        return
    with tempfile.TemporaryDirectory(prefix="eda-names-") as folder:
        path = Path(folder) / "names.db"
        stored = []
        for store in (InMemoryEventStore(), SQLiteEventStore(path, synchronous="NORMAL")):
            with store:
                try:
                    store.append(stream, event)
                except ValueError as error:
                    assert "stream id" in str(error)
                    continue
                (back,) = store.read_all()
                stored.append((back.stream_id, back.type, back.id))
        assert stored in ([], [(stream, type_, id_)] * 2)  # both stores, or neither
        if stored:
            with SQLiteEventStore(path, synchronous="NORMAL") as reopened:
                (back,) = reopened.read_all()
                assert (back.stream_id, back.type, back.id) == (stream, type_, id_)
