"""Conformance suite: every test here runs against EVERY event store.

If a test passes for InMemoryEventStore and fails for SQLiteEventStore or PostgresEventStore,
code written against one store would break on another. The SQLite-only promises (files,
processes, crashes) are in test_store_sqlite.py; the PostgreSQL-only ones (gaps, LISTEN/NOTIFY,
server restarts) in services/test_store_postgres.py; the model-based test in
test_store_model.py. The PostgreSQL runs need a server (see services/support.py): without
one they are skipped, saying why.
"""

from __future__ import annotations

import pytest

import eda_kit
from eda_kit import Event, Tracer
from eda_kit.store import (
    ANY,
    MAX_STREAM_ID_LENGTH,
    NO_STREAM,
    STREAM_EXISTS,
    DuplicateEventId,
    EventStore,
    InMemoryEventStore,
    Snapshot,
    SQLiteEventStore,
    WrongExpectedVersion,
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request, tmp_path):
    """A factory, so a test can also build a store with a tracer."""
    made = []
    postgres = None
    if request.param == "postgres":
        from tests.services.support import PostgresStores, server_url

        postgres = PostgresStores(server_url("postgres"))  # each store: its own schema

    def make(**kwargs):
        if request.param == "memory":
            store = InMemoryEventStore(**kwargs)
        elif request.param == "sqlite":
            store = SQLiteEventStore(tmp_path / f"store{len(made)}.db", **kwargs)
        else:
            store = postgres.store(**kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    if postgres is not None:
        postgres.cleanup()


@pytest.fixture
def store(make_store):
    return make_store()


def ev(type_="Happened", **data):
    return Event(type_, data)


def wait_for(store):
    """Live deliveries may run off the writer's path: wait until the subscribers have them."""
    store.wait_for_subscribers(timeout=30)


# --- appending and reading -------------------------------------------------------------------


def test_follows_the_protocol(store):
    assert isinstance(store, EventStore)


def test_versions_count_per_stream_and_positions_across_the_store(store):
    assert store.append("order-A1", [ev("OrderPlaced", total=30), ev("OrderPaid")]) == 2
    assert store.append("order-B2", ev("OrderPlaced", total=5)) == 1
    assert store.append("order-A1", ev("OrderShipped")) == 3

    assert [(e.version, e.position) for e in store.read_stream("order-A1")] == [
        (1, 1),
        (2, 2),
        (3, 4),
    ]
    assert [(e.stream_id, e.version, e.position) for e in store.read_all()] == [
        ("order-A1", 1, 1),
        ("order-A1", 2, 2),
        ("order-B2", 1, 3),
        ("order-A1", 3, 4),
    ]
    assert store.stream_version("order-A1") == 3
    assert store.stream_version("order-B2") == 1
    assert store.stream_version("nobody") == 0
    assert store.last_position() == 4
    assert store.streams() == ["order-A1", "order-B2"]


def test_an_empty_store(store):
    assert store.read_all() == []
    assert store.read_stream("absent") == []
    assert store.last_position() == 0
    assert store.streams() == []


def test_read_gives_back_what_was_appended(store):
    original = Event(
        "OrderPlaced",
        {"items": [{"sku": "x", "n": 2}], "note": "é ✓", "p": 1.5, "none": None, "ok": True},
        metadata={"correlation_id": "c-1"},
    )
    store.append("order-A1", original)
    (stored,) = store.read_stream("order-A1")
    assert (stored.type, stored.data, stored.metadata, stored.id, stored.time) == (
        original.type,
        original.data,
        original.metadata,
        original.id,
        original.time,
    )
    assert stored.stream_id == "order-A1"
    with pytest.raises(TypeError, match="read-only"):
        stored.data["note"] = "changed"


def test_non_dict_payloads_round_trip(store):
    for data in ([1, 2], "text", 7, None, {}, []):
        store.append("odd", Event("Odd", data))
    assert [e.data for e in store.read_stream("odd")] == [[1, 2], "text", 7, None, {}, []]


def test_read_stream_ranges(store):
    store.append("s", [ev(n=i) for i in range(1, 6)])
    assert [e.version for e in store.read_stream("s", from_version=3)] == [3, 4, 5]
    assert [e.version for e in store.read_stream("s", 2, 4)] == [2, 3, 4]
    assert [e.version for e in store.read_stream("s", to_version=1)] == [1]
    assert store.read_stream("s", from_version=6) == []
    assert store.read_stream("s", 4, 3) == []
    assert store.read_stream("s", to_version=0) == []


def test_read_all_from_position_and_limit(store):
    for i in range(5):
        store.append(f"s{i % 2}", ev(n=i))
    assert [e.position for e in store.read_all(from_position=3)] == [3, 4, 5]
    assert [e.position for e in store.read_all(2, limit=2)] == [2, 3]
    assert store.read_all(limit=0) == []
    assert store.read_all(from_position=6) == []


def test_replay_calls_the_handler_in_order(store):
    store.append("acc", [ev("Deposited", amount=5), ev("Withdrawn", amount=2)])
    seen = []
    assert store.replay("acc", lambda e: seen.append((e.version, e.type))) == 2
    assert seen == [(1, "Deposited"), (2, "Withdrawn")]
    assert store.replay("absent", seen.append) == 0


def test_empty_batch_writes_nothing_but_still_checks(store):
    assert store.append("s", []) == 0
    assert store.streams() == []
    store.append("s", ev())
    assert store.append("s", [], expected_version=1) == 1
    with pytest.raises(WrongExpectedVersion):
        store.append("s", [], expected_version=NO_STREAM)


# --- optimistic concurrency ----------------------------------------------------------------

MODES = [
    # expected, version of the stream before, succeeds?
    (ANY, 0, True),
    (ANY, 2, True),
    (NO_STREAM, 0, True),
    (NO_STREAM, 2, False),
    (STREAM_EXISTS, 0, False),
    (STREAM_EXISTS, 2, True),
    (0, 0, True),
    (0, 2, False),
    (2, 2, True),
    (1, 2, False),
    (3, 2, False),
    (1, 0, False),
]


@pytest.mark.parametrize(("expected", "before", "succeeds"), MODES)
def test_expected_version_modes(store, expected, before, succeeds):
    if before:
        store.append("s", [ev() for _ in range(before)])
    if succeeds:
        assert store.append("s", ev("New"), expected_version=expected) == before + 1
    else:
        with pytest.raises(WrongExpectedVersion) as caught:
            store.append("s", ev("New"), expected_version=expected)
        assert (caught.value.stream_id, caught.value.expected, caught.value.actual) == (
            "s",
            expected,
            before,
        )
        assert store.stream_version("s") == before
        assert store.last_position() == before


def test_wrong_expected_version_message_names_stream_expected_and_actual(store):
    store.append("order-A1", [ev("OrderPlaced"), ev("OrderPaid")], expected_version=NO_STREAM)
    with pytest.raises(WrongExpectedVersion) as caught:
        store.append("order-A1", ev("OrderCancelled"), expected_version=1)
    assert str(caught.value) == "stream 'order-A1': expected version 1, actual 2"
    with pytest.raises(WrongExpectedVersion, match=r"expected no stream \(NO_STREAM\), actual 2"):
        store.append("order-A1", ev(), expected_version=NO_STREAM)
    with pytest.raises(WrongExpectedVersion, match=r"stream 'x': expected an existing stream"):
        store.append("x", ev(), expected_version=STREAM_EXISTS)
    assert [e.version for e in store.read_stream("order-A1")] == [1, 2]


def test_two_writers_with_the_same_stale_version_cannot_both_append(store):
    store.append("acc", ev("Opened"))
    seen_by_a = seen_by_b = store.stream_version("acc")
    store.append("acc", ev("Deposited", by="a"), expected_version=seen_by_a)
    with pytest.raises(WrongExpectedVersion):
        store.append("acc", ev("Deposited", by="b"), expected_version=seen_by_b)
    assert [e.data.get("by") for e in store.read_stream("acc")] == [None, "a"]


# --- retries: the same events again are stored once (KurrentDB's idempotence rule) ---------


def placed_and_paid():
    return [Event("OrderPlaced", {"total": 30}), Event("OrderPaid", {"amount": 30})]


@pytest.mark.parametrize("expected", [NO_STREAM, 0, ANY])
def test_a_retried_append_stores_nothing_and_returns_the_first_result(store, expected):
    batch = placed_and_paid()
    assert store.append("order-A1", batch, expected_version=expected) == 2
    assert store.append("order-A1", batch, expected_version=expected) == 2  # the retry
    assert store.append("order-A1", list(batch), expected_version=expected) == 2  # and again
    assert [e.id for e in store.read_all()] == [e.id for e in batch]
    assert store.last_position() == 2 and store.stream_version("order-A1") == 2


def test_a_retry_is_recognised_after_other_writers_moved_the_stream_on(store):
    store.append("acc", ev("Opened"))
    deposit = [ev("Deposited", amount=5), ev("Deposited", amount=7)]
    assert store.append("acc", deposit, expected_version=1) == 3
    store.append("acc", ev("Withdrawn", amount=2), expected_version=3)  # someone else
    # the first writer never got its acknowledgement and retries, at its own expected version
    assert store.append("acc", deposit, expected_version=1) == 3
    assert store.append("acc", deposit[:1], expected_version=1) == 2  # a prefix was an append
    assert [e.type for e in store.read_stream("acc")] == [
        "Opened",
        "Deposited",
        "Deposited",
        "Withdrawn",
    ]


def test_a_retry_with_stream_exists_or_any_finds_the_batch_wherever_it_is(store):
    store.append("acc", ev("Opened"))
    batch = [ev("Deposited", amount=5)]
    assert store.append("acc", batch, expected_version=STREAM_EXISTS) == 2
    store.append("acc", ev("Withdrawn"))
    assert store.append("acc", batch, expected_version=STREAM_EXISTS) == 2
    assert store.append("acc", batch) == 2
    assert store.last_position() == 3


def test_a_retry_is_not_delivered_or_traced_again(make_store):
    tracer = Tracer()
    store = make_store(tracer=tracer)
    seen = []
    store.subscribe(seen.append)
    batch = placed_and_paid()
    store.append("order-A1", batch, expected_version=NO_STREAM)
    store.append("order-A1", batch, expected_version=NO_STREAM)
    wait_for(store)
    assert [e.position for e in seen] == [1, 2]
    assert [r.outcome for r in tracer if r.target is None] == ["sent", "sent"]


def test_the_same_ids_at_another_expected_version_are_refused(store):
    placed = ev("OrderPlaced")
    store.append("order-A1", placed, expected_version=NO_STREAM)
    store.append("order-A1", ev("OrderPaid"), expected_version=1)
    with pytest.raises(DuplicateEventId) as caught:
        store.append("order-A1", placed, expected_version=2)  # "the next event", but it isn't
    assert caught.value.stream_id == "order-A1" and caught.value.event_ids == [placed.id]
    assert str(caught.value) == (
        "stream 'order-A1': the events of this append are stored at version 1, that is after "
        "version 0, and this append expects version 2. An event id names one event: a retry "
        "repeats the same append (same events, same expected_version); new events need new ids"
    )
    with pytest.raises(DuplicateEventId):
        store.append("order-A1", placed, expected_version=1)
    assert store.last_position() == 2


def test_a_batch_partly_stored_is_refused_and_writes_nothing(store):
    first, second = ev("A"), ev("B")
    store.append("s", first)
    with pytest.raises(DuplicateEventId, match=r"1 of the 2 events of this append are already "):
        store.append("s", [first, second], expected_version=0)
    with pytest.raises(DuplicateEventId, match="already stored"):
        store.append("s", [second, first])  # with ANY too
    assert [e.id for e in store.read_all()] == [first.id]


def test_a_retry_in_another_order_is_refused(store):
    a, b = ev("A"), ev("B")
    store.append("s", [a, b])
    with pytest.raises(DuplicateEventId, match="not together in this order"):
        store.append("s", [b, a], expected_version=0)
    assert store.last_position() == 2


def test_an_id_reused_for_other_content_is_refused(store):
    first = Event("Deposited", {"amount": 5})
    store.append("acc", first)
    other = Event("Deposited", {"amount": 500}, id=first.id)
    with pytest.raises(
        DuplicateEventId, match=r"stored at version 1 as Deposited \{\"amount\":5\}"
    ):
        store.append("acc", other, expected_version=0)
    relabelled = Event("Deposited", {"amount": 5}, metadata={"by": "eve"}, id=first.id)
    with pytest.raises(DuplicateEventId, match="other metadata"):
        store.append("acc", relabelled, expected_version=0)
    same_but_later = Event("Deposited", {"amount": 5}, id=first.id)  # a new time is fine
    assert store.append("acc", same_but_later, expected_version=0) == 1
    assert store.last_position() == 1


def test_one_id_twice_in_a_batch_is_refused(store):
    event = ev("A")
    with pytest.raises(ValueError, match=r"events\[2\] has the same id as events\[0\]"):
        store.append("s", [event, ev("B"), event])
    assert store.last_position() == 0


def test_one_id_may_be_used_in_two_streams(store):
    event = ev("Copied")
    assert store.append("original", event) == 1
    assert store.append("copy", event) == 1
    assert store.last_position() == 2


# --- bad input: a clear error, nothing written ----------------------------------------------

BAD_STREAM_IDS = [
    ("", ValueError, "non-empty"),
    ("   ", ValueError, "non-empty"),
    (None, TypeError, "must be a str, not NoneType"),
    (42, TypeError, "must be a str, not int"),
    (b"order", TypeError, "must be a str, not bytes"),
    ("x" * (MAX_STREAM_ID_LENGTH + 1), ValueError, "limit is"),
    ("a\x00b", ValueError, "NUL"),
    ("order-\ud800", ValueError, "lone surrogate"),  # not UTF-8: no store could keep it
]


@pytest.mark.parametrize(("stream_id", "error", "message"), BAD_STREAM_IDS)
def test_bad_stream_ids_are_refused(store, stream_id, error, message):
    with pytest.raises(error, match=message):
        store.append(stream_id, ev())
    with pytest.raises(error, match=message):
        store.read_stream(stream_id)
    with pytest.raises(error, match=message):
        store.stream_version(stream_id)
    assert store.last_position() == 0


def test_longest_allowed_stream_id_works(store):
    name = "x" * MAX_STREAM_ID_LENGTH
    assert store.append(name, ev()) == 1
    assert store.streams() == [name]


@pytest.mark.parametrize(
    ("expected", "error", "message"),
    [
        (-1, ValueError, ">= 0"),
        ("1", TypeError, "not str"),
        (True, TypeError, "not bool"),
        (1.0, TypeError, "not float"),
        (None, TypeError, "not NoneType"),
    ],
)
def test_bad_expected_versions_are_refused(store, expected, error, message):
    with pytest.raises(error, match=message):
        store.append("s", ev(), expected_version=expected)
    assert store.last_position() == 0


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ({"type": "X"}, "not dict"),
        ("OrderPlaced", "not str"),
        ([Event("A"), {"type": "B"}], r"events\[1\] is a dict"),
        ([Event("A"), None], r"events\[1\] is a NoneType"),
        (iter([Event("A")]), "list_iterator"),
    ],
)
def test_things_that_are_not_events_are_refused_and_nothing_is_written(store, events, message):
    store.append("s", ev("Before"))
    with pytest.raises(TypeError, match=message):
        store.append("s", events)
    assert [e.type for e in store.read_all()] == ["Before"]


def test_non_json_payloads_never_reach_the_store(store):
    from decimal import Decimal

    with pytest.raises(TypeError, match=r"data\['price'\]: object of type Decimal is not JSON"):
        store.append("s", [Event("A"), Event("B", {"price": Decimal("1.5")})])
    assert store.last_position() == 0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.read_stream("s", from_version=0), ValueError, "from_version must be >= 1"),
        (lambda s: s.read_stream("s", to_version=-1), ValueError, "to_version must be >= 0"),
        (lambda s: s.read_stream("s", from_version="1"), TypeError, "from_version must be an int"),
        (lambda s: s.read_all(from_position=0), ValueError, "from_position must be >= 1"),
        (lambda s: s.read_all(limit=-1), ValueError, "limit must be >= 0"),
        (lambda s: s.read_all(limit=2.5), TypeError, "limit must be an int"),
    ],
)
def test_bad_read_arguments_are_refused(store, call, error, message):
    with pytest.raises(error, match=message):
        call(store)


# --- snapshots ------------------------------------------------------------------------------


def test_snapshots_live_outside_the_streams_and_the_log(store):
    store.append("acc", [ev("Deposited", amount=i) for i in range(1, 6)])
    store.save_snapshot("acc", 2, {"balance": 3})
    store.save_snapshot("acc", 4, {"balance": 10, "history": [1, 2]})
    assert store.stream_version("acc") == 5
    assert store.last_position() == 5
    assert store.streams() == ["acc"]
    assert store.load_snapshot("acc") == Snapshot("acc", 4, {"balance": 10, "history": [1, 2]})
    assert store.load_snapshot("acc", max_version=3) == Snapshot("acc", 2, {"balance": 3})
    assert store.load_snapshot("acc", max_version=1) is None
    assert store.load_snapshot("other") is None


def test_a_loaded_snapshot_is_a_private_mutable_copy(store):
    store.append("acc", ev())
    state = {"items": [1]}
    store.save_snapshot("acc", 1, state)
    state["items"].append(2)  # the caller changes their dict afterwards: no effect
    loaded = store.load_snapshot("acc")
    loaded.state["items"].append(3)  # so does changing what was loaded
    assert store.load_snapshot("acc").state == {"items": [1]}


def test_saving_a_snapshot_again_replaces_it(store):
    store.append("acc", ev())
    store.save_snapshot("acc", 1, {"v": "old"})
    store.save_snapshot("acc", 1, {"v": "new"})
    assert store.load_snapshot("acc").state == {"v": "new"}


def test_bad_snapshots_are_refused(store):
    store.append("acc", ev())
    with pytest.raises(ValueError, match="snapshot version 2 is ahead of stream 'acc'"):
        store.save_snapshot("acc", 2, {})
    with pytest.raises(TypeError, match=r"state\['when'\]: object of type object is not JSON"):
        store.save_snapshot("acc", 1, {"when": object()})
    with pytest.raises(ValueError, match="snapshot version must be >= 1"):
        store.save_snapshot("acc", 0, {})
    with pytest.raises(ValueError, match="non-empty"):
        store.save_snapshot("", 1, {})
    assert store.load_snapshot("acc") is None


# --- checkpoints and subscriptions ------------------------------------------------------------


def test_checkpoints_are_saved_by_name(store):
    store.append("s", [ev(), ev()])
    assert store.load_checkpoint("emails") == 0
    store.save_checkpoint("emails", 2)
    store.save_checkpoint("search", 1)
    assert (store.load_checkpoint("emails"), store.load_checkpoint("search")) == (2, 1)
    with pytest.raises(ValueError, match="beyond the end of the log"):
        store.save_checkpoint("emails", 3)
    with pytest.raises(ValueError, match="non-empty"):
        store.save_checkpoint("", 1)
    assert store.last_position() == 2


def test_subscription_catches_up_then_goes_live(store):
    store.append("a", [ev("One"), ev("Two")])
    seen = []
    sub = store.subscribe(lambda e: seen.append((e.position, e.type)))
    assert seen == [(1, "One"), (2, "Two")]
    store.append("b", ev("Three"))
    wait_for(store)
    assert seen == [(1, "One"), (2, "Two"), (3, "Three")]
    assert sub.position == 3 and sub.delivered == 3 and sub.lag() == 0
    sub.close()
    store.append("b", ev("Four"))
    assert len(seen) == 3
    assert sub.closed


def test_subscribe_from_a_position(store):
    store.append("a", [ev("One"), ev("Two"), ev("Three")])
    seen = []
    store.subscribe(lambda e: seen.append(e.position), from_position=3)
    assert seen == [3]


def test_a_checkpointed_subscriber_resumes_where_it_stopped(store):
    store.append("a", [ev("One"), ev("Two")])
    first = []
    sub = store.subscribe(first.append, checkpoint="dashboard")
    sub.close()
    store.append("a", [ev("Three")])
    assert store.load_checkpoint("dashboard") == 2
    again = []
    store.subscribe(again.append, checkpoint="dashboard")
    assert [e.type for e in again] == ["Three"]
    assert store.load_checkpoint("dashboard") == 3


def test_a_checkpoint_in_the_handlers_database_is_saved_in_its_transaction(store):
    from eda_kit.cqrs import SQLiteReadModel

    db = SQLiteReadModel("CREATE TABLE seen (position INTEGER PRIMARY KEY, type TEXT)")
    store.append("a", [ev("One"), ev("Two"), ev("Three")])

    def remember(event, unit):
        unit.execute("INSERT INTO seen VALUES (?, ?)", (event.position, event.type))
        if event.type == "Three" and broken:
            raise RuntimeError("after the insert")

    broken = True
    with pytest.raises(RuntimeError):
        store.subscribe(remember, checkpoint=db.checkpoint("seen"))
    assert db.query("SELECT position FROM seen") == [{"position": 1}, {"position": 2}]
    assert db.checkpoints() == {"seen": 2}  # the insert of Three was rolled back with it
    broken = False
    sub = store.subscribe(remember, checkpoint=db.checkpoint("seen"))  # resumes at Three
    store.append("a", ev("Four"))
    wait_for(store)
    assert [row["type"] for row in db.query("SELECT type FROM seen ORDER BY position")] == [
        "One",
        "Two",
        "Three",
        "Four",
    ]
    assert db.checkpoints() == {"seen": 4} and sub.position == 4
    assert store.load_checkpoint("seen") == 0  # the store keeps no copy of it


def test_wait_until_says_whether_a_subscription_got_there(store):
    store.append("s", ev("A"))
    seen = []
    sub = store.subscribe(lambda e: seen.append(e.position))
    assert sub.wait_until(1) is True and sub.wait_until() is True
    store.append("s", ev("B"))
    assert sub.wait_until(2, timeout=30) is True and seen == [1, 2]

    def fragile(event):
        if event.type == "Bad":
            raise KeyError("sku")

    stuck = store.subscribe(fragile)
    store.append("s", ev("Bad"))
    assert stuck.wait_until(timeout=30) is False  # stopped at position 3: it won't get there
    assert stuck.failed_event.position == 3 and isinstance(stuck.error, KeyError)
    store.wait_for_subscribers(timeout=30)  # returns: everyone got there or stopped

    polled = store.subscribe(lambda e: None, live=False)
    store.append("s", ev("C"))
    with pytest.raises(ValueError, match="not live and not polling"):
        polled.wait_until(4)
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        sub.wait_until(3, timeout=float("inf"))


def test_a_failing_handler_keeps_its_event_during_catch_up(store):
    store.append("a", [ev("One"), ev("Boom"), ev("Three")])
    seen = []

    def fragile(event):
        if event.type == "Boom":
            raise RuntimeError("projection bug")
        seen.append(event.type)

    with pytest.raises(RuntimeError, match="projection bug"):
        store.subscribe(fragile, checkpoint="p")
    assert store.load_checkpoint("p") == 1  # One handled; Boom not

    store.subscribe(lambda e: seen.append(e.type), checkpoint="p")  # the fixed handler
    assert seen == ["One", "Boom", "Three"]


def test_a_failing_live_handler_never_breaks_the_append_and_retries_the_same_event(store):
    broken = {"on": True}
    seen = []

    def flaky(event):
        if broken["on"]:
            raise ConnectionError("mail server down")
        seen.append(event.version)

    sub = store.subscribe(flaky, checkpoint="mailer")
    assert store.append("s", ev("A")) == 1  # the append succeeded; the handler did not
    assert sub.wait_until(1, timeout=30) is False
    assert isinstance(sub.error, ConnectionError)
    assert sub.failed_event.version == 1
    assert sub.position == 0 and store.load_checkpoint("mailer") == 0
    store.append("s", ev("B"))  # tries again from A, fails again
    assert sub.wait_until(2, timeout=30) is False
    assert sub.position == 0 and seen == []

    with pytest.raises(ConnectionError):  # an explicit poll reports the error to you
        sub.poll()

    broken["on"] = False
    assert sub.poll() == 2
    assert seen == [1, 2]
    assert sub.error is None and sub.failed_event is None
    assert store.load_checkpoint("mailer") == 2


def test_a_handler_may_append_and_events_stay_in_order(store):
    seen = []

    def reactor(event):
        seen.append(event.type)
        if event.type == "OrderPlaced":
            store.append("email", ev("EmailQueued"))
            seen.append("after append")

    sub = store.subscribe(reactor)
    store.append("order", ev("OrderPlaced"))
    assert sub.wait_until(2, timeout=30)  # its own append, too
    assert seen == ["OrderPlaced", "after append", "EmailQueued"]


def test_an_append_returns_without_waiting_for_live_subscribers(store):
    """A slow read model must not slow the business: live delivery is off the writer's path."""
    import threading

    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def slow(event):
        entered.set()
        release.wait(10)  # a read model stuck on a slow disk
        finished.set()

    def quick(event):
        seen.append(event.position)

    slow_sub = store.subscribe(slow)
    quick_sub = store.subscribe(quick)
    try:
        assert store.append("order-A1", ev("OrderPlaced")) == 1
        assert not finished.is_set()  # the append came back while the handler still runs
        assert entered.wait(30)
        assert store.append("order-A1", ev("OrderPaid")) == 2  # the next writer too
        assert quick_sub.wait_until(2, timeout=30)  # and the other subscriber is not held up
        assert seen == [1, 2] and not finished.is_set()
    finally:
        release.set()
    assert slow_sub.wait_until(2, timeout=30)


def test_an_idle_delivery_thread_ends_and_the_next_append_starts_another(store, monkeypatch):
    import threading
    import time

    from eda_kit.store import subscriptions

    monkeypatch.setattr(subscriptions, "IDLE_SECONDS", 0.05)

    def delivering():
        return [t for t in threading.enumerate() if t.name == "eda_kit deliver idle-test"]

    seen = []
    sub = store.subscribe(lambda e: seen.append(e.position), name="idle-test")
    store.append("s", ev())
    assert sub.wait_until(1, timeout=30)
    deadline = time.monotonic() + 30
    while delivering() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert delivering() == []  # an idle subscription keeps no thread
    store.append("s", ev())
    assert sub.wait_until(2, timeout=30) and seen == [1, 2]
    sub.close()
    assert delivering() == []


def test_after_a_fork_the_child_delivers_live_too(make_store):
    """The parent's delivery thread does not exist in a forked child: the child starts its own."""
    import os

    store = make_store()
    if type(store).__name__ != "InMemoryEventStore":
        pytest.skip("a database connection must not be shared across a fork")
    seen = []
    sub = store.subscribe(lambda e: seen.append(e.position))
    store.append("s", ev())
    assert sub.wait_until(1, timeout=30)  # the parent's delivery thread exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            store.append("s", ev())
            ok = sub.wait_until(2, timeout=10) and seen == [1, 2]
            os.write(write, b"ok" if ok else repr(seen).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"ok"


def test_a_poll_only_subscription_moves_only_when_polled(store):
    seen = []
    sub = store.subscribe(seen.append, live=False)
    store.append("s", [ev(), ev()])
    assert seen == []
    assert sub.lag() == 2
    assert sub.poll() == 2
    assert sub.poll() == 0
    assert [e.position for e in seen] == [1, 2]


def test_small_batches_deliver_everything(store):
    store.append("s", [ev(n=i) for i in range(7)])
    seen = []
    store.subscribe(lambda e: seen.append(e.data["n"]), batch_size=3, checkpoint="c")
    assert seen == list(range(7))
    assert store.load_checkpoint("c") == 7


@pytest.mark.parametrize("interval", [0, -1, float("inf"), float("nan"), 1e10, True, "1"])
def test_polling_intervals_that_could_never_work_are_refused_at_once(store, interval):
    sub = store.subscribe(lambda e: None)
    with pytest.raises((ValueError, TypeError), match="interval must be"):
        sub.start(interval)
    assert not sub.polling
    from eda_kit import Projection

    with pytest.raises((ValueError, TypeError), match="poll_every must be"):
        Projection("p", store).start(poll_every=interval)


def test_bad_subscriptions_are_refused(store):
    with pytest.raises(TypeError, match="handler must be callable"):
        store.subscribe("not a function")
    with pytest.raises(ValueError, match="from_position must be >= 1"):
        store.subscribe(print, from_position=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        store.subscribe(print, batch_size=0)
    with pytest.raises(ValueError, match="checkpoint name must be a non-empty name"):
        store.subscribe(print, checkpoint="")


@pytest.mark.parametrize(("name", "message"), [("a\x00b", "NUL"), ("\udc00", "lone surrogate")])
def test_checkpoint_names_no_store_could_keep_are_refused_by_every_store(store, name, message):
    with pytest.raises(ValueError, match=f"checkpoint name.*{message}"):
        store.save_checkpoint(name, 1)
    with pytest.raises(ValueError, match=f"checkpoint name.*{message}"):
        store.load_checkpoint(name)


def test_tracing_appends_and_deliveries(make_store):
    tracer = Tracer()
    store = make_store(tracer=tracer)
    with eda_kit.reproducible():

        def projector(event):
            if event.type == "Bad":
                raise KeyError("sku")

        store.subscribe(projector)
        store.append("order-A1", ev("OrderPlaced"))
        wait_for(store)  # deliveries run on their own thread: wait, for a stable order here
        store.append("order-A1", ev("Bad"))
        wait_for(store)
    assert [(r.source, r.event, r.target, r.outcome) for r in tracer] == [
        ("order-A1", "OrderPlaced", None, "sent"),
        (
            "order-A1",
            "OrderPlaced",
            "test_tracing_appends_and_deliveries.<locals>.projector",
            "delivered",
        ),
        ("order-A1", "Bad", None, "sent"),
        ("order-A1", "Bad", "test_tracing_appends_and_deliveries.<locals>.projector", "failed"),
    ]
    assert tracer[-1].detail == "KeyError: 'sku'"
    assert tracer[0].event_id == "evt-0001"


# --- lifetime --------------------------------------------------------------------------------


def test_a_closed_store_refuses_work_and_closes_its_subscriptions(store):
    sub = store.subscribe(print)
    store.close()
    store.close()  # twice is fine
    assert sub.closed
    for call in (
        lambda: store.append("s", ev()),
        store.read_all,
        store.last_position,
        lambda: store.read_stream("s"),
        store.streams,
    ):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_context_manager_closes(make_store):
    with make_store() as store:
        store.append("s", ev())
    assert store.closed


def test_appends_from_many_threads_reach_a_subscriber_once_each_in_log_order(store):
    import threading

    seen = []
    store.subscribe(lambda e: seen.append(e.position))

    def writer(n):
        for i in range(15):
            store.append(f"thread-{n}", ev(i=i))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(store)
    assert seen == list(range(1, 61))


def test_poll_from_inside_the_handler_delivers_nothing_twice(store):
    seen = []

    def handler(event):
        seen.append(event.position)
        assert sub_box[0] is None or sub_box[0].poll() == 0

    sub_box = [None]
    store.append("s", ev())
    sub_box[0] = store.subscribe(handler)
    store.append("s", [ev(), ev()])
    wait_for(store)
    assert seen == [1, 2, 3]


def test_a_subscription_closed_by_its_own_handler_stops(store):
    seen = []

    def handler(event):
        seen.append(event.position)
        if event.position == 2:
            subscription.close()

    subscription = store.subscribe(handler, live=False)
    store.append("s", [ev(), ev(), ev()])
    assert subscription.poll() == 2
    assert seen == [1, 2] and subscription.position == 2 and subscription.closed
    with pytest.raises(ValueError, match="closed"):
        subscription.poll()


def test_the_fast_read_path_builds_the_same_events_as_recorded_from_storage(store):
    from eda_kit.events import recorded_from_storage

    original = Event("OrderPlaced", {"items": [{"sku": "x"}]}, metadata={"by": "asha"})
    store.append("s", original)
    (fast,) = store.read_all()
    slow = recorded_from_storage(
        original.type,
        {"items": [{"sku": "x"}]},
        {"by": "asha"},
        original.id,
        original.time,
        "s",
        1,
        1,
    )
    assert fast == slow and repr(fast) == repr(slow)
    assert type(fast.data) is type(slow.data) and type(fast.data["items"]) is type(
        slow.data["items"]
    )
