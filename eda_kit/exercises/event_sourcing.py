"""Exercises for notebook 04, Event sourcing.

- ``new_event``: teach the account a new event (``FeeCharged``) by extending ``apply``.
- ``balance_on``: "what was the balance on Tuesday?", answered from the events alone.
- ``upcaster``: read old ``Withdrawn`` events (rupees and paise) in today's shape (paise).
- ``retry``: two tellers, one account: reload and retry when the save loses the race.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from ..events import Event
from ..sourcing import Aggregate, Repository
from ..store import InMemoryEventStore, WrongExpectedVersion
from .framework import Checker, Exercise

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


def _fold(cls, events):
    account = cls("acc-1")
    for event in events:
        account.apply(event)
    return account


def _test_new_event(cls, check: Checker) -> None:
    with check.case("your answer should be the class (FeeAccount), not an instance"):
        check.require(
            isinstance(cls, type) and issubclass(cls, Aggregate),
            f"got {cls!r}; pass the class itself",
        )
    opened = Event("AccountOpened", {"owner": "asha"})
    deposit = Event("Deposited", {"amount": 100_000})
    withdraw = Event("Withdrawn", {"amount": 20_000})
    fee = Event("FeeCharged", {"amount": 2_500})

    with check.case("AccountOpened, Deposited 100000 (no fee yet)"):
        account = _fold(cls, [opened, deposit])
        check.expect(account.balance, 100_000, "balance; pass other events to super().apply")
        check.expect(account.owner, "asha", "owner")
    with check.case("Deposited 100000, then FeeCharged 2500"):
        account = _fold(cls, [opened, deposit, fee])
        check.expect(account.balance, 97_500, "balance: a fee takes money out")
        check.expect(account.fees_paid, 2_500, "fees_paid")
    with check.case("Deposited 100000, FeeCharged 2500 twice, Withdrawn 20000"):
        account = _fold(cls, [opened, deposit, fee, fee, withdraw])
        check.expect(account.balance, 75_000, "balance")
        check.expect(account.fees_paid, 5_000, "fees_paid")
    with check.case("saved and loaded through a Repository"):
        store = InMemoryEventStore()
        repo = Repository(store, cls)
        store.append("acc-1", [opened, deposit, fee])
        loaded = repo.get("acc-1")
        check.expect((loaded.balance, loaded.fees_paid), (97_500, 2_500), "(balance, fees_paid)")


new_event = Exercise(
    "Teach the account a new event: FeeCharged",
    test=_test_new_event,
    reference=FeeAccount,
    hints=[
        "A FeeCharged event carries data['amount'] (in paise). It takes money out of the "
        "account, and the account also keeps a running total in self.fees_paid.",
        "Add a case for 'FeeCharged' to the match; for every other event type, hand the event "
        "to the parent class: case _: super().apply(event).",
        "case 'FeeCharged': self.balance -= event.data['amount']; "
        "self.fees_paid += event.data['amount']",
    ],
    common_mistakes=[_FeeAdded, _FeeForgetsTheRest, _FeeNotCounted],
    explanation=(
        "apply is the one place where state changes, so a new kind of fact means one new case "
        "there. The old cases still have to run for the old events, which is why everything "
        "else goes to super().apply(event): an account rebuilt from its stream must see every "
        "event, not only the new kind. Note that apply never checks rules (may this fee be "
        "charged?): that is the command's job, before the event is recorded."
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


def _week() -> list[Event]:
    """One account's week, Monday 5 January 2026 to Friday 9 January."""

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 1, day, hour, minute, tzinfo=UTC)

    return [
        Event("AccountOpened", {"owner": "asha"}, time=at(5, 9)),
        Event("Deposited", {"amount": 50_000}, time=at(5, 9, 5)),  # Monday
        Event("Deposited", {"amount": 20_000}, time=at(6, 11)),  # Tuesday
        Event("Withdrawn", {"amount": 30_000}, time=at(6, 23, 59)),  # Tuesday, late
        Event("Deposited", {"amount": 5_000}, time=at(7, 0, 0)),  # Wednesday, midnight
        Event("Withdrawn", {"amount": 1_000}, time=at(8, 15)),  # Thursday
    ]


def _test_balance_on(balance_on, check: Checker) -> None:
    week = _week()
    monday, tuesday, wednesday = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
    with check.case("the balance at the end of Monday 5 January"):
        check.expect(balance_on(week, monday), 50_000)
    with check.case("the balance at the end of Tuesday 6 January (a withdrawal at 23:59)"):
        check.expect(balance_on(week, tuesday), 40_000)
    with check.case("the end of Wednesday (a deposit at exactly 00:00 Wednesday)"):
        check.expect(balance_on(week, wednesday), 45_000)
    with check.case("Sunday 4 January, before the account existed"):
        check.expect(balance_on(week, date(2026, 1, 4)), 0)
    with check.case("a quiet Tuesday with no events that day"):
        quiet = [week[0], week[1], week[5]]
        check.expect(balance_on(quiet, tuesday), 50_000)


balance_on = Exercise(
    "What was the balance on Tuesday?",
    test=_test_balance_on,
    reference=balance_on_day,
    hints=[
        "The balance on a day is the fold of every event up to the END of that day, not just "
        "the events of that day.",
        "The end of the day is midnight of the next day: "
        "datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC). Keep events whose "
        "event.time is before it.",
        "Deposited adds data['amount'], Withdrawn subtracts it, other events change nothing.",
    ],
    common_mistakes=[_only_deposits, _stops_at_start_of_day, _only_that_day],
    explanation=(
        "A stored balance can only tell you today's number; the events can tell you any day's. "
        "Time travel is a fold over a prefix: here the prefix is 'every event before midnight "
        "at the end of the day'. The same question with a version number instead of a time is "
        "exactly what repo.get(id, at_version=n) answers."
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


def _test_upcaster(upcaster, check: Checker) -> None:
    with check.case("your answer should be a function taking the old data"):
        check.require(callable(upcaster), f"got {upcaster!r}")
    old = Event("Withdrawn", {"rupees": 200, "paise": 50})
    with check.case("v1 data {'rupees': 200, 'paise': 50}"):
        new = upcaster(old.data)  # read-only, as the repository passes it
        check.expect(new, {"amount": 20_050}, "the v2 data")
        check.require(
            type(new["amount"]) is int,
            f"amount should be a whole number of paise (int), got {new['amount']!r}",
        )
    with check.case("v1 data {'rupees': 0, 'paise': 5}"):
        check.expect(
            upcaster(Event("Withdrawn", {"rupees": 0, "paise": 5}).data),
            {"amount": 5},
            "the v2 data",
        )
    with check.case("a stream mixing v1 and v2 withdrawals, loaded through a Repository"):
        store = InMemoryEventStore()
        store.append(
            "acc-1",
            [
                Event("Deposited", {"amount": 100_000}),
                old,  # v1: no schema
                Event("Withdrawn", {"amount": 1_000}, metadata={"schema": 2}),  # today's shape
            ],
        )
        # today's account declares its event schemas once, on the class
        today = type("BankAccount", (BankAccount,), {"upcasters": {("Withdrawn", 1): upcaster}})
        repo = Repository(store, today)
        check.expect(repo.get("acc-1").balance, 100_000 - 20_050 - 1_000, "balance")
        check.expect(
            store.read_stream("acc-1")[1].data,
            {"rupees": 200, "paise": 50},
            "the stored v1 event (it must never change)",
        )


upcaster = Exercise(
    "An upcaster for Withdrawn: rupees and paise -> paise",
    test=_test_upcaster,
    reference=withdrawn_v1_to_v2,
    hints=[
        "The function gets the OLD data, e.g. {'rupees': 200, 'paise': 50}, and returns the "
        "NEW data: {'amount': 20050}.",
        "One rupee is 100 paise: amount = rupees * 100 + paise, a whole number.",
        "Return a new dict; the old one is read-only (stored events never change).",
    ],
    common_mistakes=[_forgets_paise, _wrong_unit, _edits_in_place],
    explanation=(
        "An upcaster is a pure function from an old shape to the next one. The repository calls "
        "it on every schema-1 Withdrawn event as it is read, so apply only ever sees today's "
        "shape, while the stored events stay exactly as they were written: the audit trail is "
        "never edited. Money as whole paise (ints) avoids float rounding."
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


class _OtherTeller:
    """A store that lets another teller write first, the first ``times`` times we append."""

    def __init__(self, store, times, amount):
        self._store = store
        self.times = times
        self.amount = amount

    def append(self, stream_id, events, expected_version=None):
        if self.times > 0:
            self.times -= 1
            self._store.append(stream_id, Event("Withdrawn", {"amount": self.amount}))
        return self._store.append(stream_id, events, expected_version=expected_version)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _bank(balance, other_teller_times, other_amount):
    store = InMemoryEventStore()
    store.append(
        "acc-1",
        [Event("AccountOpened", {"owner": "asha"}), Event("Deposited", {"amount": balance})],
    )
    return store, Repository(_OtherTeller(store, other_teller_times, other_amount), BankAccount)


def _test_retry(withdraw_with_retry, check: Checker) -> None:
    with check.case("no conflict: withdraw 30000 from 100000"):
        store, repo = _bank(100_000, 0, 0)
        withdraw_with_retry(repo, "acc-1", 30_000)
        check.expect(Repository(store, BankAccount).get("acc-1").balance, 70_000, "balance")
    with check.case("the other teller withdraws 10000 first, once: then yours must go through"):
        store, repo = _bank(100_000, 1, 10_000)
        withdraw_with_retry(repo, "acc-1", 30_000)
        account = Repository(store, BankAccount).get("acc-1")
        check.expect(account.balance, 60_000, "balance (both withdrawals)")
        check.expect(account.version, 4, "version")
    with check.case("the other teller takes 80000 first: your 30000 must now be refused"):
        store, repo = _bank(100_000, 1, 80_000)
        try:
            withdraw_with_retry(repo, "acc-1", 30_000)
        except ValueError:
            pass  # insufficient funds: exactly right
        account = Repository(store, BankAccount).get("acc-1")
        check.expect(account.balance, 20_000, "balance (never below zero)")
    with check.case("the other teller wins 3 times in a row (attempts=3): give up loudly"):
        store, repo = _bank(100_000, 3, 1_000)
        try:
            withdraw_with_retry(repo, "acc-1", 30_000)
        except WrongExpectedVersion:
            pass
        else:
            check.fail("expected WrongExpectedVersion after 3 lost races, nothing was raised")
        check.expect(Repository(store, BankAccount).get("acc-1").balance, 97_000, "balance")


retry = Exercise(
    "Two tellers: reload and retry when the save loses the race",
    test=_test_retry,
    reference=withdraw_with_retry,
    hints=[
        "When repo.save raises WrongExpectedVersion, your copy of the account is out of date: "
        "somebody saved in between. Saving the same copy again fails again.",
        "Put the whole thing in the loop: repo.get (fresh copy), account.withdraw (the rules "
        "see the latest balance), repo.save. Only the save is inside the try.",
        "After the last attempt, re-raise the WrongExpectedVersion instead of returning.",
    ],
    common_mistakes=[_retries_the_stale_copy, _swallows_the_conflict, _overwrites_with_any],
    explanation=(
        "Optimistic concurrency moves the decision to the moment of writing: the store refuses "
        "a save based on an old version, and the writer reloads, re-checks its rules against "
        "the new state and tries again. Re-running the command (not just re-sending the old "
        "events) is the point: the other teller's withdrawal may have made yours impossible. "
        "Writing with ANY would skip the check and let the balance go below zero."
    ),
)
