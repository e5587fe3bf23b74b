"""The three ways issue 16 lost money, each run as the failure it names, and the guarantee.

1. A timeout whose attempt succeeds late: three timed-out charges, "compensated", no refund.
2. Two workers resuming one saga at once: both ran the charge; one died on a raw store error.
3. A kill -9 during the charge, then a resume in a fresh process: charged twice.

Each test checks the money invariant: charged - refunded = price x orders confirmed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from eda_kit import Saga, Step
from eda_kit.errors import LeaseLost, SagaBusy, StepTimeout
from eda_kit.store import InMemoryEventStore

ROOT = Path(__file__).resolve().parents[2]
PRICE = 30


class Declined(Exception):
    pass


class Provider:
    """A payment provider that honours idempotency keys, as real ones do.

    A request may take ``latency`` seconds to arrive (a slow network): the charge lands then.
    ``refund(key)`` is safe whatever happened: it refunds a charge made under ``key``, and if
    none was made it *voids* the key, so a charge arriving late under it is declined.
    """

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.charges: dict[str, int] = {}
        self.refunds: dict[str, int] = {}
        self.voided: set[str] = set()
        self.requests = 0
        self.arrived = 0
        self._lock = threading.Lock()

    def charge(self, key: str, amount: int) -> str:
        with self._lock:
            self.requests += 1
        time.sleep(self.latency)
        with self._lock:
            self.arrived += 1
            if key in self.voided:
                raise Declined(f"{key}: voided by a refund before it arrived")
            self.charges.setdefault(key, amount)
            return f"pay-{key}"

    def refund(self, key: str) -> None:
        with self._lock:
            if key in self.charges:
                self.refunds.setdefault(key, self.charges[key])
            else:
                self.voided.add(key)

    @property
    def balance(self) -> int:
        return sum(self.charges.values()) - sum(self.refunds.values())

    def wait_for_arrivals(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.arrived < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.arrived >= count, f"only {self.arrived} of {count} requests arrived"


def order_saga(provider: Provider, confirmed: list[str], **charge_options) -> list[Step]:
    def charge(ctx):
        return {"payment": provider.charge(ctx.idempotency_key, ctx["amount"])}

    def refund(ctx):
        provider.refund(ctx.action_key)

    def confirm(ctx):
        confirmed.append(ctx["order_id"])

    return [
        Step("charge_payment", charge, refund, **charge_options),
        Step("confirm_order", confirm, kind="retriable"),
    ]


# --- 1. the timeout that charged three times ---------------------------------------------------


def test_a_slow_charge_that_lands_late_is_compensated_and_the_money_balances():
    provider, confirmed = Provider(latency=0.3), []
    steps = order_saga(provider, confirmed, timeout=0.05, retries=2)
    result = Saga("place-order", steps).run({"order_id": "A1", "amount": PRICE})
    provider.wait_for_arrivals(3)  # every late attempt has reached the provider by now

    # every attempt timed out: the charge may have happened, so the saga undid it
    assert result.status == "compensated"
    assert result.history == [
        ("charge_payment", "retried"),
        ("charge_payment", "retried"),
        ("charge_payment", "failed"),
        ("charge_payment", "compensated"),
    ]
    assert result.unknown == ("charge_payment",)
    assert result.errors[0].error.startswith("StepTimeout")
    # three requests, one key: at most one charge, and it did not survive the refund
    assert provider.requests == 3
    assert provider.balance == PRICE * len(confirmed) == 0


def test_a_late_charge_after_the_refund_voided_its_key_is_declined():
    provider, confirmed = Provider(latency=0.3), []
    steps = order_saga(provider, confirmed, timeout=0.05)
    Saga("place-order", steps).run({"order_id": "A1", "amount": PRICE})
    provider.wait_for_arrivals(1)
    assert provider.voided == {next(iter(provider.voided))}  # the refund came first
    assert provider.charges == {} and provider.balance == 0


def test_a_timed_out_attempt_followed_by_a_quick_one_charges_once():
    provider, confirmed = Provider(), []
    calls = []

    def charge(ctx):
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            time.sleep(0.3)  # the first request is slow, but it does arrive
        return {"payment": provider.charge(ctx.idempotency_key, ctx["amount"])}

    steps = order_saga(provider, confirmed)
    steps[0] = Step("charge_payment", charge, steps[0].compensation, timeout=0.05, retries=1)
    result = Saga("place-order", steps).run({"order_id": "A1", "amount": PRICE})
    provider.wait_for_arrivals(2)
    assert result.status == "completed"
    assert result.unknown == ()  # the retry settled it: done, and known to be done
    assert len(provider.charges) == 1
    assert provider.balance == PRICE * len(confirmed) == PRICE


def test_a_compensation_has_a_deadline_too():
    stuck = threading.Event()

    def hangs(ctx):
        stuck.wait(5)

    steps = [
        Step("reserve", lambda ctx: None, hangs, compensation_timeout=0.05, compensation_retries=1),
        Step("charge", lambda ctx: (_ for _ in ()).throw(Declined("no"))),
    ]
    try:
        result = Saga("s", steps).run()
    finally:
        stuck.set()
    assert result.status == "failed"
    assert result.history[-2:] == [
        ("reserve", "compensation_retried"),
        ("reserve", "compensation_failed"),
    ]
    assert "compensation of step 'reserve' took longer than 0.05 s" in result.errors[-1].error
    assert issubclass(StepTimeout, TimeoutError)


# --- 2. two workers, one saga -------------------------------------------------------------------


def test_a_second_worker_gets_saga_busy_and_runs_nothing_while_the_first_is_in_the_charge():
    store, provider, confirmed = InMemoryEventStore(), Provider(), []
    inside, let_go = threading.Event(), threading.Event()

    def slow_charge(ctx):
        inside.set()
        let_go.wait(10)
        return {"payment": provider.charge(ctx.idempotency_key, ctx["amount"])}

    steps = order_saga(provider, confirmed)
    steps[0] = Step("charge_payment", slow_charge, steps[0].compensation)
    first = Saga("place-order", steps, store=store, owner="worker-1")
    outcome = {}
    worker = threading.Thread(
        target=lambda: outcome.update(
            result=first.run({"order_id": "A1", "amount": PRICE}, saga_id="A1")
        )
    )
    worker.start()
    assert inside.wait(10)
    version = store.stream_version("saga-A1")

    second = Saga("place-order", order_saga(provider, confirmed), store=store, owner="worker-2")
    with pytest.raises(SagaBusy) as busy:
        second.resume("A1")
    assert busy.value.owner == "worker-1" and busy.value.saga_id == "A1"
    assert "saga 'A1' is being run by 'worker-1' (lease until " in str(busy.value)
    assert store.stream_version("saga-A1") == version  # the second worker wrote nothing
    with pytest.raises(SagaBusy):
        second.run({"order_id": "A1", "amount": PRICE}, saga_id="A1")  # nor by run()

    let_go.set()
    worker.join(10)
    assert outcome["result"].status == "completed"  # the first worker was never disturbed
    assert provider.requests == 1 and confirmed == ["A1"]
    assert provider.balance == PRICE * len(confirmed)


def test_a_second_worker_may_wait_for_the_first_and_then_gets_the_result():
    store, provider, confirmed = InMemoryEventStore(), Provider(), []
    inside, let_go = threading.Event(), threading.Event()

    def slow_charge(ctx):
        inside.set()
        let_go.wait(10)
        return {"payment": provider.charge(ctx.idempotency_key, ctx["amount"])}

    steps = order_saga(provider, confirmed)
    steps[0] = Step("charge_payment", slow_charge, steps[0].compensation)
    first = Saga("place-order", steps, store=store, owner="worker-1")
    worker = threading.Thread(
        target=first.run, args=({"order_id": "A1", "amount": PRICE},), kwargs={"saga_id": "A1"}
    )
    worker.start()
    assert inside.wait(10)
    threading.Timer(0.2, let_go.set).start()
    second = Saga("place-order", order_saga(provider, confirmed), store=store, owner="worker-2")
    result = second.resume("A1", wait=30)
    worker.join(10)
    assert result.status == "completed" and provider.requests == 1 and confirmed == ["A1"]


CHILD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from eda_kit import SQLiteEventStore, Saga, Step
    from eda_kit.errors import SagaBusy

    db, work, role = sys.argv[1:4]
    work = Path(work)

    def charge(ctx):
        with open(work / "charges.jsonl", "a") as f:
            f.write(json.dumps({"key": ctx.idempotency_key, "by": role}) + "\\n")
        (work / "inside").write_text(role)
        while not (work / "go").exists():   # the charge is slow: the other worker acts now
            time.sleep(0.01)
        return {"paid": True}

    steps = [Step("charge_payment", charge, lambda ctx: None),
             Step("confirm_order", lambda ctx: None, kind="retriable")]
    with SQLiteEventStore(db) as store:
        saga = Saga("place-order", steps, store=store, owner=role)
        try:
            if role == "worker-1":
                result = saga.run({"order_id": "A1"}, saga_id="A1")
            else:
                result = saga.resume("A1")
        except SagaBusy as busy:
            print(json.dumps({"busy": str(busy), "owner": busy.owner}))
        else:
            print(json.dumps({"status": result.status}))
""")


def run_child(tmp_path: Path, role: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "saga.db"), str(tmp_path), role],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)


def test_two_real_processes_one_in_the_charge_the_other_gets_saga_busy(tmp_path):
    first = run_child(tmp_path, "worker-1")
    wait_for(tmp_path / "inside")
    second = run_child(tmp_path, "worker-2")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert json.loads(out)["owner"] == "worker-1"
    (tmp_path / "go").write_text("")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err  # no raw WrongExpectedVersion: never disturbed
    assert json.loads(out) == {"status": "completed"}
    charges = (tmp_path / "charges.jsonl").read_text().splitlines()
    assert [json.loads(line)["by"] for line in charges] == ["worker-1"]


def test_an_expired_lease_is_taken_over_and_the_stalled_owner_stops_with_lease_lost():
    from eda_kit.saga import ManualClock

    store, clock, provider, confirmed = InMemoryEventStore(), ManualClock(), Provider(), []
    inside, let_go = threading.Event(), threading.Event()

    def stalls(ctx):  # the process hangs here, long past its lease, then wakes up
        inside.set()
        let_go.wait(10)
        return {"payment": provider.charge(ctx.idempotency_key, ctx["amount"])}

    steps = order_saga(provider, confirmed)
    steps[0] = Step("charge_payment", stalls, steps[0].compensation)
    stalled = Saga("place-order", steps, store=store, owner="worker-1", clock=clock, lease_ttl=30)
    outcome: dict = {}

    def first():
        try:
            stalled.run({"order_id": "A1", "amount": PRICE}, saga_id="A1")
        except LeaseLost as lost:
            outcome["lost"] = lost

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(10)
    clock.advance(31)  # no heartbeat got through: the lease ran out
    rescuer = Saga(
        "place-order", order_saga(provider, confirmed), store=store, owner="worker-2", clock=clock
    )
    assert rescuer.resume("A1").status == "completed"
    let_go.set()
    worker.join(10)
    assert outcome["lost"].owner == "worker-2"
    assert "lost its lease" in str(outcome["lost"])
    # both workers sent the charge, under one key: the provider charged once
    assert provider.requests == 2 and len(provider.charges) == 1
    assert provider.balance == PRICE * len(confirmed) == PRICE
    log = [e.type for e in store.read_stream("saga-A1")]
    assert log.count("SagaFinished") == 1 and "LeaseTaken" in log


# --- 3. kill -9 during the charge ----------------------------------------------------------------

KILLED = textwrap.dedent("""
    import json, os, signal, sqlite3, sys
    from eda_kit import SQLiteEventStore, Saga, Step

    db, bank, mode, where = sys.argv[1:5]

    def bank_db():
        conn = sqlite3.connect(bank, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS charges (key TEXT PRIMARY KEY, amount INT)")
        conn.execute("CREATE TABLE IF NOT EXISTS refunds (key TEXT PRIMARY KEY, amount INT)")
        return conn

    def charge(ctx):
        # the payment service: the key is claimed in the same transaction as the charge,
        # so the charge and the memory of it commit together, or not at all
        conn = bank_db()
        if mode == "crash" and where == "before-commit":
            os.kill(os.getpid(), signal.SIGKILL)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR IGNORE INTO charges VALUES (?, ?)",
                     (ctx.idempotency_key, ctx["amount"]))
        conn.execute("COMMIT")
        if mode == "crash" and where == "after-commit":
            os.kill(os.getpid(), signal.SIGKILL)   # charged; the saga never hears of it
        return {"paid": True}

    def refund(ctx):
        conn = bank_db()
        conn.execute("INSERT OR IGNORE INTO refunds SELECT key, amount FROM charges "
                     "WHERE key = ?", (ctx.action_key,))

    steps = [Step("charge_payment", charge, refund),
             Step("confirm_order", lambda ctx: {"confirmed": True}, kind="retriable")]
    with SQLiteEventStore(db) as store:
        saga = Saga("place-order", steps, store=store, lease_ttl=0.5)
        if mode == "crash":
            saga.run({"order_id": "A1", "amount": 30}, saga_id="A1")
        else:
            result = saga.resume("A1", wait=30)  # the dead worker's lease expires first
            print(json.dumps({"status": result.status, "history": result.history}))
""")


@pytest.mark.parametrize("where", ["before-commit", "after-commit"])
def test_kill_9_during_the_charge_then_a_fresh_process_resumes_and_charges_once(tmp_path, where):
    import sqlite3

    script = tmp_path / "killed.py"
    script.write_text(KILLED)

    def child(mode):
        return subprocess.run(
            [sys.executable, str(script), str(tmp_path / "saga.db"), str(tmp_path / "bank.db"),
             mode, where],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip

    crashed = child("crash")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    resumed = child("resume")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["status"] == "completed"
    assert ["charge_payment", "interrupted"] in result["history"]
    bank = sqlite3.connect(tmp_path / "bank.db")
    charged = bank.execute("SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM charges").fetchone()
    refunded = bank.execute("SELECT COALESCE(SUM(amount), 0) FROM refunds").fetchone()[0]
    assert charged == (30, 1)
    assert charged[0] - refunded == 30 * 1  # one order confirmed


def test_the_old_recipe_key_stored_after_success_charges_twice_after_a_crash():
    """Why the key must be claimed with the effect: remembered only after success, it is lost
    with a crash that comes between the charge and the memory of it."""
    charges, remembered = [], {}

    def charge_then_remember(key, crash):
        if key in remembered:
            return remembered[key]
        charges.append(key)  # the charge happens ...
        if crash:
            raise SystemExit("killed")  # ... and the process dies before remembering it
        remembered[key] = "receipt"
        return "receipt"

    with pytest.raises(SystemExit):
        charge_then_remember("A1/charge_payment", crash=True)
    charge_then_remember("A1/charge_payment", crash=False)  # the resume
    assert charges == ["A1/charge_payment", "A1/charge_payment"]  # twice
