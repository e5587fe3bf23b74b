"""Event: JSON-only payloads with key-path errors, immutability, ids and times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eda_kit import Event, RecordedEvent, reproducible
from eda_kit.events import recorded_from_storage
from eda_kit.payloads import MAX_INT, MIN_INT, FrozenDict, FrozenList, thaw

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(MIN_INT, MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def test_the_design_snippet_runs_as_written():
    event = Event("order.created", {"order_id": "A1"}, metadata={"correlation_id": "c-1"})
    assert event.type == "order.created"
    assert event.data == {"order_id": "A1"}
    assert event.metadata == {"correlation_id": "c-1"}
    assert event.id and isinstance(event.time, datetime)


def test_key_path_names_the_offending_value():
    with pytest.raises(TypeError) as caught:
        Event("OrderPlaced", {"items": [{"price": 1}, {"price": 2}, {"price": Decimal("9.99")}]})
    assert str(caught.value) == "data['items'][2]['price']: object of type Decimal is not JSON"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"when": datetime(2026, 1, 1)}, "data['when']: object of type datetime is not JSON"),
        ({"tags": {"a", "b"}}, "data['tags']: object of type set is not JSON"),
        ({1: "one"}, "data: key 1 of type int is not JSON (JSON object keys must be strings)"),
        ({"x": float("nan")}, "data['x']: nan is not JSON (JSON has no NaN or infinity)"),
        ({"f": print}, "data['f']: object of type builtin_function_or_method is not JSON"),
    ],
)
def test_non_json_data_is_refused_with_its_path(payload, message):
    with pytest.raises(TypeError) as caught:
        Event("Something", payload)
    assert str(caught.value) == message


def test_metadata_is_checked_too():
    with pytest.raises(TypeError, match=r"metadata\['user'\]: object of type object is not JSON"):
        Event("Something", {}, metadata={"user": object()})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        Event("Something", {}, metadata=["not", "a", "dict"])


@pytest.mark.parametrize("bad_type", ["", "   "])
def test_event_type_must_be_a_non_empty_name(bad_type):
    with pytest.raises(ValueError, match="non-empty"):
        Event(bad_type)


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("type", "Order\ud800Placed", r"event type 'Order\\ud800Placed' contains a lone surrogate"),
        ("type", "Order\x00Placed", "event type .* contains a NUL character"),
        ("id", "evt-\udfff", r"event id 'evt-\\udfff' contains a lone surrogate"),
        ("id", "evt-\x00", "event id .* contains a NUL character"),
    ],
)
def test_a_type_or_id_no_store_could_keep_is_refused_at_construction(field, text, message):
    # The in-memory store used to take these and SQLite to fail with a raw UnicodeEncodeError
    # (PostgreSQL text can hold no NUL): refused at the door, naming the field, like data.
    with pytest.raises(ValueError, match=message):
        Event(text) if field == "type" else Event("OrderPlaced", id=text)


def test_event_type_must_be_text():
    with pytest.raises(TypeError, match="event type must be a str, not int"):
        Event(42)  # type: ignore[arg-type]


def test_events_are_frozen_all_the_way_down():
    event = Event("OrderPlaced", {"items": [{"sku": "X", "qty": 1}]})
    with pytest.raises(AttributeError):
        event.type = "Other"  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        event.data["total"] = 10
    with pytest.raises(TypeError, match="read-only"):
        event.data["items"].append({"sku": "Y"})
    with pytest.raises(TypeError, match="read-only"):
        event.data["items"][0]["qty"] = 5


def test_the_callers_dict_is_copied_not_shared():
    payload = {"total": 30, "items": ["a"]}
    event = Event("OrderPlaced", payload)
    payload["total"] = 999
    payload["items"].append("b")
    assert event.data == {"total": 30, "items": ["a"]}


def test_frozen_payloads_still_behave_like_dicts_and_lists():
    event = Event("OrderPlaced", {"items": (1, 2)})
    assert isinstance(event.data, dict) and isinstance(event.data, FrozenDict)
    assert isinstance(event.data["items"], FrozenList)
    assert event.data["items"] == [1, 2]  # tuples become lists, as in JSON
    mutable = thaw(event.data)
    mutable["items"].append(3)
    assert mutable == {"items": [1, 2, 3]}
    assert dict(event.data) == {"items": [1, 2]}


@given(json_values)
def test_any_json_value_round_trips_through_json(value):
    event = Event("Anything", value)
    assert json.loads(json.dumps(event.data)) == value


def test_reproducible_mode_gives_fixed_ids_and_a_ticking_clock():
    with reproducible():
        first, second = Event("A"), Event("B")
    assert (first.id, second.id) == ("evt-0001", "evt-0002")
    assert first.time == datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
    assert (second.time - first.time).total_seconds() == 1


def test_reproducible_mode_starts_over_on_each_call_and_restores_on_exit():
    with reproducible():
        Event("A")
        with reproducible():
            assert Event("B").id == "evt-0001"
        assert Event("C").id == "evt-0002"
    outside = Event("D")
    assert not outside.id.startswith("evt-")
    assert outside.time.tzinfo is UTC


def test_explicit_id_and_time_are_kept():
    moment = datetime(2025, 5, 1, tzinfo=UTC)
    event = Event("A", id="my-id", time=moment)
    assert (event.id, event.time) == ("my-id", moment)
    with pytest.raises(TypeError, match="event time must be a datetime"):
        Event("A", time="yesterday")  # type: ignore[arg-type]


def test_events_hash_by_id_and_compare_by_value():
    with reproducible():
        a = Event("A", {"x": 1})
    assert {a: 1}[a] == 1
    assert a == Event("A", {"x": 1}, id=a.id, time=a.time)


def test_repr_is_readable_and_deterministic():
    with reproducible():
        event = Event("order.created", {"order_id": "A1"})
    assert repr(event) == "Event('order.created', {'order_id': 'A1'}, id='evt-0001')"


def test_recorded_event_knows_where_it_lives():
    with reproducible():
        recorded = RecordedEvent(
            "Deposited", {"amount": 5}, stream_id="acc-1", version=2, position=7
        )
    assert repr(recorded) == "RecordedEvent('acc-1' v2 @7: 'Deposited', {'amount': 5})"
    assert recorded.to_dict()["version"] == 2
    assert json.loads(json.dumps(recorded.to_dict()))["stream_id"] == "acc-1"


def test_recorded_from_storage_hands_out_read_only_payloads():
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    recorded = recorded_from_storage("A", {"n": [1]}, {}, "id-1", moment, "s", 1, 1)
    assert recorded == RecordedEvent("A", {"n": [1]}, {}, "id-1", moment, "s", 1, 1)
    with pytest.raises(TypeError, match="read-only"):
        recorded.data["n"].append(2)


def test_random_ids_are_version_4_uuids():
    import uuid

    ids = {Event("A").id for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_empty_payloads_are_shared_and_still_read_only():
    first, second = Event("A"), Event("B", {})
    assert first.data is second.data is first.metadata
    with pytest.raises(TypeError, match="read-only"):
        first.data["x"] = 1
