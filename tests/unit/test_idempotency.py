"""The idempotency store's rules, each tested with the failure it names, on both backends.

Claim before the work; one runner (real threads, a real second process); the first outcome
replayed (result or error); same key, same request; keys expire; a worker killed with
``kill -9`` mid-work leaves its key claimed (and, in the transactional form, nothing at all).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eda_kit.errors import (
    EdaKitError,
    IdempotencyKeyInUse,
    IdempotencyKeyMismatch,
    InvalidType,
    InvalidValue,
    NotJSON,
    ReplayedFailure,
    SimulatedCrash,
    StoreClosed,
)
from eda_kit.messaging import (
    Deduplicator,
    InMemoryIdempotencyStore,
    SQLiteIdempotencyStore,
    idempotency_key,
)

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ManualClock:
    """A clock the test moves by hand (shared by the store and the test)."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request, tmp_path):
    made = []

    def make(**options):
        if request.param == "memory":
            store = InMemoryIdempotencyStore(**options)
        else:
            store = SQLiteIdempotencyStore(tmp_path / "keys.db", **options)
        made.append(store)
        return store

    yield make
    for store in made:
        if hasattr(store, "close"):
            store.close()


class Counter:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return {"payment_id": f"pay-{len(self.calls)}", "args": list(args)}


# --- the rules ---------------------------------------------------------------------------------


def test_the_first_result_is_replayed_and_the_work_runs_once(make_store):
    store = make_store(owner="payments")
    charge = Counter()
    first = store.run("order-A1/charge", charge, 30)
    again = store.run("order-A1/charge", charge, 30)
    assert first == again == {"payment_id": "pay-1", "args": [30]}
    assert len(charge.calls) == 1
    assert store.replays == 1
    first["payment_id"] = "changed"  # every call gets its own copy
    assert store.run("order-A1/charge", charge, 30)["payment_id"] == "pay-1"
    record = store.get("order-A1/charge")
    assert record.state == "succeeded" and record.owner == "payments"
    assert record.result == {"payment_id": "pay-1", "args": [30]}


def test_the_first_error_is_recorded_and_replayed_not_retried(make_store):
    store = make_store()
    calls = []

    def declined(amount):
        calls.append(amount)
        raise LookupError(f"card declined for {amount}")

    with pytest.raises(LookupError, match="card declined for 30"):
        store.run("k", declined, 30)
    with pytest.raises(ReplayedFailure) as replayed:
        store.run("k", declined, 30)
    assert calls == [30]
    error = replayed.value
    assert (error.key, error.error_type, error.error_message) == (
        "k",
        "LookupError",
        "card declined for 30",
    )
    assert "first call with idempotency key 'k' failed (LookupError: card declined" in str(error)
    assert "Use a new key" in str(error)
    assert isinstance(error, EdaKitError)
    assert store.get("k").state == "failed"


def test_release_on_drops_the_claim_so_a_retry_runs(make_store):
    store = make_store()
    attempts = []

    def validate_then_charge(amount):
        attempts.append(amount)
        if len(attempts) == 1:
            raise InvalidValue("amount missing")  # before any effect: nothing happened
        return "charged"

    with pytest.raises(InvalidValue):
        store.run("k", validate_then_charge, 30, release_on=(InvalidValue,))
    assert store.get("k") is None
    assert store.run("k", validate_then_charge, 30, release_on=(InvalidValue,)) == "charged"
    assert attempts == [30, 30]


def test_a_reuse_with_other_arguments_is_refused(make_store):
    store = make_store()
    charge = Counter()
    store.run("order-A1/charge", charge, 30)
    with pytest.raises(IdempotencyKeyMismatch) as refused:
        store.run("order-A1/charge", charge, 40)
    assert len(charge.calls) == 1
    message = str(refused.value)
    assert "'order-A1/charge' was first used with another request" in message
    assert '{"args":[30],"kwargs":{}}' in message and '{"args":[40],"kwargs":{}}' in message
    assert isinstance(refused.value, ValueError)


def test_an_explicit_request_is_the_fingerprint(make_store):
    store = make_store()

    class Card:  # not JSON: the request names what matters instead
        pass

    charge = Counter()
    charge_card = lambda card: charge()  # noqa: E731
    store.run("k", charge_card, Card(), request={"amount": 30})
    store.run("k", charge_card, Card(), request={"amount": 30})
    assert len(charge.calls) == 1
    with pytest.raises(IdempotencyKeyMismatch):
        store.run("k", charge_card, Card(), request={"amount": 31})
    with pytest.raises(NotJSON, match=r"arguments\['args'\]\[0\].*pass request="):
        store.run("other", charge_card, Card())
    # key order in a request does not matter
    store.run("k2", charge, request={"a": 1, "b": 2})
    store.run("k2", charge, request={"b": 2, "a": 1})
    assert len(charge.calls) == 2


def test_keys_expire_after_the_ttl(make_store):
    clock = ManualClock()
    store = make_store(ttl=60, clock=clock)
    charge = Counter()
    store.run("k", charge, 30)
    clock.advance(seconds=59)
    store.run("k", charge, 30)
    assert len(charge.calls) == 1
    clock.advance(seconds=1)  # 60 s after the claim: forgotten
    assert store.get("k") is None
    assert store.run("k", charge, 40) == {"payment_id": "pay-2", "args": [40]}  # new work
    assert store.get("k").result["args"] == [40]


def test_purge_expired_reclaims_space(make_store):
    clock = ManualClock()
    store = make_store(ttl=timedelta(minutes=1), clock=clock)
    store.run("old", Counter(), 1)
    clock.advance(seconds=30)
    store.run("new", Counter(), 1)
    clock.advance(seconds=31)
    assert len(store) == 2
    assert store.purge_expired() == 1
    assert len(store) == 1 and store.get("new") is not None


def test_a_result_that_is_not_json_is_recorded_as_a_failure(make_store):
    store = make_store()
    calls = []

    def effect_then_odd_result():
        calls.append(1)  # the work happened...
        return {"when": datetime(2026, 1, 1)}  # ...but its answer can't be kept

    with pytest.raises(NotJSON, match=r"result\['when'\]"):
        store.run("k", effect_then_odd_result)
    with pytest.raises(ReplayedFailure, match="NotJSON"):
        store.run("k", effect_then_odd_result)
    assert calls == [1]  # a retry did not repeat the work


def test_a_crash_mid_work_leaves_the_key_claimed_until_it_expires_or_is_released(make_store):
    clock = ManualClock()
    store = make_store(ttl=3600, clock=clock, owner="worker-1")
    charged = []

    def charge_then_die(amount):
        charged.append(amount)
        raise SimulatedCrash("the process died after charging")

    with pytest.raises(SimulatedCrash):
        store.run("order-A1/charge", charge_then_die, 30)
    clock.advance(minutes=5)
    with pytest.raises(IdempotencyKeyInUse) as in_use:
        store.run("order-A1/charge", charge_then_die, 30)
    error = in_use.value
    assert (error.key, error.owner, error.since) == ("order-A1/charge", "worker-1", START)
    assert str(error) == (
        "idempotency key 'order-A1/charge' is in use: claimed by 'worker-1' since "
        "2026-01-05 09:00:00 UTC and not finished (still running, or its worker died; the claim "
        "holds until the key expires at 2026-01-05 10:00:00 UTC). Nothing was run."
    )
    assert charged == [30]
    assert [r.key for r in store.in_doubt(older_than=60)] == ["order-A1/charge"]
    assert store.in_doubt(older_than=600) == []
    # someone checked the provider: no charge there after all; release and redo
    assert store.release("order-A1/charge") is True
    assert store.release("order-A1/charge") is False
    assert store.run("order-A1/charge", lambda amount: "ok", 30) == "ok"


def test_a_claim_from_a_dead_worker_is_forgotten_when_the_key_expires(make_store):
    clock = ManualClock()
    store = make_store(ttl=60, clock=clock)
    with pytest.raises(SimulatedCrash):
        store.run("k", lambda: (_ for _ in ()).throw(SimulatedCrash()))
    clock.advance(seconds=60)
    assert store.in_doubt() == []
    assert store.run("k", lambda: "second life") == "second life"


# --- one runner: real threads --------------------------------------------------------------------


def test_a_concurrent_call_is_refused_and_never_runs(make_store):
    store = make_store(owner="worker-1")
    started, finish = threading.Event(), threading.Event()
    calls = []

    def slow_charge(amount):
        calls.append(amount)
        started.set()
        assert finish.wait(10)
        return "pay-1"

    first = threading.Thread(target=lambda: store.run("k", slow_charge, 30))
    first.start()
    assert started.wait(10)
    with pytest.raises(IdempotencyKeyInUse, match="'k' is in use: claimed by 'worker-1'"):
        store.run("k", slow_charge, 30)
    finish.set()
    first.join(10)
    assert store.run("k", slow_charge, 30) == "pay-1"
    assert calls == [30]


def test_a_concurrent_call_may_wait_for_the_first_outcome(make_store):
    store = make_store()
    started, finish = threading.Event(), threading.Event()
    calls = []

    def slow_charge():
        calls.append(1)
        started.set()
        assert finish.wait(10)
        return "pay-1"

    first = threading.Thread(target=lambda: store.run("k", slow_charge))
    first.start()
    assert started.wait(10)
    threading.Timer(0.1, finish.set).start()
    assert store.run("k", slow_charge, wait=10) == "pay-1"
    first.join(10)
    assert calls == [1]


def test_waiting_gives_up_with_in_use_after_the_wait(make_store):
    store = make_store()
    started, finish = threading.Event(), threading.Event()
    first = threading.Thread(
        target=lambda: store.run("k", lambda: (started.set(), finish.wait(10))[0])
    )
    first.start()
    assert started.wait(10)
    with pytest.raises(IdempotencyKeyInUse):
        store.run("k", lambda: None, wait=0.05)
    finish.set()
    first.join(10)


def test_many_threads_one_key_one_run(make_store):
    store = make_store()
    calls = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    outcomes = []

    def work():
        with lock:
            calls.append(1)
        time.sleep(0.05)
        return len(calls)

    def caller():
        barrier.wait(10)
        try:
            outcomes.append(("result", store.run("k", work, wait=10)))
        except IdempotencyKeyInUse:  # pragma: no cover - wait=10 should cover it
            outcomes.append(("in use", None))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(calls) == 1
    assert outcomes == [("result", 1)] * 8


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "error", "match"),
    [
        ("", InvalidValue, "non-empty"),
        ("   ", InvalidValue, "non-empty"),
        (42, InvalidType, "must be a str, not int"),
        ("x" * 256, InvalidValue, "at most 255 characters"),
        ("a\x00b", InvalidValue, "NUL"),
        ("order-\ud800/pay", InvalidValue, "lone surrogate"),  # SQLite: a raw UnicodeEncodeError
    ],
)
def test_bad_keys_are_refused(make_store, key, error, match):
    store = make_store()
    with pytest.raises(error, match=match):
        store.run(key, lambda: 1)
    assert len(store) == 0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ttl": 0}, "ttl must be a finite number of seconds > 0"),
        ({"ttl": -1}, "ttl must be"),
        ({"ttl": float("inf")}, "ttl must be"),
        ({"ttl": float("nan")}, "ttl must be"),
        ({"ttl": 1e12}, "more than ten years"),
        ({"ttl": "24h"}, "ttl must be a number of seconds or a timedelta"),
        ({"owner": ""}, "owner must be a non-empty str"),
        ({"clock": 5}, "clock must be a function"),
    ],
)
def test_bad_options_are_refused(make_store, options, match):
    with pytest.raises((InvalidValue, InvalidType), match=match):
        make_store(**options)


def test_bad_waits_are_refused(make_store):
    store = make_store()
    for wait in (-1, float("inf"), float("nan"), True):
        with pytest.raises((InvalidValue, InvalidType), match="wait"):
            store.run("k", lambda: 1, wait=wait)
    with pytest.raises(InvalidType, match="needs a function"):
        store.run("k", "not callable")
    assert len(store) == 0


# --- Deduplicator: the old name, the right rules ----------------------------------------------


def test_deduplicator_now_claims_first_and_records_errors():
    payments = Deduplicator()
    charge = Counter()
    assert payments.run_once("order-A4/charge_payment", charge, 30) == payments.run_once(
        "order-A4/charge_payment", charge, 30
    )
    assert len(charge.calls) == 1 and payments.duplicates == 1 and len(payments) == 1
    assert payments.seen("order-A4/charge_payment") and not payments.seen("other")
    assert repr(payments) == "<Deduplicator: 1 keys, 1 duplicates absorbed>"

    def fails():
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        payments.run_once("k", fails)
    with pytest.raises(ReplayedFailure):  # the old version ran it again
        payments.run_once("k", fails)


def test_idempotency_key_names_the_work():
    assert idempotency_key("order-A1", "charge_payment") == "order-A1/charge_payment"
    with pytest.raises(InvalidValue):
        idempotency_key("", "charge_payment")


# --- SQLite: the file, other processes, kill -9 ----------------------------------------------


def test_the_record_survives_a_restart(tmp_path):
    path = tmp_path / "keys.db"
    with SQLiteIdempotencyStore(path) as store:
        store.run("k", lambda amount: {"paid": amount}, 30)
    with SQLiteIdempotencyStore(path) as reopened:
        assert reopened.run("k", lambda amount: {"paid": -1}, 30) == {"paid": 30}
        assert reopened.replays == 1


def test_a_closed_store_says_so(tmp_path):
    store = SQLiteIdempotencyStore(tmp_path / "keys.db")
    store.close()
    store.close()
    with pytest.raises(StoreClosed, match="closed"):
        store.run("k", lambda: 1)
    assert "closed" in repr(store)


def test_bad_paths_name_the_path(tmp_path):
    with pytest.raises(InvalidValue, match="is a directory"):
        SQLiteIdempotencyStore(tmp_path)
    with pytest.raises(InvalidValue, match="needs a file path"):
        SQLiteIdempotencyStore("")  # sqlite3 would make a private temporary file: lost at once
    with pytest.raises(InvalidValue, match="does not exist"):
        SQLiteIdempotencyStore(tmp_path / "missing" / "keys.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InvalidValue, match="not a usable SQLite database"):
        SQLiteIdempotencyStore(garbage)
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE idempotency_keys (k TEXT, v TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(InvalidValue, match="already has a table 'idempotency_keys' with other"):
        SQLiteIdempotencyStore(foreign)


CHILD = r"""
import os, sys, time
from eda_kit.messaging import SQLiteIdempotencyStore
path, key, marker, mode = sys.argv[1:5]
store = SQLiteIdempotencyStore(path, owner="child")

def charge(amount):
    with open(marker, "a") as f:
        f.write("charged\n")
    if mode == "hang":
        time.sleep(60)          # killed here, after the effect
    if mode == "slow":
        while not os.path.exists(marker + ".go"):
            time.sleep(0.01)    # works until the test says so
    return {"paid": amount}

def charge_locally(conn, amount):
    conn.execute("INSERT INTO payments VALUES (?)", (amount,))
    with open(marker, "a") as f:
        f.write("charged\n")
    time.sleep(60)              # killed here, inside the transaction
    return {"paid": amount}

if mode == "transaction":
    store.run_in_transaction(key, charge_locally, 30)
else:
    print(store.run(key, charge, 30), flush=True)
"""


def run_child(path, key, marker, mode):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), key, str(marker), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the child"
        time.sleep(0.01)


def test_a_second_process_sees_the_claim_and_then_the_outcome(tmp_path):
    path, marker = tmp_path / "keys.db", tmp_path / "marker"
    child = run_child(path, "k", marker, "quick")
    assert child.wait(30) == 0
    assert child.stdout.read().strip() == "{'paid': 30}"
    child.stdout.close()
    with SQLiteIdempotencyStore(path) as here:
        assert here.run("k", lambda amount: {"paid": "again"}, 30) == {"paid": 30}
    assert marker.read_text() == "charged\n"


def test_a_second_process_waits_for_the_first_outcome(tmp_path):
    path, marker = tmp_path / "keys.db", tmp_path / "marker"
    SQLiteIdempotencyStore(path).close()
    child = run_child(path, "k", marker, "slow")
    wait_for(lambda: marker.exists())  # the child has claimed the key and is working
    with SQLiteIdempotencyStore(path) as here:
        with pytest.raises(IdempotencyKeyInUse, match="claimed by 'child'"):
            here.run("k", lambda amount: {"paid": "mine"}, 30)
        threading.Timer(0.2, lambda: (tmp_path / "marker.go").touch()).start()
        assert here.run("k", lambda amount: {"paid": "mine"}, 30, wait=60) == {"paid": 30}
    assert child.wait(30) == 0
    child.stdout.close()
    assert marker.read_text() == "charged\n"  # the work ran once, in the child


def test_kill_9_mid_work_leaves_the_key_claimed_and_the_work_never_repeats(tmp_path):
    path, marker = tmp_path / "keys.db", tmp_path / "marker"
    SQLiteIdempotencyStore(path).close()
    child = run_child(path, "order-A1/charge", marker, "hang")
    wait_for(lambda: marker.exists())
    with SQLiteIdempotencyStore(path) as here:
        with pytest.raises(IdempotencyKeyInUse, match="claimed by 'child'"):
            here.run("order-A1/charge", lambda amount: {"paid": amount}, 30)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
        child.stdout.close()
        for _ in range(3):  # the dead worker's claim holds: in doubt, never re-run
            with pytest.raises(IdempotencyKeyInUse):
                here.run("order-A1/charge", lambda amount: {"paid": amount}, 30)
        assert [r.owner for r in here.in_doubt()] == ["child"]
    assert marker.read_text() == "charged\n"
    # when the key expires (a day later, on this store's clock), it is new work again
    later = ManualClock(datetime.now(UTC) + timedelta(hours=24, seconds=1))
    with SQLiteIdempotencyStore(path, clock=later) as tomorrow:
        assert tomorrow.run("order-A1/charge", lambda amount: {"paid": amount}, 30) == {"paid": 30}


def test_kill_9_inside_the_transaction_keeps_neither_the_claim_nor_the_change(tmp_path):
    path, marker = tmp_path / "shop.db", tmp_path / "marker"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE payments (amount INTEGER)")
    conn.commit()
    conn.close()
    child = run_child(path, "order-A1/pay", marker, "transaction")
    wait_for(lambda: marker.exists())
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    child.stdout.close()
    with SQLiteIdempotencyStore(path) as here:
        assert here.get("order-A1/pay") is None  # nothing in doubt: the claim rolled back

        def pay(conn, amount):
            conn.execute("INSERT INTO payments VALUES (?)", (amount,))
            return {"paid": amount}

        assert here.run_in_transaction("order-A1/pay", pay, 30) == {"paid": 30}
        assert here.run_in_transaction("order-A1/pay", pay, 30) == {"paid": 30}
        rows = here._conn.execute("SELECT amount FROM payments").fetchall()
    assert rows == [(30,)]


# --- SQLite: the transactional form ---------------------------------------------------------


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE payments (order_id TEXT, amount INTEGER)")
    conn.commit()
    conn.close()
    with SQLiteIdempotencyStore(path, owner="payments") as store:
        yield store


def payments_of(store):
    return store._conn.execute("SELECT order_id, amount FROM payments").fetchall()


def test_transactional_form_commits_change_and_outcome_together(shop):
    def pay(conn, order_id, amount):
        conn.execute("INSERT INTO payments VALUES (?, ?)", (order_id, amount))
        return {"payment_id": f"pay-{order_id}"}

    assert shop.run_in_transaction("A1/pay", pay, "A1", 30) == {"payment_id": "pay-A1"}
    assert shop.run_in_transaction("A1/pay", pay, "A1", 30) == {"payment_id": "pay-A1"}
    assert payments_of(shop) == [("A1", 30)]
    with pytest.raises(IdempotencyKeyMismatch):
        shop.run_in_transaction("A1/pay", pay, "A1", 31)


def test_transactional_form_rolls_back_the_change_and_records_the_error(shop):
    def pay_then_fail(conn, order_id):
        conn.execute("INSERT INTO payments VALUES (?, 30)", (order_id,))
        raise LookupError("no such customer")

    with pytest.raises(LookupError):
        shop.run_in_transaction("A1/pay", pay_then_fail, "A1")
    assert payments_of(shop) == []
    with pytest.raises(ReplayedFailure, match="LookupError: no such customer"):
        shop.run_in_transaction("A1/pay", pay_then_fail, "A1")
    assert shop.get("A1/pay").state == "failed"


def test_transactional_form_keeps_nothing_on_release_on_or_a_crash(shop):
    def pay_then(conn, error):
        conn.execute("INSERT INTO payments VALUES ('A1', 30)")
        raise error

    with pytest.raises(InvalidValue):
        shop.run_in_transaction(
            "k", pay_then, InvalidValue("bad"), release_on=(InvalidValue,), request={"order": "A1"}
        )
    with pytest.raises(SimulatedCrash):
        shop.run_in_transaction("k", pay_then, SimulatedCrash(), request={"order": "A1"})
    assert payments_of(shop) == [] and shop.get("k") is None


def test_transactional_form_refuses_a_function_that_commits(shop):
    def commits(conn):
        conn.execute("INSERT INTO payments VALUES ('A1', 30)")
        conn.execute("COMMIT")

    with pytest.raises(InvalidValue, match="ended the transaction itself"):
        shop.run_in_transaction("k", commits)


def test_transactional_form_refuses_while_a_plain_run_holds_the_key(shop):
    started, finish = threading.Event(), threading.Event()
    first = threading.Thread(
        target=lambda: shop.run("k", lambda: (started.set(), finish.wait(10), "done")[2])
    )
    first.start()
    assert started.wait(10)
    with pytest.raises(IdempotencyKeyInUse):
        shop.run_in_transaction("k", lambda conn: "second")
    threading.Timer(0.1, finish.set).start()
    assert shop.run_in_transaction("k", lambda conn: "second", wait=10) == "done"
    first.join(10)


def test_transactional_form_concurrent_processes_run_once(tmp_path):
    """Several processes race run_in_transaction on one key: one change, one outcome for all."""
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE payments (amount INTEGER)")
    conn.commit()
    conn.close()
    SQLiteIdempotencyStore(path).close()
    racer = r"""
import sys, time
from eda_kit.messaging import SQLiteIdempotencyStore
store = SQLiteIdempotencyStore(sys.argv[1], owner=sys.argv[2])
def pay(conn):
    conn.execute("INSERT INTO payments VALUES (30)")
    time.sleep(0.05)
    return {"paid_by": sys.argv[2]}
print(store.run_in_transaction("k", pay)["paid_by"], flush=True)
"""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", racer, str(path), f"p{i}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    answers = []
    for child in children:
        assert child.wait(60) == 0
        answers.append(child.stdout.read().strip())
        child.stdout.close()
    assert len(set(answers)) == 1  # every process got the one outcome
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM payments").fetchone()[0] == 1
    conn.close()
