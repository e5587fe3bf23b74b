"""The saga log: what is written, resume after a crash (in memory and across processes)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eda_kit import Saga, Step
from eda_kit.errors import LeaseLost
from eda_kit.saga import ManualClock
from eda_kit.saga.faults import SimulatedCrash, inject_faults
from eda_kit.saga.lease import DEFAULT_LEASE_TTL
from eda_kit.saga.log import read_log
from eda_kit.store import InMemoryEventStore

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["create_order", "reserve_inventory", "charge_payment", "confirm_order"]


def counting_steps(calls: list[str]) -> list[Step]:
    def action(name):
        def run(ctx):
            calls.append(name)
            return {name: ctx.attempt}

        return run

    def undo(name):
        def run(ctx):
            calls.append(f"undo {name}")

        return run

    return [Step(n, action(n), undo(n) if n != "confirm_order" else None) for n in NAMES]


def the_lease_runs_out(clock: ManualClock) -> None:
    """A crashed worker renews nothing: after the lease's time anyone may take over."""
    clock.advance(DEFAULT_LEASE_TTL + 1)


def test_every_transition_and_the_context_go_to_the_saga_stream():
    store, clock = InMemoryEventStore(), ManualClock()
    steps = inject_faults(counting_steps([]), fail={"reserve_inventory": 1})
    steps[1] = Step("reserve_inventory", steps[1].action, steps[1].compensation, retries=1)
    saga = Saga("place-order", steps, store=store, owner="worker-1", clock=clock)
    saga.run({"order_id": "A1"}, saga_id="A1")
    log = store.read_stream("saga-A1")
    assert [(e.type, e.data.get("step")) for e in log] == [
        ("SagaStarted", None),
        ("StepStarted", "create_order"),
        ("StepDone", "create_order"),
        ("StepStarted", "reserve_inventory"),
        ("StepRetried", "reserve_inventory"),
        ("StepStarted", "reserve_inventory"),
        ("StepDone", "reserve_inventory"),
        ("StepStarted", "charge_payment"),
        ("StepDone", "charge_payment"),
        ("StepStarted", "confirm_order"),
        ("StepDone", "confirm_order"),
        ("SagaFinished", None),
    ]
    started = dict(log[0].data)
    lease = started.pop("lease")
    assert started == {
        "saga": "place-order",
        "steps": NAMES,
        "context": {"order_id": "A1"},
        "owner": "worker-1",
        "at": clock.now(),
        "expires_at": clock.now() + DEFAULT_LEASE_TTL,
    }
    assert isinstance(lease, str) and lease  # this hold's own id: two runs never share one
    assert log[2].data["context"] == {"order_id": "A1", "create_order": 1}
    assert log[6].data == {
        "step": "reserve_inventory",
        "attempt": 2,
        "context": {"order_id": "A1", "create_order": 1, "reserve_inventory": 2},
    }
    assert log[-1].data["status"] == "completed"


def test_resume_after_done_runs_nothing_and_returns_the_result():
    store = InMemoryEventStore()
    first = Saga("place-order", inject_faults(counting_steps([]), fail=3), store=store).run(
        {"order_id": "A1"}, saga_id="A1"
    )
    versions = store.stream_version("saga-A1")
    calls: list[str] = []
    again = Saga("place-order", counting_steps(calls), store=store).resume("A1")
    assert calls == []
    assert store.stream_version("saga-A1") == versions  # nothing written either
    assert again.status == first.status == "compensated"
    assert again.history == first.history
    assert again.errors == first.errors and again.context == first.context


def test_without_leases_the_log_is_as_before():
    store = InMemoryEventStore()
    Saga("s", [Step("a", lambda ctx: None)], store=store, lease_ttl=None).run(saga_id="x")
    log = store.read_stream("saga-x")
    assert log[0].data == {"saga": "s", "steps": ["a"], "context": {}}
    assert [e.type for e in log] == ["SagaStarted", "StepStarted", "StepDone", "SagaFinished"]


def test_resume_in_the_middle_of_compensation():
    store, clock = InMemoryEventStore(), ManualClock()
    calls: list[str] = []
    steps = inject_faults(counting_steps(calls), fail=4)

    def crash_while_undoing(ctx):
        raise SimulatedCrash("died while refunding")

    steps[2] = Step("charge_payment", steps[2].action, crash_while_undoing)
    with pytest.raises(SimulatedCrash):
        Saga("place-order", steps, store=store, clock=clock).run(saga_id="A1")
    calls.clear()
    the_lease_runs_out(clock)
    result = Saga("place-order", counting_steps(calls), store=store, clock=clock).resume("A1")
    assert calls == ["undo charge_payment", "undo reserve_inventory", "undo create_order"]
    assert ("charge_payment", "compensation_interrupted") in result.history
    assert result.status == "compensated"
    assert result.compensated == ["charge_payment", "reserve_inventory", "create_order"]


def test_resume_keeps_counting_retries_from_the_log():
    store, clock = InMemoryEventStore(), ManualClock()
    attempts = []

    def flaky(ctx):
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("blip")
        raise SimulatedCrash("died on attempt 2")

    with pytest.raises(SimulatedCrash):
        Saga("s", [Step("pay", flaky, retries=1)], store=store, clock=clock).run(saga_id="x")
    the_lease_runs_out(clock)
    result = Saga(
        "s",
        [Step("pay", lambda ctx: attempts.append(ctx.attempt), retries=1)],
        store=store,
        clock=clock,
    ).resume("x")
    assert attempts == [1, 2, 3]  # the interrupted attempt does not use up the last retry
    assert result.history == [("pay", "retried"), ("pay", "interrupted"), ("pay", "done")]
    assert result.attempts("pay") == 3


def test_a_saga_id_with_a_log_cannot_be_run_again():
    store = InMemoryEventStore()
    saga = Saga("s", [Step("a", lambda ctx: None)], store=store)
    saga.run(saga_id="x")
    with pytest.raises(ValueError, match=r"already has a log.*resume\('x'\)"):
        saga.run(saga_id="x")


def test_resume_refuses_unknown_ids_and_other_sagas_logs():
    store = InMemoryEventStore()
    Saga("s", [Step("a", lambda ctx: None)], store=store).run(saga_id="x")
    with pytest.raises(LookupError, match="no saga log for 'nope'"):
        Saga("s", [Step("a", print)], store=store).resume("nope")
    with pytest.raises(ValueError, match=r"written by saga 's' with steps \['a'\]"):
        Saga("s", [Step("b", print)], store=store).resume("x")


def test_a_stale_worker_that_lost_its_lease_cannot_write_again():
    store, clock = InMemoryEventStore(), ManualClock()
    with pytest.raises(SimulatedCrash):
        Saga("s", inject_faults([Step("a", print)], crash_at=1), store=store, clock=clock).run(
            saga_id="x"
        )
    the_lease_runs_out(clock)
    other = Saga("s", [Step("a", lambda ctx: None)], store=store, owner="w2", clock=clock)

    def sneaky(ctx):  # while we run, someone else takes the saga over and finishes it
        the_lease_runs_out(clock)
        other.resume("x")

    with pytest.raises(LeaseLost, match=r"'w2' took the saga over"):
        Saga("s", [Step("a", sneaky)], store=store, owner="w1", clock=clock).resume("x")
    assert [e.type for e in store.read_stream("saga-x")].count("SagaFinished") == 1


def test_non_json_context_never_reaches_the_log():
    store = InMemoryEventStore()
    saga = Saga("s", [Step("a", lambda ctx: {"when": object()})], store=store)
    result = saga.run(saga_id="x")
    assert result.status == "compensated"
    assert [e.type for e in store.read_stream("saga-x")][-2:] == ["StepFailed", "SagaFinished"]
    assert read_log(store.read_stream("saga-x")).done == []


CHILD = textwrap.dedent("""
    import json, sys
    from eda_kit import SQLiteEventStore, Saga, Step
    from eda_kit.saga.faults import inject_faults

    db, ledger_path, mode = sys.argv[1:4]

    def seen():
        with open(ledger_path) as f:
            return [json.loads(line) for line in f]

    def step(name):
        def action(ctx):
            with open(ledger_path, "a") as f:
                f.write(json.dumps({"call": name, "key": ctx.idempotency_key}) + "\\n")
            # the "service" side: do the work once per idempotency key, and answer a
            # repeated request with the first answer
            for e in seen():
                if e.get("work") == ctx.idempotency_key:
                    return e["result"]
            result = {name: "done"}
            with open(ledger_path, "a") as f:
                f.write(json.dumps({"work": ctx.idempotency_key, "result": result}) + "\\n")
            return result
        return action

    names = ["create_order", "reserve_inventory", "charge_payment", "confirm_order"]
    steps = [Step(n, step(n)) for n in names]
    with SQLiteEventStore(db) as store:
        if mode == "crash":
            saga = Saga("place-order", inject_faults(steps, crash_at="charge_payment",
                                                     hard_crash=True), store=store, lease_ttl=0.5)
            saga.run({"order_id": "A1"}, saga_id="A1")
        else:  # the dead worker's lease must run out first: wait for it
            result = Saga("place-order", steps, store=store, lease_ttl=0.5).resume("A1", wait=30)
            print(json.dumps({"status": result.status, "history": result.history,
                              "context": result.context}))
""")


def run_child(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "saga.db"),
            str(tmp_path / "ledger.jsonl"),
            mode,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_a_real_crash_in_a_child_process_and_a_fresh_process_resumes(tmp_path):
    (tmp_path / "ledger.jsonl").write_text("")
    crashed = run_child(tmp_path, "crash")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr  # a real kill -9
    resumed = run_child(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["status"] == "completed"
    assert [tuple(h) for h in result["history"]] == [
        *[(n, "done") for n in NAMES[:2]],
        ("charge_payment", "interrupted"),
        *[(n, "done") for n in NAMES[2:]],
    ]

    ledger = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    calls = [e["call"] for e in ledger if "call" in e]
    work = [e["work"] for e in ledger if "work" in e]
    # finished steps were not redone; the interrupted one was called again ...
    assert calls == NAMES[:3] + NAMES[2:]
    # ... and its idempotency key made the second call do no work
    assert work == [f"A1/{n}" for n in NAMES]
    assert result["context"] == {"order_id": "A1", **{n: "done" for n in NAMES}}
