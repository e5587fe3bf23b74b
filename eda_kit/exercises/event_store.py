"""Exercises for notebook 06, The event store.

- ``open_account``: create a stream only if it doesn't exist yet, even with a rival writer.
- ``deliver_pending``: hand events to a handler without ever losing one when it fails.
- ``catch_up``: a read model that keeps its own position, so it never counts twice.
"""

from __future__ import annotations

from ..events import Event
from ..store import ANY, NO_STREAM, STREAM_EXISTS, InMemoryEventStore, WrongExpectedVersion
from .framework import Checker, Exercise

__all__ = ["open_account", "deliver_pending", "catch_up"]


class _RivalStore(InMemoryEventStore):
    """A store where another writer strikes the moment you touch ``target`` (``times`` times).

    If you read first, the rival writes right after your read; if you append straight
    away, the rival's write lands just before yours.
    """

    def __init__(self, target: str, rival_event: Event, times: int = 1) -> None:
        super().__init__()
        self.target = target
        self.rival_event = rival_event
        self.times = times

    def _strike(self, stream_id: str) -> None:
        if stream_id == self.target and self.times > 0:
            self.times -= 1
            super().append(self.target, self.rival_event)  # (InMemoryEventStore's own)

    def stream_version(self, stream_id: str) -> int:
        version = super().stream_version(stream_id)
        self._strike(stream_id)
        return version

    def read_stream(self, stream_id, from_version=1, to_version=None):
        events = super().read_stream(stream_id, from_version, to_version)
        self._strike(stream_id)
        return events

    def append(self, stream_id, events, expected_version=ANY):
        self._strike(stream_id)
        return super().append(stream_id, events, expected_version)


def _summary(store: InMemoryEventStore, stream_id: str) -> list[tuple[str, dict]]:
    return [(e.type, dict(e.data)) for e in store.read_stream(stream_id)]


# ======================================================================================
# 1. Open an account exactly once


def open_account_once(store, account_id, owner):
    store.append(account_id, Event("AccountOpened", {"owner": owner}), expected_version=NO_STREAM)


def _opens_with_any(store, account_id, owner):  # the default: no check at all
    store.append(account_id, Event("AccountOpened", {"owner": owner}))


def _checks_then_appends(store, account_id, owner):  # check-then-act: a race
    if store.stream_version(account_id) != 0:
        raise WrongExpectedVersion(account_id, NO_STREAM, store.stream_version(account_id))
    store.append(account_id, Event("AccountOpened", {"owner": owner}), expected_version=ANY)


def _expects_existing_stream(store, account_id, owner):  # the wrong word
    store.append(
        account_id, Event("AccountOpened", {"owner": owner}), expected_version=STREAM_EXISTS
    )


def _test_open_account(open_account, check: Checker) -> None:
    store = InMemoryEventStore()
    with check.case("opening acc-1 in an empty store"):
        open_account(store, "acc-1", "asha")
        check.expect(
            _summary(store, "acc-1"), [("AccountOpened", {"owner": "asha"})], "the events of acc-1"
        )

    with check.case("opening acc-1 a second time (it already exists)"):
        try:
            open_account(store, "acc-1", "ravi")
        except WrongExpectedVersion:
            pass
        else:
            check.fail(
                "expected WrongExpectedVersion, but your function returned and acc-1 "
                f"now holds {_summary(store, 'acc-1')}"
            )
        check.expect(store.stream_version("acc-1"), 1, "events in acc-1")

    rival = _RivalStore("acc-2", Event("AccountOpened", {"owner": "rival"}))
    with check.case("another writer opens acc-2 right after you look at it"):
        try:
            open_account(rival, "acc-2", "meera")
        except WrongExpectedVersion:
            pass
        else:
            check.fail(
                "expected WrongExpectedVersion (the rival was first), but acc-2 now "
                f"holds {_summary(rival, 'acc-2')}: two owners for one account"
            )
        check.expect(
            _summary(rival, "acc-2"), [("AccountOpened", {"owner": "rival"})], "the events of acc-2"
        )


open_account = Exercise(
    "Open an account exactly once",
    test=_test_open_account,
    reference=open_account_once,
    hints=[
        "Opening an account means appending AccountOpened to a stream that must not exist "
        "yet. Which expected_version says exactly that?",
        "Don't look first and write afterwards: between your look and your write, someone "
        "else can write. Let the store do the check inside the append.",
        "store.append(account_id, Event('AccountOpened', {'owner': owner}), "
        "expected_version=NO_STREAM)",
    ],
    common_mistakes=[_opens_with_any, _checks_then_appends, _expects_existing_stream],
    explanation=(
        "NO_STREAM makes 'the stream must not exist' part of the append itself, checked while "
        "the store holds its lock (in SQLite: inside the BEGIN IMMEDIATE transaction). Checking "
        "stream_version first and then appending with ANY is check-then-act: correct when you "
        "are alone, wrong as soon as a second writer runs between the two calls, which is "
        "exactly the getNextVersion race of the source notes."
    ),
)


# ======================================================================================
# 2. Never lose an event when a handler fails


def deliver_pending_events(store, handler, position):
    for event in store.read_all(from_position=position + 1):
        try:
            handler(event)
        except Exception:
            return position  # stop here: this event is retried next time
        position = event.position
    return position


def _skips_failures(store, handler, position):  # swallows the error and moves on
    for event in store.read_all(from_position=position + 1):
        try:
            handler(event)
        except Exception:
            continue
        position = event.position
    return position


def _moves_position_first(store, handler, position):  # "at most once": the failed event is lost
    for event in store.read_all(from_position=position + 1):
        position = event.position
        try:
            handler(event)
        except Exception:
            return position
    return position


def _starts_at_position(store, handler, position):  # off by one: handles the last one again
    for event in store.read_all(from_position=max(position, 1)):
        try:
            handler(event)
        except Exception:
            return position
        position = event.position
    return position


def _store_with(*types: str) -> InMemoryEventStore:
    store = InMemoryEventStore()
    for number, type_ in enumerate(types, start=1):
        store.append(f"order-{number}", Event(type_, {"n": number}))
    return store


def _test_deliver_pending(deliver, check: Checker) -> None:
    store = _store_with("OrderPlaced", "OrderPaid", "OrderPlaced", "OrderShipped")
    with check.case("4 events, a handler that never fails, starting at position 0"):
        seen = []
        check.expect(deliver(store, lambda e: seen.append(e.position), 0), 4, "returned position")
        check.expect(seen, [1, 2, 3, 4], "positions handled")

    with check.case("starting at position 2 (events 1 and 2 were handled before)"):
        seen = []
        check.expect(deliver(store, lambda e: seen.append(e.position), 2), 4, "returned position")
        check.expect(seen, [3, 4], "positions handled")

    def fails_on_3(event):
        seen.append(event.position)
        if event.position == 3:
            raise ConnectionError("mail server down")

    with check.case("the handler fails on position 3"):
        seen = []
        position = deliver(store, fails_on_3, 0)
        check.expect(seen, [1, 2, 3], "positions tried (stop at the failure: order matters)")
        check.expect(position, 2, "returned position (3 was NOT handled)")

    with check.case("the next call, after a failure at 3, when the handler works again"):
        seen = []
        check.expect(deliver(store, lambda e: seen.append(e.position), 2), 4, "returned position")
        check.expect(seen, [3, 4], "positions handled (3 must come again)")


deliver_pending = Exercise(
    "Deliver pending events without losing one",
    test=_test_deliver_pending,
    reference=deliver_pending_events,
    hints=[
        "position is the last event the handler finished. The next one to deliver is at "
        "position + 1: store.read_all(from_position=position + 1).",
        "Move position forward only AFTER the handler returned. If it raises, stop and return "
        "the position you have: that event must be tried again next time.",
        "Why stop rather than skip? Later events may depend on the failed one (OrderShipped "
        "after OrderPlaced), and a skipped event is an event lost.",
    ],
    common_mistakes=[_skips_failures, _moves_position_first, _starts_at_position],
    explanation=(
        "This is what a subscription's checkpoint does: it records the last event handled, "
        "never the last event seen. Moving it first gives at-most-once delivery (a crash or an "
        "error loses the event); moving it after gives at-least-once (a crash between the "
        "handler and the save means the event comes again), which is why handlers should be "
        "idempotent. eda_kit's StoreSubscription works exactly like this function."
    ),
)


# ======================================================================================
# 3. A read model that keeps its own position


def catch_up_view(store, view):
    for event in store.read_all(from_position=view["position"] + 1):
        if event.type == "OrderPlaced":
            view["orders"] += 1
            view["revenue"] += event.data["total"]
        elif event.type == "OrderRefunded":
            view["revenue"] -= event.data["amount"]
        view["position"] = event.position


def _always_from_the_start(store, view):  # counts everything again on every call
    for event in store.read_all():
        if event.type == "OrderPlaced":
            view["orders"] += 1
            view["revenue"] += event.data["total"]
        elif event.type == "OrderRefunded":
            view["revenue"] -= event.data["amount"]
        view["position"] = event.position


def _from_position_not_after_it(store, view):  # re-reads the last event it handled
    for event in store.read_all(from_position=max(view["position"], 1)):
        if event.type == "OrderPlaced":
            view["orders"] += 1
            view["revenue"] += event.data["total"]
        elif event.type == "OrderRefunded":
            view["revenue"] -= event.data["amount"]
        view["position"] = event.position


def _forgets_the_position(store, view):
    for event in store.read_all(from_position=view["position"] + 1):
        if event.type == "OrderPlaced":
            view["orders"] += 1
            view["revenue"] += event.data["total"]
        elif event.type == "OrderRefunded":
            view["revenue"] -= event.data["amount"]


def _only_placed_orders(store, view):  # a report of orders, not of revenue
    for event in store.read_all(from_position=view["position"] + 1):
        if event.type == "OrderPlaced":
            view["orders"] += 1
            view["revenue"] += event.data["total"]
        view["position"] = event.position


def _test_catch_up(catch_up, check: Checker) -> None:
    def fresh():
        return {"position": 0, "orders": 0, "revenue": 0}

    store = InMemoryEventStore()
    view = fresh()
    with check.case("an empty store"):
        catch_up(store, view)
        check.expect(view, fresh(), "the view")

    store.append("order-A1", Event("OrderPlaced", {"total": 30}))
    store.append("order-A2", Event("OrderPlaced", {"total": 12}))
    with check.case("two orders placed (30 and 12)"):
        catch_up(store, view)
        check.expect(view, {"position": 2, "orders": 2, "revenue": 42}, "the view")

    with check.case("catch_up again with no new events"):
        catch_up(store, view)
        check.expect(
            view, {"position": 2, "orders": 2, "revenue": 42}, "the view (nothing new happened)"
        )

    store.append("order-A1", [Event("OrderRefunded", {"amount": 5}), Event("OrderShipped")])
    with check.case("then a refund of 5 and an OrderShipped"):
        catch_up(store, view)
        check.expect(view, {"position": 4, "orders": 2, "revenue": 37}, "the view")

    with check.case("a restarted read model, restored from a copy saved at position 2"):
        restored = {"position": 2, "orders": 2, "revenue": 42}
        catch_up(store, restored)
        check.expect(restored, {"position": 4, "orders": 2, "revenue": 37}, "the view")


catch_up = Exercise(
    "A read model that never counts twice",
    test=_test_catch_up,
    reference=catch_up_view,
    hints=[
        "The view remembers view['position']: the last event already counted. Read only the "
        "events after it.",
        "store.read_all(from_position=view['position'] + 1); for each event update the counts, "
        "then set view['position'] = event.position.",
        "OrderPlaced adds 1 order and data['total'] to revenue; OrderRefunded subtracts "
        "data['amount']; every other event only moves the position.",
    ],
    common_mistakes=[
        _always_from_the_start,
        _from_position_not_after_it,
        _forgets_the_position,
        _only_placed_orders,
    ],
    explanation=(
        "A read model that stores its position together with its state (here: in the same "
        "dict; in a database: in the same transaction) can be restarted, re-run and copied "
        "without ever counting an event twice. That is how projections get exactly-once "
        "results from at-least-once delivery: the position says what is already in the state."
    ),
)
