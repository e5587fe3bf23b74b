"""Exercises for notebook 06, The event store.

- ``open_account``: create a stream with its first events, once, atomically, even with a rival
  writer and a store that fails half-way.
- ``deliver_pending``: hand events to a handler without ever losing one when it fails.
- ``catch_up``: a read model that keeps its own position, so it never counts twice.
"""

from __future__ import annotations

from ..errors import StorageError
from ..events import Event
from ..store import ANY, NO_STREAM, STREAM_EXISTS, InMemoryEventStore, WrongExpectedVersion
from .framework import Exercise, Probe, Raised, Returned, outcome, same

__all__ = [
    "open_account",
    "deliver_pending",
    "catch_up",
    "open_account_once",
    "deliver_pending_events",
    "catch_up_view",
]


class _TrickyStore(InMemoryEventStore):
    """A store with two kinds of trouble, for one stream (``target``):

    - a rival writer who appends ``rival_event`` the moment you first touch the stream (if you
      read first, right after your read; if you append straight away, just before it);
    - a disk that fails your ``fail_on``-th append call (1 = the first), writing nothing.
    """

    def __init__(self, target, rival_event=None, fail_on=None):
        super().__init__()
        self.target, self.rival_event, self.fail_on = target, rival_event, fail_on
        self.appends = 0

    def _strike(self, stream_id):
        if self.rival_event is not None and stream_id == self.target:
            event, self.rival_event = self.rival_event, None
            InMemoryEventStore.append(self, self.target, event, ANY)

    def stream_version(self, stream_id):
        version = super().stream_version(stream_id)
        self._strike(stream_id)
        return version

    def read_stream(self, stream_id, from_version=1, to_version=None):
        events = super().read_stream(stream_id, from_version, to_version)
        self._strike(stream_id)
        return events

    def append(self, stream_id, events, expected_version=ANY):
        self._strike(stream_id)
        self.appends += 1
        if self.appends == self.fail_on:
            raise StorageError(f"disk full while appending to {stream_id!r}")
        return super().append(stream_id, events, expected_version)


def _summary(store, stream_id):
    return [(e.type, dict(e.data)) for e in store.read_stream(stream_id)]


# ======================================================================================
# 1. Open an account with its first deposit, exactly once, all or nothing


def open_account_once(store, account_id, owner, deposit):
    events = [Event("AccountOpened", {"owner": owner})]
    if deposit > 0:
        events.append(Event("Deposited", {"amount": deposit}))
    return store.append(account_id, events, expected_version=NO_STREAM)  # one atomic batch


def _opens_with_any(store, account_id, owner, deposit):  # the default: no check at all
    events = [Event("AccountOpened", {"owner": owner})]
    if deposit > 0:
        events.append(Event("Deposited", {"amount": deposit}))
    return store.append(account_id, events)


def _checks_then_appends(store, account_id, owner, deposit):  # check-then-act: a race
    if store.stream_version(account_id) != 0:
        raise WrongExpectedVersion(account_id, NO_STREAM, store.stream_version(account_id))
    events = [Event("AccountOpened", {"owner": owner})]
    if deposit > 0:
        events.append(Event("Deposited", {"amount": deposit}))
    return store.append(account_id, events, expected_version=ANY)


def _expects_existing_stream(store, account_id, owner, deposit):  # the wrong word
    events = [Event("AccountOpened", {"owner": owner})]
    if deposit > 0:
        events.append(Event("Deposited", {"amount": deposit}))
    return store.append(account_id, events, expected_version=STREAM_EXISTS)


def _two_appends(store, account_id, owner, deposit):  # not atomic: a failure leaves half
    version = store.append(
        account_id, Event("AccountOpened", {"owner": owner}), expected_version=NO_STREAM
    )
    if deposit > 0:
        version = store.append(account_id, Event("Deposited", {"amount": deposit}), version)
    return version


def _always_deposits(store, account_id, owner, deposit):  # a Deposited of 0 is no deposit
    events = [Event("AccountOpened", {"owner": owner}), Event("Deposited", {"amount": deposit})]
    return store.append(account_id, events, expected_version=NO_STREAM)


def _open_with_version_zero(store, account_id, owner, deposit):  # right: 0 means "no stream"
    opened = Event("AccountOpened", {"owner": owner})
    events = [opened, Event("Deposited", {"amount": deposit})] if deposit > 0 else [opened]
    return store.append(account_id, events, expected_version=0)


def _open_with_a_comprehension(store, account_id, owner, deposit):  # right
    wanted = [("AccountOpened", {"owner": owner}), ("Deposited", {"amount": deposit})]
    events = [Event(kind, data) for kind, data in wanted if data.get("amount", 1) > 0]
    return store.append(account_id, events, expected_version=NO_STREAM)


def _retries_an_unknown_outcome(store, account_id, owner, deposit):  # right: 06's Q4 advice
    events = [Event("AccountOpened", {"owner": owner})]
    if deposit > 0:
        events.append(Event("Deposited", {"amount": deposit}))
    for attempt in range(3):
        try:
            return store.append(account_id, events, expected_version=NO_STREAM)
        except StorageError:  # the outcome is unknown: NO_STREAM makes trying again safe
            if attempt == 2:
                raise


_ALL_OR_NOTHING = "all or nothing, and the caller knows which"


def _run_open_account(open_account, case):
    """``case``: accounts already in the store, the account to open (owner, deposit), and
    trouble: a rival who opens the same account at the worst moment, or a disk that fails
    on the first or second append call.

    The errors the task names must be those errors (``WrongExpectedVersion``, not a
    ``ValueError`` in its place). When the disk fails, what is judged is what is stored: the
    answer may let the error out (nothing written) or try again (06's Q4: an unknown outcome
    is retried) and return the version of a whole opening; half an account, or an answer that
    says nothing of a write it did not make, is wrong."""
    rival = Event("AccountOpened", {"owner": "rival"}) if case.get("rival") else None
    store = _TrickyStore(case["account"], rival, case.get("fail_on"))
    for account_id, owner in case.get("existing", []):
        InMemoryEventStore.append(store, account_id, Event("AccountOpened", {"owner": owner}))
    # what the account held before (from the case: reading the store would set off the rival)
    existing = dict(case.get("existing", []))
    before = (
        [("AccountOpened", {"owner": existing[case["account"]]})]
        if case["account"] in existing
        else []
    )
    args = (store, case["account"], case["owner"], case["deposit"])
    result = outcome(open_account, *args, exact=True)
    holds = _summary(store, case["account"])
    if case.get("fail_on"):
        opening = [("AccountOpened", {"owner": case["owner"]})]
        if case["deposit"] > 0:
            opening.append(("Deposited", {"amount": case["deposit"]}))
        told_nothing_written = isinstance(result, Raised) and holds == before
        opened_whole = result == Returned(len(opening)) and not before and same(holds, opening)
        if told_nothing_written or opened_whole:
            return {"result": _ALL_OR_NOTHING, "account holds": _ALL_OR_NOTHING}
    return {"result": result, "account holds": holds}


def _describe_open(case):
    trouble = ""
    if case.get("rival"):
        trouble = ", and a rival opens it at the worst moment"
    elif case.get("fail_on"):
        trouble = f", and the disk fails on your append call number {case['fail_on']}"
    existing = [a for a, _ in case.get("existing", [])]
    return (
        f"open {case['account']!r} for {case['owner']} with a deposit of {case['deposit']}"
        f"{', existing accounts ' + str(existing) if existing else ''}{trouble}"
    )


def _generate_open(rng, size):
    accounts = [f"acc-{n}" for n in range(1, 4)]
    existing = [(a, "someone") for a in rng.sample(accounts, rng.randint(0, min(size, 2)))]
    case = {
        "account": rng.choice(accounts),
        "owner": rng.choice(["asha", "meera"]),
        "deposit": rng.choice([0, 1, 2, rng.randint(1, 90_000), -1, -rng.randint(1, 900)]),
        "existing": existing,
    }
    trouble = rng.random()
    if trouble < 0.25:
        case["rival"] = True
    elif trouble < 0.5:
        case["fail_on"] = rng.choice([1, 2])
    return case


open_account = Exercise(
    "Open an account with its first deposit: exactly once, all or nothing",
    reference=open_account_once,
    run=_run_open_account,
    describe=_describe_open,
    probes=[
        Probe(
            "opening acc-1 for asha with 50000 in an empty store",
            {"account": "acc-1", "owner": "asha", "deposit": 50_000},
        ),
        Probe(
            "opening acc-1 with no deposit (0)",
            {"account": "acc-1", "owner": "asha", "deposit": 0},
        ),
        Probe(
            "a deposit of 1 paisa, the smallest there is",
            {"account": "acc-1", "owner": "asha", "deposit": 1},
        ),
        Probe(
            "opening acc-1 a second time (it already exists)",
            {"account": "acc-1", "owner": "ravi", "deposit": 500, "existing": [("acc-1", "asha")]},
        ),
        Probe(
            "another writer opens acc-2 right after you look at it",
            {"account": "acc-2", "owner": "meera", "deposit": 500, "rival": True},
        ),
        Probe(
            "the disk fails on your second append call",
            {"account": "acc-3", "owner": "asha", "deposit": 500, "fail_on": 2},
        ),
        Probe(
            "other accounts exist (the version returned is acc-1's, not a position)",
            {"account": "acc-1", "owner": "asha", "deposit": 500, "existing": [("acc-9", "x")]},
        ),
        Probe(
            "the disk fails on your first append call (letting the error out and trying again "
            "are both right: the store must hold all or nothing)",
            {"account": "acc-3", "owner": "asha", "deposit": 500, "fail_on": 1},
        ),
        Probe(
            "a deposit of -500 (not above 0: the account opens with no Deposited)",
            {"account": "acc-1", "owner": "asha", "deposit": -500},
        ),
    ],
    generate=_generate_open,
    hints=[
        "Opening means writing AccountOpened (and, for a deposit above 0, Deposited) to a "
        "stream that must not exist yet. Which expected_version says exactly that?",
        "Don't look first and write afterwards: between your look and your write, someone "
        "else can write. And don't write in two steps: if the second fails, the account is "
        "half-open. One append with a list of events is all or nothing.",
        "store.append(account_id, [Event('AccountOpened', {'owner': owner}), "
        "Event('Deposited', {'amount': deposit})], expected_version=NO_STREAM), leaving out "
        "the Deposited when deposit is 0; return what append returns.",
    ],
    common_mistakes=[
        _opens_with_any,
        _checks_then_appends,
        _expects_existing_stream,
        _two_appends,
        _always_deposits,
    ],
    also_correct=[_open_with_version_zero, _open_with_a_comprehension, _retries_an_unknown_outcome],
    explanation=(
        "NO_STREAM makes 'the stream must not exist' part of the append itself, checked while "
        "the store holds its lock (in SQLite: inside the BEGIN IMMEDIATE transaction). Checking "
        "stream_version first and then appending with ANY is check-then-act: correct when you "
        "are alone, wrong as soon as a second writer runs between the two calls, which is "
        "exactly the getNextVersion race of the source notes. And the events of one decision "
        "go in one append: a batch is stored whole or not at all."
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


def _treats_none_as_failure(store, handler, position):  # a handler returning None succeeded
    for event in store.read_all(from_position=position + 1):
        try:
            done = handler(event)
        except Exception:
            return position
        if done is None:
            return position
        position = event.position
    return position


def _deliver_with_while(store, handler, position):  # right: one event at a time
    while True:
        batch = store.read_all(from_position=position + 1, limit=1)
        if not batch:
            return position
        try:
            handler(batch[0])
        except Exception:
            return position
        position = batch[0].position


def _deliver_with_else(store, handler, position):  # right: try/except/else
    for event in store.read_all(from_position=position + 1):
        try:
            handler(event)
        except Exception:
            break
        else:
            position = event.position
    return position


#: What a failing handler raises, by the event's position: the network, a timeout, and bugs
#: (a missing key, a bad value), so an answer that only catches one kind is caught out.
_HANDLER_ERRORS = (RuntimeError, ConnectionError, ValueError, TimeoutError, KeyError)


def _run_deliver(deliver, case):
    """``case``: the events' types, the starting position, and which positions fail how many
    times. ``deliver`` is called again and again from the position it returned, the way a
    subscription loop would, until it makes no progress twice in a row."""
    store = InMemoryEventStore()
    for number, kind in enumerate(case["types"], start=1):
        store.append(f"order-{number}", Event(kind, {"n": number}))
    failures = {int(position): times for position, times in case["fail"].items()}
    log = []

    def handler(event):
        log.append(event.position)
        if failures.get(event.position, 0) > 0:
            failures[event.position] -= 1
            error = _HANDLER_ERRORS[event.position % len(_HANDLER_ERRORS)]
            raise error(f"the handler failed on position {event.position}")
        return "sent" if case.get("returns") else None

    position, calls, stuck = case["start"], [], 0
    while stuck < 2 and len(calls) < 12:
        log.clear()
        new = deliver(store, handler, position)
        calls.append({"returned": new, "handled": list(log)})
        stuck = stuck + 1 if new == position else 0
        position = new
    return calls


def _describe_deliver(case):
    fails = {
        int(p): f"{n}x {_HANDLER_ERRORS[int(p) % len(_HANDLER_ERRORS)].__name__}"
        for p, n in case["fail"].items()
    }
    return (
        f"{len(case['types'])} events, starting after position {case['start']}, "
        f"failing positions {fails or 'none'}"
    )


def _generate_deliver(rng, size):
    count = rng.randint(0, size + 2)
    types = [rng.choice(["OrderPlaced", "OrderPaid", "OrderShipped"]) for _ in range(count)]
    fail = {}
    for position in range(1, count + 1):
        if rng.random() < 0.25:
            fail[str(position)] = rng.randint(1, 2)
    return {
        "types": types,
        "start": rng.randint(0, count),
        "fail": fail,
        "returns": rng.random() < 0.5,
    }


_FOUR = ["OrderPlaced", "OrderPaid", "OrderPlaced", "OrderShipped"]

deliver_pending = Exercise(
    "Deliver pending events without losing one",
    reference=deliver_pending_events,
    run=_run_deliver,
    describe=_describe_deliver,
    probes=[
        Probe(
            "4 events, a handler that never fails, starting at position 0",
            {"types": _FOUR, "start": 0, "fail": {}},
        ),
        Probe(
            "starting at position 2 (events 1 and 2 were handled before)",
            {"types": _FOUR, "start": 2, "fail": {}},
        ),
        Probe(
            "the handler fails once on position 3", {"types": _FOUR, "start": 0, "fail": {"3": 1}}
        ),
        Probe(
            "the handler fails twice on position 1, once on 4",
            {"types": _FOUR, "start": 0, "fail": {"1": 2, "4": 1}},
        ),
        Probe(
            "nothing new: starting at the last position", {"types": _FOUR, "start": 4, "fail": {}}
        ),
        Probe("an empty store", {"types": [], "start": 0, "fail": {}}),
        Probe(
            "a handler that returns None when it succeeds",
            {"types": _FOUR, "start": 0, "fail": {}, "returns": False},
        ),
        Probe(
            "the handler has a bug: a ValueError on position 2, a KeyError on 4 (not only "
            "the network fails)",
            {"types": _FOUR, "start": 0, "fail": {"2": 1, "4": 1}},
        ),
    ],
    generate=_generate_deliver,
    hints=[
        "position is the last event the handler finished. The next one to deliver is the one "
        "right after it in the global log.",
        "Move position forward only AFTER the handler returned (whatever it returned, None "
        "included). If it raises, stop and return the position you have: that event must be "
        "tried again next time.",
        "for event in store.read_all(from_position=position + 1): try: handler(event) except "
        "Exception: return position; then position = event.position. Return position at the end.",
    ],
    common_mistakes=[
        _skips_failures,
        _moves_position_first,
        _starts_at_position,
        _treats_none_as_failure,
    ],
    also_correct=[_deliver_with_while, _deliver_with_else],
    explanation=(
        "This is what a subscription's checkpoint does: it records the last event handled, "
        "never the last event seen. Moving it first gives at-most-once delivery (a crash or an "
        "error loses the event); moving it after gives at-least-once (a crash between the "
        "handler and the save means the event comes again), which is why handlers should be "
        "idempotent. Stopping (rather than skipping) keeps the order: OrderShipped is never "
        "handled before the OrderPlaced that failed. eda_kit's StoreSubscription works "
        "exactly like this function."
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


def _moves_only_on_known_events(store, view):  # position stuck on the last order event
    for event in store.read_all(from_position=view["position"] + 1):
        if event.type == "OrderPlaced":
            view["orders"] += 1
            view["revenue"] += event.data["total"]
            view["position"] = event.position
        elif event.type == "OrderRefunded":
            view["revenue"] -= event.data["amount"]
            view["position"] = event.position


def _catch_up_with_a_table(store, view):  # right: a table of what each type changes
    changes = {
        "OrderPlaced": lambda data: (1, data["total"]),
        "OrderRefunded": lambda data: (0, -data["amount"]),
    }
    for event in store.read_all(from_position=view["position"] + 1):
        orders, revenue = changes.get(event.type, lambda data: (0, 0))(event.data)
        view.update(
            orders=view["orders"] + orders,
            revenue=view["revenue"] + revenue,
            position=event.position,
        )


def _catch_up_with_match(store, view):  # right: match, and the position set once at the end
    events = store.read_all(from_position=view["position"] + 1)
    for event in events:
        match event.type, event.data:
            case "OrderPlaced", {"total": total}:
                view["orders"] += 1
                view["revenue"] += total
            case "OrderRefunded", {"amount": amount}:
                view["revenue"] -= amount
    if events:
        view["position"] = events[-1].position


_EMPTY_VIEW = {"position": 0, "orders": 0, "revenue": 0}


def _run_catch_up(catch_up, script):
    """``script``: steps, each "catch_up", an event (type, amount) appended to the store, or a
    view taking over from the live one: "restart" (a copy saved at the last catch_up), "an
    older backup" (the copy saved at the catch_up before that) or "a new, empty view" (a
    second read model starting from nothing). Each must catch up from its own position, over
    the same store; a position kept anywhere else (a checkpoint in the store) is the live
    view's, not theirs. Observes the view after every catch_up."""
    store = InMemoryEventStore()
    view = dict(_EMPTY_VIEW)
    backups = [dict(view)]
    seen = []
    for step in script:
        if step == "catch_up":
            catch_up(store, view)
            seen.append(dict(view))
            backups.append(dict(view))
        elif step == "restart":
            view = dict(backups[-1])
        elif step == "an older backup":
            view = dict(backups[-2] if len(backups) > 1 else _EMPTY_VIEW)
        elif step == "a new, empty view":
            view = dict(_EMPTY_VIEW)
        else:
            kind, amount = step
            data = {"OrderPlaced": {"total": amount}, "OrderQuoted": {"total": amount}}.get(
                kind, {"amount": amount}
            )
            store.append(f"order-{len(seen)}", Event(kind, data))
    return seen


def _describe_catch_up(script):
    words = [step if isinstance(step, str) else f"{step[0]} {step[1]}" for step in script]
    return "steps [" + ", ".join(words) + "]"


def _generate_catch_up(rng, size):
    script = []
    for _ in range(rng.randint(1, size + 4)):
        roll = rng.random()
        if roll < 0.3:
            script.append("catch_up")
        elif roll < 0.4:
            script.append(rng.choice(["restart", "an older backup", "a new, empty view"]))
        else:
            kind = rng.choice(["OrderPlaced", "OrderPlaced", "OrderRefunded", "OrderShipped"])
            kind = "OrderQuoted" if rng.random() < 0.1 else kind
            script.append((kind, rng.randint(1, 60)))
    return [*script, "catch_up"]


catch_up = Exercise(
    "A read model that never counts twice",
    reference=catch_up_view,
    run=_run_catch_up,
    describe=_describe_catch_up,
    probes=[
        Probe("an empty store", ["catch_up"]),
        Probe(
            "two orders placed (30 and 12)",
            [("OrderPlaced", 30), ("OrderPlaced", 12), "catch_up"],
        ),
        Probe(
            "catch_up again with no new events",
            [("OrderPlaced", 30), ("OrderPlaced", 12), "catch_up", "catch_up"],
        ),
        Probe(
            "then a refund of 5 and an OrderShipped",
            [
                ("OrderPlaced", 30),
                "catch_up",
                ("OrderRefunded", 5),
                ("OrderShipped", 0),
                "catch_up",
            ],
        ),
        Probe(
            "a restarted read model, restored from a copy saved at its last catch_up",
            [("OrderPlaced", 30), "catch_up", ("OrderPlaced", 12), "restart", "catch_up"],
        ),
        Probe(
            "the last event is one the view ignores (an OrderShipped)",
            [("OrderPlaced", 30), ("OrderShipped", 0), "catch_up", ("OrderPlaced", 5), "catch_up"],
        ),
        Probe(
            "an OrderQuoted carrying a total (a price offered, not an order)",
            [("OrderQuoted", 40), ("OrderPlaced", 30), "catch_up"],
        ),
        Probe(
            "a new, empty view catches up over the same store (it counts every order once)",
            [("OrderPlaced", 30), "catch_up", ("OrderPlaced", 12), "catch_up"]
            + ["a new, empty view", "catch_up"],
        ),
        Probe(
            "an older backup of the view (two catch_ups ago) is restored and catches up",
            [("OrderPlaced", 30), "catch_up", ("OrderRefunded", 5), "catch_up"]
            + [("OrderPlaced", 12), "catch_up", "an older backup", "catch_up"],
        ),
    ],
    generate=_generate_catch_up,
    hints=[
        "The view remembers view['position']: the last event already counted. Read only the "
        "events after it.",
        "Every event you read moves view['position'] to its position, even one that changes "
        "no number (an OrderShipped): otherwise you read it again next time.",
        "for event in store.read_all(from_position=view['position'] + 1): OrderPlaced adds 1 "
        "order and data['total'] to revenue; OrderRefunded subtracts data['amount']; then "
        "view['position'] = event.position.",
    ],
    common_mistakes=[
        _always_from_the_start,
        _from_position_not_after_it,
        _forgets_the_position,
        _only_placed_orders,
        _moves_only_on_known_events,
    ],
    also_correct=[_catch_up_with_a_table, _catch_up_with_match],
    explanation=(
        "A read model that stores its position together with its state (here: in the same "
        "dict; in a database: in the same transaction) can be restarted, re-run and copied "
        "without ever counting an event twice. That is how projections get exactly-once "
        "results from at-least-once delivery: the position says what is already in the state."
    ),
)
