"""payloads: what a store could not keep is refused when the event is built, naming the place.

Each of these once went into the in-memory store and then failed in SQLite with a raw driver
error, or was committed and then could not be read back.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eda_kit import Event
from eda_kit.errors import NotJSON
from eda_kit.payloads import MAX_DEPTH, MAX_INT, MIN_INT, freeze_json


@pytest.mark.parametrize(
    "number", [MAX_INT + 1, MIN_INT - 1, 10**5000], ids=["max+1", "min-1", "huge"]
)
def test_integers_beyond_64_bits_are_refused_with_their_place(number):
    with pytest.raises(NotJSON, match=r"^data\['order'\]\['total'\]: an integer of .* 64 bits"):
        Event("OrderPlaced", {"order": {"total": number}})


@pytest.mark.parametrize("number", [MAX_INT, MIN_INT, 0, -1, 2**53 + 1])
def test_integers_within_64_bits_pass_and_survive_sqlite(number):
    event = Event("OrderPlaced", {"total": number})
    db = sqlite3.connect(":memory:")
    (text,) = db.execute("SELECT ?", (json.dumps(event.data),)).fetchone()
    assert json.loads(text)["total"] == number


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"note": "ok \ud800 no"}, r"data\['note'\]"),
        ({"lines": ["fine", "\udfff"]}, r"data\['lines'\]\[1\]"),
        ({"bad \udc80 key": 1}, r"data"),
    ],
)
def test_text_with_a_lone_surrogate_is_refused_with_its_place(payload, where):
    with pytest.raises(NotJSON, match=rf"^{where}: text .* lone surrogate"):
        Event("NoteAdded", payload)


def test_metadata_is_checked_the_same_way():
    with pytest.raises(NotJSON, match=r"^metadata\['actor'\]: text"):
        Event("NoteAdded", metadata={"actor": "\ud800"})


def test_non_ascii_text_that_is_valid_unicode_passes():
    event = Event("NoteAdded", {"note": "crème brûlée 🍮", "ключ": "значение"})
    assert event.data["note"].encode("utf-8")


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_up_to_the_limit_passes_and_deeper_is_refused():
    assert freeze_json(nested(MAX_DEPTH)) is not None
    with pytest.raises(NotJSON, match=f"nested more than {MAX_DEPTH} levels deep"):
        Event("Deep", {"tree": nested(MAX_DEPTH + 1)})


def test_a_very_deep_payload_is_refused_not_a_recursion_error():
    with pytest.raises(NotJSON):
        Event("Deep", {"tree": nested(5000)})


@given(st.integers())
def test_every_integer_is_kept_exactly_or_refused_clearly(number):
    if MIN_INT <= number <= MAX_INT:
        assert Event("N", {"n": number}).data["n"] == number
    else:
        with pytest.raises(NotJSON, match="64 bits"):
            Event("N", {"n": number})


@given(st.text(alphabet=st.characters(codec=None)))
def test_every_text_is_kept_exactly_or_refused_clearly(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(NotJSON, match="lone surrogate"):
            Event("T", {"t": text})
    else:
        assert Event("T", {"t": text}).data["t"] == text
