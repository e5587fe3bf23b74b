"""Exercises for notebook 04, Event sourcing.

- ``new_event``: teach the account a new event (``FeeCharged``) by extending ``apply``.
- ``balance_on``: "what was the balance on Tuesday?", answered from the events alone.
- ``upcaster``: read old ``Withdrawn`` events (rupees and paise) in today's shape (paise).
- ``retry``: two tellers, one account: reload and retry when the save loses the race.
"""

from __future__ import annotations

import os
import time as _time
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

from ..events import Event
from ..sourcing import Aggregate, Repository
from ..sourcing.upcasting import Upcasters
from ..store import InMemoryEventStore, WrongExpectedVersion
from .framework import Exercise, Probe, outcome

__all__ = ["BankAccount", "FeeAccount", "new_event", "balance_on", "upcaster", "retry"]


class BankAccount(Aggregate):
    """The notebook's account (balances in paise, as whole numbers)."""

    def __init__(self, id):
        super().__init__(id)
        self.owner = None
        self.balance = 0

    def open(self, owner):
        self.record("AccountOpened", owner=owner)

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.record("Deposited", amount=amount)

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.record("Withdrawn", amount=amount)

    def apply(self, event):
        match event.type:
            case "AccountOpened":
                self.owner = event.data["owner"]
            case "Deposited":
                self.balance += event.data["amount"]
            case "Withdrawn":
                self.balance -= event.data["amount"]


def _history(steps):
    """Events from plain (type, data) pairs."""
    return [Event(type_, data) for type_, data in steps]


def _random_history(rng, size, kinds=("Deposited", "Deposited", "Withdrawn")):
    steps = [("AccountOpened", {"owner": rng.choice(["asha", "ravi"])})]
    for _ in range(rng.randint(0, size + 1)):
        kind = rng.choice(kinds)
        if kind == "StatementSent":
            steps.append((kind, {"month": "2026-01"}))
        else:
            steps.append((kind, {"amount": rng.randint(1, 50_000)}))
    return steps


def _describe_history(steps):
    words = [
        f"{t} {d['amount']}" if "amount" in d else f"{t} {next(iter(d.values()), '')}".strip()
        for t, d in steps
    ]
    return "events [" + ", ".join(words) + "]"


# ======================================================================================
# 1. A new event: FeeCharged


class FeeAccount(BankAccount):
    def __init__(self, id):
        super().__init__(id)
        self.fees_paid = 0

    def apply(self, event):
        match event.type:
            case "FeeCharged":
                self.balance -= event.data["amount"]
                self.fees_paid += event.data["amount"]
            case _:
                super().apply(event)


class _FeeAdded(FeeAccount):
    def apply(self, event):
        match event.type:
            case "FeeCharged":
                self.balance += event.data["amount"]
                self.fees_paid += event.data["amount"]
            case _:
                super(FeeAccount, self).apply(event)


class _FeeForgetsTheRest(FeeAccount):
    def apply(self, event):
        match event.type:
            case "FeeCharged":
                self.balance -= event.data["amount"]
                self.fees_paid += event.data["amount"]


class _FeeNotCounted(FeeAccount):
    def apply(self, event):
        match event.type:
            case "FeeCharged":
                self.balance -= event.data["amount"]
            case _:
                super(FeeAccount, self).apply(event)


class _FeeChecksRules(FeeAccount):  # apply refusing a fact that already happened
    def apply(self, event):
        if event.type == "FeeCharged":
            if event.data["amount"] > self.balance:
                raise ValueError("insufficient funds for the fee")
            self.balance -= event.data["amount"]
            self.fees_paid += event.data["amount"]
        else:
            super(FeeAccount, self).apply(event)


class _FeeWithIf(BankAccount):  # right: if/else, and the attribute set up in __init__
    def __init__(self, id):
        super().__init__(id)
        self.fees_paid = 0

    def apply(self, event):
        if event.type == "FeeCharged":
            self.balance -= event.data["amount"]
            self.fees_paid += event.data["amount"]
        else:
            super().apply(event)


class _FeeWithATable(BankAccount):  # right: a table of handlers, one per event type
    def __init__(self, id):
        super().__init__(id)
        self.fees_paid = 0

    def on_fee(self, data):
        self.balance -= data["amount"]
        self.fees_paid += data["amount"]

    def apply(self, event):
        handler = {"FeeCharged": self.on_fee}.get(event.type)
        if handler is None:
            return super().apply(event)
        handler(event.data)


def _run_new_event(cls, steps):
    """Fold the events into a fresh account, and load the same stream through a Repository."""
    if not (isinstance(cls, type) and issubclass(cls, Aggregate)):
        return {"answer": f"{cls!r} is not an Aggregate class (pass the class itself)"}
    # Today's events, stamped with the schemas today's class declares: a class that inherits
    # upcasters (a notebook's BankAccount.upcasters = {("Deposited", 1): ...}) must not upcast
    # them again, the way a plain, unstamped event would be.
    today = Upcasters.of_class(cls)
    events = [today.stamp(event) for event in _history(steps)]
    account = cls("acc-1")
    for event in events:
        account.apply(event)
    folded = {
        "balance": account.balance,
        "fees_paid": getattr(account, "fees_paid", "missing"),
        "owner": account.owner,
    }
    store = InMemoryEventStore()
    if steps:
        store.append("acc-1", events)
        loaded = Repository(store, cls).get("acc-1")
        folded["loaded (balance, fees_paid, version)"] = (
            loaded.balance,
            getattr(loaded, "fees_paid", "missing"),
            loaded.version,
        )
    return folded


_OPENED = ("AccountOpened", {"owner": "asha"})


def _amount(kind, amount):
    return (kind, {"amount": amount})


new_event = Exercise(
    "Teach the account a new event: FeeCharged",
    reference=FeeAccount,
    run=_run_new_event,
    describe=_describe_history,
    probes=[
        Probe(
            "AccountOpened, Deposited 100000 (no fee yet)",
            [_OPENED, _amount("Deposited", 100_000)],
        ),
        Probe(
            "Deposited 100000, then FeeCharged 2500",
            [_OPENED, _amount("Deposited", 100_000), _amount("FeeCharged", 2_500)],
        ),
        Probe(
            "FeeCharged 2500 twice, Withdrawn 20000",
            [_OPENED, _amount("Deposited", 100_000), _amount("FeeCharged", 2_500)]
            + [_amount("FeeCharged", 2_500), _amount("Withdrawn", 20_000)],
        ),
        Probe(
            "a fee bigger than the balance: it already happened, apply must not refuse it",
            [_OPENED, _amount("Deposited", 1_000), _amount("FeeCharged", 2_500)],
        ),
        Probe(
            "a StatementSent event (it changes nothing)",
            [_OPENED, _amount("Deposited", 5_000), ("StatementSent", {"month": "2026-01"})],
        ),
    ],
    generate=lambda rng, size: _random_history(
        rng, size, ("Deposited", "Withdrawn", "FeeCharged", "FeeCharged", "StatementSent")
    ),
    hints=[
        "A FeeCharged event carries data['amount'] (in paise). It takes money out of the "
        "account, and the account also keeps a running total in self.fees_paid.",
        "Add a case for 'FeeCharged' to the match; every other event type must still reach the "
        "parent class's apply. And apply never refuses an event: the fee was already charged.",
        "case 'FeeCharged': self.balance -= event.data['amount']; "
        "self.fees_paid += event.data['amount'], then case _: super().apply(event).",
    ],
    common_mistakes=[_FeeAdded, _FeeForgetsTheRest, _FeeNotCounted, _FeeChecksRules],
    also_correct=[_FeeWithIf, _FeeWithATable],
    explanation=(
        "apply is the one place where state changes, so a new kind of fact means one new case "
        "there. The old cases still have to run for the old events, which is why everything "
        "else goes to super().apply(event): an account rebuilt from its stream must see every "
        "event, not only the new kind. And apply never checks rules (may this fee be charged?): "
        "that is the command's job, before the event is recorded. An event is a fact; an apply "
        "that refuses one makes the account impossible to load."
    ),
)


# ======================================================================================
# 2. What was the balance on Tuesday?


def balance_on_day(events, day):
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    balance = 0
    for event in events:
        if event.time >= end_of_day:
            break
        match event.type:
            case "Deposited":
                balance += event.data["amount"]
            case "Withdrawn":
                balance -= event.data["amount"]
    return balance


def _only_deposits(events, day):  # the source notes' rebuild: forgets withdrawals
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    return sum(e.data["amount"] for e in events if e.type == "Deposited" and e.time < end_of_day)


def _stops_at_start_of_day(events, day):  # the balance when Tuesday *began*
    start = datetime.combine(day, time(0), tzinfo=UTC)
    balance = 0
    for event in events:
        if event.time < start:
            if event.type == "Deposited":
                balance += event.data["amount"]
            elif event.type == "Withdrawn":
                balance -= event.data["amount"]
    return balance


def _only_that_day(events, day):  # the day's movements, not the balance
    balance = 0
    for event in events:
        if event.time.date() == day:
            if event.type == "Deposited":
                balance += event.data["amount"]
            elif event.type == "Withdrawn":
                balance -= event.data["amount"]
    return balance


def _includes_midnight(events, day):  # an event at 00:00 the next day is not "on" this day
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    balance = 0
    for event in events:
        if event.time > end_of_day:
            break
        if event.type == "Deposited":
            balance += event.data["amount"]
        elif event.type == "Withdrawn":
            balance -= event.data["amount"]
    return balance


def _by_date(events, day):  # right: compare calendar dates (the times are UTC)
    sign = {"Deposited": 1, "Withdrawn": -1}
    return sum(
        sign.get(e.type, 0) * e.data.get("amount", 0) for e in events if e.time.date() <= day
    )


def _with_takewhile(events, day):  # right: the prefix of the story up to the end of the day
    from itertools import takewhile

    end = datetime.combine(day, time.max, tzinfo=UTC)
    total = 0
    for event in takewhile(lambda e: e.time <= end, events):
        if event.type in ("Deposited", "Withdrawn"):
            total += event.data["amount"] * (1 if event.type == "Deposited" else -1)
    return total


_MONDAY = "2026-01-05"  # a week inside one month
_MONTH_END = "2026-01-29"  # Thursday: the week runs into February
_YEAR_END = "2025-12-29"  # Monday: the week runs into 2026
_SECOND = 1_000_000  # event times are microseconds after the first day's 00:00 UTC
_MINUTE = 60 * _SECOND
_DAY = 24 * 60 * _MINUTE
#: Local clocks the checker sets the machine to (POSIX TZ strings: no time zone files needed).
_TIME_ZONES = {"IST-5:30": "India, UTC+5:30", "PST8": "California, UTC-8"}


@contextmanager
def _local_time_zone(tz):
    """Run with the machine's local time zone set to ``tz`` (Unix; elsewhere unchanged): an
    answer that uses local time (``astimezone()``, ``fromtimestamp``) must not depend on where
    the machine happens to be."""
    if tz is None or not hasattr(_time, "tzset"):
        yield
        return
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    _time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        _time.tzset()


def _moment(case, offset):
    return datetime.fromisoformat(case.get("start", _MONDAY)).replace(tzinfo=UTC) + timedelta(
        microseconds=offset
    )


def _run_balance_on(balance_on, case):
    """``case``: {"events": [(type, amount, microseconds after the first day's 00:00 UTC)],
    "day": days after the first day, "start": the first day (default Monday 5 January 2026),
    "tz": the machine's local time zone while the answer runs (default: as it is)}. The
    events are in time order, as a stream is, and the account is opened first."""
    offsets = [offset for _, _, offset in case["events"]]
    if offsets != sorted(offsets) or any(
        (kind == "AccountOpened") != (index == 0)
        for index, (kind, _, _) in enumerate(case["events"])
    ):
        raise ValueError("the events of a stream are in time order, the opening first")
    events = [
        Event(kind, {"amount": amount} if amount is not None else {"owner": "asha"},
              time=_moment(case, offset))
        for kind, amount, offset in case["events"]
    ]  # fmt: skip
    day = _moment(case, case["day"] * _DAY).date()
    with _local_time_zone(case.get("tz")):
        return balance_on(events, day)


def _describe_moment(moment):
    text = f"{moment:%a %d %b %H:%M}"
    if moment.second or moment.microsecond:
        text += f":{moment.second:02d}"
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text


def _describe_balance_on(case):
    words = []
    for kind, amount, offset in case["events"]:
        moment = _describe_moment(_moment(case, offset))
        words.append(f"{moment} {kind}{'' if amount is None else ' ' + str(amount)}")
    day = _moment(case, case["day"] * _DAY).date()
    where = f" (the machine's clock: {_TIME_ZONES[case['tz']]})" if case.get("tz") else ""
    return f"the end of {day:%A %d %B %Y}{where}, events [" + ", ".join(words) + "]"


def _generate_balance_on(rng, size):
    def moment():
        day = rng.randint(0, 5)
        return rng.choice(
            [
                rng.randint(0, 6 * _DAY - 1),  # any time, to the microsecond
                day * _DAY,  # exactly midnight
                day * _DAY - 1,  # the last microsecond of a day
                day * _DAY - rng.randint(1, 59 * _SECOND),  # in the day's last minute
                day * _DAY - rng.randint(1, 12 * 60) * _MINUTE,  # in the day's last hours
            ]
        )

    moments = sorted(max(moment(), 0) for _ in range(rng.randint(0, size + 2)))
    events = [("AccountOpened", None, moments[0])] if moments else []
    for offset in moments[1:]:
        events.append(
            (rng.choice(["Deposited", "Deposited", "Withdrawn"]), rng.randint(1, 9_000), offset)
        )
    case = {
        "start": rng.choice([_MONDAY, _MONTH_END, _YEAR_END]),
        "events": events,
        "day": rng.randint(-1, 5),
    }
    if rng.random() < 0.3:
        case["tz"] = rng.choice(sorted(_TIME_ZONES))
    return case


def _at(day, hours=0, minutes=0, seconds=0, micro=0):
    return day * _DAY + hours * 60 * _MINUTE + minutes * _MINUTE + seconds * _SECOND + micro


def _week_probe(label, day, events=None, **more):
    week = [
        ("AccountOpened", None, _at(0, 9)),
        ("Deposited", 50_000, _at(0, 9, 5)),  # Monday 09:05
        ("Deposited", 20_000, _at(1, 11)),  # Tuesday 11:00
        ("Withdrawn", 30_000, _at(1, 23, 59)),  # Tuesday 23:59
        ("Deposited", 5_000, _at(2)),  # Wednesday 00:00 exactly
        ("Withdrawn", 1_000, _at(3, 15)),  # Thursday 15:00
    ]
    return Probe(label, {"events": week if events is None else events, "day": day, **more})


balance_on = Exercise(
    "What was the balance on Tuesday?",
    reference=balance_on_day,
    run=_run_balance_on,
    describe=_describe_balance_on,
    probes=[
        _week_probe("the balance at the end of Monday 5 January", 0),
        _week_probe("the end of Tuesday 6 January (a withdrawal at 23:59)", 1),
        _week_probe("the end of Wednesday (a deposit at exactly 00:00 Wednesday)", 2),
        _week_probe(
            "the end of Tuesday, with a deposit at exactly 00:00 Wednesday",
            1,
            [("AccountOpened", None, 0), ("Deposited", 7_000, _at(2))],
        ),  # fmt: skip
        _week_probe(
            "the end of Tuesday, with a withdrawal at 23:59:59.5 Tuesday (still Tuesday)",
            1,
            [
                ("AccountOpened", None, 0),
                ("Deposited", 9_000, 5),
                ("Withdrawn", 4_000, _at(1, 23, 59, 59, 500_000)),
            ],
        ),  # fmt: skip
        _week_probe(
            "the end of Saturday 31 January, with deposits on Friday 30 January and Sunday 1 "
            "February (the 1st comes after the 31st)",
            2,
            [
                ("AccountOpened", None, 0),
                ("Deposited", 3_000, _at(1, 10)),
                ("Deposited", 700, _at(3, 10)),
            ],
            start=_MONTH_END,
        ),  # fmt: skip
        _week_probe(
            "the end of Sunday 1 February, with a deposit on Friday 30 January",
            3,
            [("AccountOpened", None, 0), ("Deposited", 3_000, _at(1, 10))],
            start=_MONTH_END,
        ),  # fmt: skip
        _week_probe(
            "the end of Tuesday on a machine set to India time (UTC+5:30): a deposit at 20:00 "
            "UTC Tuesday is 01:30 Wednesday there, but the day is a UTC day",
            1,
            [("AccountOpened", None, 0), ("Deposited", 6_000, _at(1, 20))],
            tz="IST-5:30",
        ),  # fmt: skip
        _week_probe(
            "the end of Tuesday on a machine set to California time (UTC-8): a deposit at "
            "03:00 UTC Wednesday is 19:00 Tuesday there, but it is a Wednesday deposit",
            1,
            [("AccountOpened", None, 0), ("Deposited", 6_000, _at(2, 3))],
            tz="PST8",
        ),  # fmt: skip
        _week_probe("Sunday 4 January, before the account existed", -1),
        _week_probe(
            "a quiet Tuesday with no events that day",
            1,
            [("AccountOpened", None, 0), ("Deposited", 50_000, 5), ("Withdrawn", 1_000, _at(3))],
        ),  # fmt: skip
    ],
    generate=_generate_balance_on,
    hints=[
        "The balance on a day is the fold of every event up to the END of that day, not just "
        "the events of that day.",
        "The end of the day is midnight at the start of the next day, and an event at exactly "
        "that midnight belongs to the next day. Keep events whose time is strictly before it.",
        "end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC); fold the "
        "events with event.time < end_of_day: Deposited adds data['amount'], Withdrawn "
        "subtracts it, other events change nothing.",
    ],
    common_mistakes=[_only_deposits, _stops_at_start_of_day, _only_that_day, _includes_midnight],
    also_correct=[_by_date, _with_takewhile],
    explanation=(
        "A stored balance can only tell you today's number; the events can tell you any day's. "
        "Time travel is a fold over a prefix: here the prefix is 'every event before midnight "
        "at the end of the day' (strictly before: an event at 00:00 belongs to the next day). "
        "The same question with a version number instead of a time is exactly what "
        "repo.get(id, at_version=n) answers."
    ),
)


# ======================================================================================
# 3. An upcaster


def withdrawn_v1_to_v2(data):
    return {"amount": data["rupees"] * 100 + data["paise"]}


def _forgets_paise(data):
    return {"amount": data["rupees"] * 100}


def _wrong_unit(data):
    return {"amount": data["rupees"] + data["paise"] / 100}


def _edits_in_place(data):
    data["amount"] = data["rupees"] * 100 + data["paise"]
    return data


def _through_floats(data):  # right for small sums, wrong once a float can't hold the paise
    return {"amount": round((data["rupees"] + data["paise"] / 100) * 100)}


def _keeps_the_old_keys(data):
    return {**data, "amount": data["rupees"] * 100 + data["paise"]}


def _with_divmod_check(data):  # right: the same sum, written the other way round
    return {"amount": data["paise"] + 100 * data["rupees"]}


def _with_decimal(data):  # right: Decimal is exact, and the result is made an int again
    from decimal import Decimal

    return {"amount": int(Decimal(data["rupees"]) * 100 + data["paise"])}


def _run_upcaster(upcaster, amounts):
    """``amounts``: (rupees, paise) of old Withdrawn events. Observes what the upcaster returns
    for each (it gets the read-only data a repository passes), the balance of an account whose
    stream mixes those v1 events with a v2 one, and whether the stored events stayed as they
    were."""
    if not callable(upcaster):
        return {"answer": f"{upcaster!r} is not a function"}
    olds = [Event("Withdrawn", {"rupees": r, "paise": p}) for r, p in amounts]
    converted = [upcaster(event.data) for event in olds]
    store = InMemoryEventStore()
    store.append("acc-1", [Event("Deposited", {"amount": 10**15}), *olds])
    store.append("acc-1", Event("Withdrawn", {"amount": 1_000}, metadata={"schema": 2}))
    # today's account declares its event schemas once, on the class
    today = type("BankAccount", (BankAccount,), {"upcasters": {("Withdrawn", 1): upcaster}})
    repo = Repository(store, today)
    stored = [dict(e.data) for e in store.read_stream("acc-1")[1:-1]]
    return {"v2 data": converted, "balance": repo.get("acc-1").balance, "stored v1 events": stored}


def _describe_amounts(amounts):
    return "v1 events " + ", ".join(f"{{'rupees': {r}, 'paise': {p}}}" for r, p in amounts)


def _generate_amounts(rng, size):
    def rupees():
        return rng.choice([rng.randint(0, 999), rng.randint(0, 10**6), rng.randint(10**13, 10**14)])

    return [(rupees(), rng.randint(0, 99)) for _ in range(rng.randint(1, 1 + size // 2))]


upcaster = Exercise(
    "An upcaster for Withdrawn: rupees and paise -> paise",
    reference=withdrawn_v1_to_v2,
    run=_run_upcaster,
    describe=_describe_amounts,
    probes=[
        Probe("v1 data {'rupees': 200, 'paise': 50}", [(200, 50)]),
        Probe("v1 data {'rupees': 0, 'paise': 5}", [(0, 5)]),
        Probe("v1 data {'rupees': 19, 'paise': 99}", [(19, 99)]),
        Probe(
            "a very large withdrawal: 90 trillion rupees and 7 paise (floats lose the paise)",
            [(90_071_992_547_409, 7)],
        ),
        Probe("a stream with two v1 withdrawals", [(200, 50), (3, 0)]),
    ],
    generate=_generate_amounts,
    hints=[
        "The function gets the OLD data, e.g. {'rupees': 200, 'paise': 50}, and returns the "
        "NEW data: {'amount': 20050}. Only the new key: today's events have nothing else.",
        "One rupee is 100 paise. Stay in whole numbers: dividing (/) gives a float, and a float "
        "can't hold every amount of paise exactly. Return a new dict; the old one is read-only.",
        "return {'amount': data['rupees'] * 100 + data['paise']}",
    ],
    common_mistakes=[
        _forgets_paise,
        _wrong_unit,
        _edits_in_place,
        _through_floats,
        _keeps_the_old_keys,
    ],
    also_correct=[_with_divmod_check, _with_decimal],
    explanation=(
        "An upcaster is a pure function from an old shape to the next one. The repository calls "
        "it on every schema-1 Withdrawn event as it is read, so apply only ever sees today's "
        "shape, while the stored events stay exactly as they were written: the audit trail is "
        "never edited. Money as whole paise (ints) avoids float rounding: a float carries about "
        "16 significant digits, so rupees / 100 quietly loses paise on large amounts."
    ),
)


# ======================================================================================
# 4. Two tellers: retry on conflict


def withdraw_with_retry(repo, account_id, amount, attempts=3):
    for attempt in range(1, attempts + 1):
        account = repo.get(account_id)  # fresh copy: the latest version
        account.withdraw(amount)  # the rules run against the latest balance
        try:
            return repo.save(account)
        except WrongExpectedVersion:
            if attempt == attempts:
                raise


def _retries_the_stale_copy(repo, account_id, amount, attempts=3):
    account = repo.get(account_id)
    account.withdraw(amount)
    for attempt in range(1, attempts + 1):
        try:
            return repo.save(account)
        except WrongExpectedVersion:
            if attempt == attempts:
                raise


def _swallows_the_conflict(repo, account_id, amount, attempts=3):
    account = repo.get(account_id)
    account.withdraw(amount)
    try:
        return repo.save(account)
    except WrongExpectedVersion:
        return None


def _overwrites_with_any(repo, account_id, amount, attempts=3):
    account = repo.get(account_id)
    account.withdraw(amount)
    from ..store import ANY

    return repo.store.append(account_id, list(account.pending), expected_version=ANY)


def _one_attempt_short(repo, account_id, amount, attempts=3):
    for _ in range(1, attempts):
        account = repo.get(account_id)
        account.withdraw(amount)
        try:
            return repo.save(account)
        except WrongExpectedVersion:
            pass
    raise WrongExpectedVersion(account_id, "retry", "gave up")


def _retry_with_while(repo, account_id, amount, attempts=3):  # right: a while loop
    tries = 0
    while True:
        tries += 1
        account = repo.get(account_id)
        account.withdraw(amount)
        try:
            return repo.save(account)
        except WrongExpectedVersion:
            if tries >= attempts:
                raise


def _retry_recursively(repo, account_id, amount, attempts=3):  # right: recursion
    account = repo.get(account_id)
    account.withdraw(amount)
    try:
        return repo.save(account)
    except WrongExpectedVersion:
        if attempts <= 1:
            raise
        return _retry_recursively(repo, account_id, amount, attempts - 1)


class _OtherTeller:
    """A store where another teller withdraws ``amounts[0]``, ``amounts[1]``... right before
    each of our appends (one per append, while amounts last)."""

    def __init__(self, store, amounts):
        self._store = store
        self.amounts = list(amounts)

    def append(self, stream_id, events, expected_version=None):
        if self.amounts:
            self._store.append(stream_id, Event("Withdrawn", {"amount": self.amounts.pop(0)}))
        return self._store.append(stream_id, events, expected_version=expected_version)

    def __getattr__(self, name):
        return getattr(self._store, name)


class _CountingRepository(Repository):
    """A repository that counts its loads: each attempt loads the account once, and a refusal
    by the rules (insufficient funds) is final, never an attempt to repeat."""

    loads = 0

    def get(self, *args, **kwargs):
        self.loads += 1
        return super().get(*args, **kwargs)


def _run_retry(withdraw, case):
    store = InMemoryEventStore()
    store.append(
        "acc-1",
        [
            Event("AccountOpened", {"owner": "asha"}),
            Event("Deposited", {"amount": case["balance"]}),
        ],
    )
    repo = _CountingRepository(_OtherTeller(store, case["other_teller"]), BankAccount)
    if "attempts" in case:
        result = outcome(withdraw, repo, "acc-1", case["amount"], case["attempts"], exact=True)
    else:
        result = outcome(withdraw, repo, "acc-1", case["amount"], exact=True)
    account = Repository(store, BankAccount).get("acc-1")
    return {
        "result": result,
        "balance": account.balance,
        "stored": [(e.type, dict(e.data)) for e in store.read_stream("acc-1")],
        "loads (repo.get calls)": repo.loads,
    }


def _describe_retry(case):
    attempts = f", attempts={case['attempts']}" if "attempts" in case else ""
    others = case["other_teller"] or "nothing"
    return (
        f"balance {case['balance']}, withdraw {case['amount']}{attempts}; "
        f"the other teller takes {others} first"
    )


def _generate_retry(rng, size):
    case = {
        "balance": rng.randint(1, 100) * 1_000,
        "amount": rng.choice([rng.randint(1, 100) * 1_000, rng.randint(1, 3)]),  # paise too
        "other_teller": [rng.randint(1, 40) * 1_000 for _ in range(rng.randint(0, 1 + size // 2))],
    }
    if rng.random() < 0.7:
        case["attempts"] = rng.randint(1, 4)
    return case


retry = Exercise(
    "Two tellers: reload and retry when the save loses the race",
    reference=withdraw_with_retry,
    run=_run_retry,
    describe=_describe_retry,
    probes=[
        Probe(
            "no conflict: withdraw 30000 from 100000",
            {"balance": 100_000, "amount": 30_000, "other_teller": []},
        ),
        Probe(
            "the other teller withdraws 10000 first, once: then yours must go through",
            {"balance": 100_000, "amount": 30_000, "other_teller": [10_000]},
        ),
        Probe(
            "the other teller takes 80000 first: your 30000 must now be refused",
            {"balance": 100_000, "amount": 30_000, "other_teller": [80_000]},
        ),
        Probe(
            "withdraw 30000 from 10000: insufficient funds is a rule, not a race (no retry)",
            {"balance": 10_000, "amount": 30_000, "other_teller": [], "attempts": 3},
        ),
        Probe(
            "the other teller wins 3 times in a row (attempts=3): give up loudly",
            {"balance": 100_000, "amount": 30_000, "other_teller": [1_000] * 3, "attempts": 3},
        ),
        Probe(
            "the other teller wins twice (attempts=3): the third try goes through",
            {"balance": 100_000, "amount": 30_000, "other_teller": [1_000] * 2, "attempts": 3},
        ),
        Probe(
            "attempts=1: one try only",
            {"balance": 100_000, "amount": 30_000, "other_teller": [1_000], "attempts": 1},
        ),
        Probe(
            "attempts left at its default (3), the other teller wins 3 times",
            {"balance": 100_000, "amount": 30_000, "other_teller": [1_000] * 3},
        ),
    ],
    generate=_generate_retry,
    hints=[
        "When repo.save raises WrongExpectedVersion, your copy of the account is out of date: "
        "somebody saved in between. Saving the same copy again fails again.",
        "Put the whole thing in the loop: load a fresh copy, run the command (the rules see the "
        "latest balance), save. Only the save is inside the try. Return what save returns.",
        "for attempt in range(1, attempts + 1): account = repo.get(account_id); "
        "account.withdraw(amount); try: return repo.save(account) except WrongExpectedVersion: "
        "if attempt == attempts: raise",
    ],
    common_mistakes=[
        _retries_the_stale_copy,
        _swallows_the_conflict,
        _overwrites_with_any,
        _one_attempt_short,
    ],
    also_correct=[_retry_with_while, _retry_recursively],
    explanation=(
        "Optimistic concurrency moves the decision to the moment of writing: the store refuses "
        "a save based on an old version, and the writer reloads, re-checks its rules against "
        "the new state and tries again. Re-running the command (not just re-sending the old "
        "events) is the point: the other teller's withdrawal may have made yours impossible. "
        "Writing with ANY would skip the check and let the balance go below zero."
    ),
)
