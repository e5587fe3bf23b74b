"""Leases: one owner at a time, a heartbeat while a step runs, takeover after expiry;
Saga.unfinished and the RecoveryWorker."""

from __future__ import annotations

import threading
import time

import pytest

from eda_kit import Event, Saga, Step
from eda_kit.errors import LeaseLost, SagaBusy
from eda_kit.saga import ManualClock, RecoveryWorker
from eda_kit.saga.faults import SimulatedCrash, inject_faults
from eda_kit.saga.lease import KEEPER, Heartbeat
from eda_kit.saga.log import read_log
from eda_kit.store import InMemoryEventStore, SQLiteEventStore


def noop(ctx):
    return None


def blocking_step(inside: threading.Event, let_go: threading.Event) -> Step:
    def hold(ctx):
        inside.set()
        assert let_go.wait(30)

    return Step("hold", hold)


def log_types(store, saga_id):
    return [e.type for e in store.read_stream(f"saga-{saga_id}")]


def test_the_heartbeat_renews_the_lease_while_a_long_step_runs():
    store = InMemoryEventStore()
    inside, let_go = threading.Event(), threading.Event()
    saga = Saga("s", [blocking_step(inside, let_go)], store=store, owner="w1", lease_ttl=3.0)
    worker = threading.Thread(target=saga.run, kwargs={"saga_id": "x"})
    worker.start()
    try:
        assert inside.wait(30)
        deadline = time.monotonic() + 60
        while log_types(store, "x").count("LeaseRenewed") < 2:  # two beats: ~3 s
            assert time.monotonic() < deadline, "the heartbeat never renewed the lease"
            time.sleep(0.05)
        # the step has run longer than a lease lasts, and the saga is still owned
        rival = Saga("s", [Step("hold", noop)], store=store, owner="w2", lease_ttl=3.0)
        with pytest.raises(SagaBusy, match="'w1'"):
            rival.resume("x")
        renewals = [e for e in store.read_stream("saga-x") if e.type == "LeaseRenewed"]
        assert all(e.data["owner"] == "w1" for e in renewals)
        assert all(e.data["expires_at"] == e.data["at"] + 3.0 for e in renewals)
    finally:
        let_go.set()
        worker.join(30)
    assert log_types(store, "x")[-1] == "SagaFinished"


def test_one_keeper_thread_beats_the_leases_of_two_sagas_running_at_once():
    store = InMemoryEventStore()
    gates = [(threading.Event(), threading.Event()) for _ in range(2)]
    workers = [
        threading.Thread(
            target=Saga("s", [blocking_step(*gate)], store=store, owner=f"w{n}", lease_ttl=1.5).run,
            kwargs={"saga_id": f"x{n}"},
        )
        for n, gate in enumerate(gates)
    ]
    for worker in workers:
        worker.start()
    try:
        assert all(inside.wait(30) for inside, _ in gates)
        deadline = time.monotonic() + 60
        while min(log_types(store, f"x{n}").count("LeaseRenewed") for n in range(2)) < 2:
            assert time.monotonic() < deadline, "a lease was not renewed"
            time.sleep(0.05)
        keepers = [t for t in threading.enumerate() if t.name == "lease-keeper"]
        assert len(keepers) == 1  # not a thread per saga
        assert not [t for t in threading.enumerate() if t.name.startswith("saga-heartbeat")]
    finally:
        for _, let_go in gates:
            let_go.set()
        for worker in workers:
            worker.join(30)
    assert len(KEEPER) == 0  # both finished: nothing left to beat
    assert all(log_types(store, f"x{n}")[-1] == "SagaFinished" for n in range(2))


def test_stop_waits_for_a_renewal_in_flight_and_no_beat_comes_after_it():
    renewing, let_go, renewals = threading.Event(), threading.Event(), []

    def renew():
        renewing.set()
        assert let_go.wait(30)
        renewals.append("renewed")

    heartbeat = Heartbeat(0.03, lambda: True, renew).start()
    assert renewing.wait(30)
    stopper = threading.Thread(target=heartbeat.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # stop() waits: the renewal is still being written
    let_go.set()
    stopper.join(30)
    after_stop = len(renewals)
    assert after_stop >= 1  # the renewal in flight finished before stop() returned
    time.sleep(0.1)  # several intervals: a stopped heartbeat is never beaten again
    assert len(renewals) == after_stop


def test_a_heartbeat_that_finds_its_lease_lost_stops_and_remembers_it():
    lost = LeaseLost("x", "w2", 0.0)

    def renew():
        raise lost

    heartbeat = Heartbeat(0.03, lambda: True, renew).start()
    deadline = time.monotonic() + 30
    while heartbeat.lost is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert heartbeat.lost is lost
    assert heartbeat not in KEEPER._next


def test_a_quick_saga_writes_no_renewals():
    store = InMemoryEventStore()
    Saga("s", [Step("a", noop), Step("b", noop)], store=store).run(saga_id="x")
    assert "LeaseRenewed" not in log_types(store, "x")


def test_a_renewal_is_written_before_a_step_when_the_lease_runs_short():
    store, clock = InMemoryEventStore(), ManualClock()

    def slow(ctx):
        clock.advance(25)  # most of the 30 s lease goes by

    saga = Saga("s", [Step("a", slow), Step("b", noop)], store=store, clock=clock)
    saga.run(saga_id="x")
    assert log_types(store, "x") == [
        "SagaStarted",
        "StepStarted",
        "StepDone",
        "LeaseRenewed",  # less than a third left: renewed before starting b
        "StepStarted",
        "StepDone",
        "SagaFinished",
    ]


def test_saga_busy_names_the_owner_and_the_expiry_and_nothing_is_written():
    store, clock = InMemoryEventStore(), ManualClock()
    with pytest.raises(SimulatedCrash):
        Saga("s", inject_faults([Step("a", noop)], crash_at=1), store=store, owner="w1",
             clock=clock).run(saga_id="x")  # fmt: skip
    before = store.stream_version("saga-x")
    with pytest.raises(SagaBusy) as busy:
        Saga("s", [Step("a", noop)], store=store, owner="w2", clock=clock).resume("x")
    assert busy.value.owner == "w1" and busy.value.expires_at == clock.now() + 30
    assert str(busy.value) == (
        "saga 'x' is being run by 'w1' (lease until 2026-01-05 09:00:30.00 UTC); nothing was "
        "run. Wait for it with resume('x', wait=seconds), or let the lease expire if 'w1' died."
    )
    assert store.stream_version("saga-x") == before


def test_an_expired_lease_is_taken_over_and_the_log_says_from_whom():
    store, clock = InMemoryEventStore(), ManualClock()
    with pytest.raises(SimulatedCrash):
        Saga("s", inject_faults([Step("a", noop)], crash_at=1), store=store, owner="w1",
             clock=clock).run(saga_id="x")  # fmt: skip
    clock.advance(30)  # the lease ends at exactly this instant
    result = Saga("s", [Step("a", noop)], store=store, owner="w2", clock=clock).resume("x")
    assert result.status == "completed"
    taken = [e for e in store.read_stream("saga-x") if e.type == "LeaseTaken"][0]
    assert taken.data["owner"] == "w2" and taken.data["previous"] == "w1"


def test_waiting_for_a_dead_owner_takes_over_when_its_lease_expires():
    store, clock = InMemoryEventStore(), ManualClock()
    with pytest.raises(SimulatedCrash):
        Saga("s", inject_faults([Step("a", noop)], crash_at=1), store=store, owner="w1",
             clock=clock).run(saga_id="x")  # fmt: skip
    start = clock.now()
    waiter = Saga("s", [Step("a", noop)], store=store, owner="w2", clock=clock)
    with pytest.raises(SagaBusy):
        waiter.resume("x", wait=10)  # ten seconds are not enough: the lease has thirty
    assert clock.now() - start == pytest.approx(10)
    assert waiter.resume("x", wait=25).status == "completed"
    assert clock.now() - start == pytest.approx(30)


@pytest.mark.parametrize("resumers", [2, 3])
def test_concurrent_resumers_exactly_one_runs_the_rest_are_busy(tmp_path, resumers):
    clock = ManualClock()
    with SQLiteEventStore(tmp_path / "s.db") as store:
        with pytest.raises(SimulatedCrash):
            Saga("s", inject_faults([Step("a", noop)], crash_at=1), store=store, owner="w0",
                 clock=clock).run(saga_id="x")  # fmt: skip
        clock.advance(31)
        ran, outcomes, gate = [], [], threading.Barrier(resumers)

        def step(ctx):
            ran.append(ctx.attempt)
            time.sleep(0.2)  # long enough for every rival to try

        def resume(i):
            saga = Saga("s", [Step("a", step)], store=store, owner=f"w{i}", clock=clock)
            gate.wait()
            try:
                outcomes.append(saga.resume("x").status)
            except SagaBusy as busy:
                outcomes.append(f"busy:{busy.owner}")

        threads = [threading.Thread(target=resume, args=(i,)) for i in range(1, resumers + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(ran) == 1
        taken = [e for e in store.read_stream("saga-x") if e.type == "LeaseTaken"]
        assert len(taken) == 1
        winner = taken[0].data["owner"]
        assert sorted(outcomes) == [f"busy:{winner}"] * (resumers - 1) + ["completed"]


def test_two_runs_of_one_new_saga_id_one_is_busy():
    store = InMemoryEventStore()
    inside, let_go = threading.Event(), threading.Event()
    first = Saga("s", [blocking_step(inside, let_go)], store=store, owner="w1")
    worker = threading.Thread(target=first.run, kwargs={"saga_id": "x"})
    worker.start()
    assert inside.wait(30)
    with pytest.raises(SagaBusy, match="'w1'"):
        Saga("s", [Step("hold", noop)], store=store, owner="w2").run(saga_id="x")
    let_go.set()
    worker.join(30)


# --- Saga.unfinished and the recovery worker ----------------------------------------------------


def forward_saga(store, clock, owner, confirm):
    return Saga(
        "order",
        [
            Step("reserve", noop, noop),
            Step("charge", noop, kind="pivot"),
            Step("confirm", confirm, kind="retriable"),
        ],
        store=store,
        owner=owner,
        clock=clock,
    )


def test_unfinished_lists_running_abandoned_and_waiting_sagas_with_owner_age_and_last_step():
    store, clock = InMemoryEventStore(), ManualClock()
    start = clock.now()
    # finished: not listed
    forward_saga(store, clock, "w1", noop).run(saga_id="done")
    # waiting: stopped unfinished past the pivot (no lease)
    forward_saga(store, clock, "w1", lambda ctx: 1 / 0).run(saga_id="waiting")
    clock.advance(5)
    # abandoned: crashed in charge; its lease runs out after 30 s
    with pytest.raises(SimulatedCrash):
        Saga(
            "order",
            inject_faults(forward_saga(store, clock, "w2", noop).steps, crash_at="charge"),
            store=store,
            owner="w2",
            clock=clock,
        ).run(saga_id="abandoned")
    clock.advance(40)
    # running: crashed just now, so its lease is still live
    with pytest.raises(SimulatedCrash):
        Saga(
            "order",
            inject_faults(forward_saga(store, clock, "w3", noop).steps, crash_at="reserve"),
            store=store,
            owner="w3",
            clock=clock,
        ).run(saga_id="running")
    clock.advance(2)
    store.append("saga-notes", Event("Note"))  # named like a saga log, but is not one
    found = Saga.unfinished(store, clock=clock)
    assert [(s.saga_id, s.state, s.owner, s.age, s.last_step) for s in found] == [
        ("waiting", "waiting", None, 47.0, "confirm"),
        ("abandoned", "abandoned", "w2", 42.0, "charge"),
        ("running", "running", "w3", 2.0, "reserve"),
    ]
    assert found[1].expires_at == start + 5 + 30 and found[0].expires_at is None
    assert all(s.name == "order" for s in found)
    assert found[0].last_event == "LeaseReleased" and found[2].last_event == "StepStarted"


def test_the_recovery_worker_resumes_what_nobody_holds_and_leaves_live_sagas_alone():
    store, clock = InMemoryEventStore(), ManualClock()
    forward_saga(store, clock, "w1", lambda ctx: 1 / 0).run(saga_id="waiting")
    with pytest.raises(SimulatedCrash):
        Saga(
            "order",
            inject_faults(forward_saga(store, clock, "w2", noop).steps, crash_at="charge"),
            store=store,
            owner="w2",
            clock=clock,
        ).run(saga_id="abandoned")
    clock.advance(31)
    with pytest.raises(SimulatedCrash):
        Saga(
            "order",
            inject_faults(forward_saga(store, clock, "w3", noop).steps, crash_at="reserve"),
            store=store,
            owner="w3",
            clock=clock,
        ).run(saga_id="running")
    Saga("other", [Step("x", noop)], store=store, clock=clock, lease_ttl=None).run(saga_id="o")
    with pytest.raises(SimulatedCrash):
        Saga("other", inject_faults([Step("x", noop)], crash_at=1), store=store, clock=clock,
             lease_ttl=None).run(saga_id="o2")  # fmt: skip

    worker = RecoveryWorker([forward_saga(store, clock, "recovery", noop)])
    report = {(r.saga_id, r.outcome) for r in worker.run_once()}
    assert report == {("waiting", "completed"), ("abandoned", "completed"), ("o2", "unknown saga")}
    assert [s.saga_id for s in Saga.unfinished(store, clock=clock)] == ["o2", "running"]
    assert read_log(store.read_stream("saga-abandoned")).history == [
        ("reserve", "done"),
        ("charge", "interrupted"),
        ("charge", "done"),
        ("confirm", "done"),
    ]


def test_the_recovery_worker_sweeps_in_the_background_until_stopped():
    store, clock = InMemoryEventStore(), ManualClock()
    forward_saga(store, clock, "w1", lambda ctx: 1 / 0).run(saga_id="a")
    worker = RecoveryWorker([forward_saga(store, clock, "recovery", noop)]).start(every=0.01)
    deadline = time.monotonic() + 30
    while Saga.unfinished(store, clock=clock):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    worker.stop()
    assert worker.passes >= 1


def test_recovery_worker_refuses_what_it_cannot_use():
    with pytest.raises(ValueError, match="at least one Saga"):
        RecoveryWorker([])
    with pytest.raises(ValueError, match="has no store"):
        RecoveryWorker([Saga("s", [Step("a", noop)])])
    with pytest.raises(TypeError, match="takes Saga objects"):
        RecoveryWorker(["s"])
