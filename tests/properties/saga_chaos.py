"""The saga chaos harness: random sagas, random faults, real kill -9, and the money invariant.

One *case* is drawn from a seed. It builds a shop (stock, orders, a payment ledger) in a SQLite
file whose every operation claims its idempotency key in the same transaction as its change
(``SQLiteIdempotencyStore.run_in_transaction``), a random order saga over it (random step
order, kinds, retries, backoff, timeouts, extra steps), and a random set of faults:

- ``exception``   an attempt fails before it reaches the shop (nothing happened)
- ``unknown``     the shop did the work, then the answer was lost (``OutcomeUnknown``)
- ``late``        the attempt overruns its timeout, then reaches the shop anyway (late success)
- ``kill_before`` ``kill -9`` of the process inside an action/compensation, before the shop call
- ``kill_after``  ``kill -9`` after the shop committed, before the saga heard of it
- ``kill_log``    ``kill -9`` just before or just after the n-th write to the saga logs
- business outcomes: out of stock, card declined (the shop refuses and records it)

Orders start concurrently, one worker process each. Whenever processes died, every lease is
let expire and 1, 2 or 3 resumer processes race to recover the unfinished sagas (the lease
lets one through; the others get ``SagaBusy``). When all sagas have finished, the invariant:

- every saga finished ``completed`` or ``compensated``;
- charged - refunded = price x orders confirmed, and each order nets to price or 0;
- stock: initial - now = the quantity of the confirmed orders; never negative;
- each effect (a ledger row per idempotency key and kind) at most once;
- one owner at a time: no two processes were ever inside the steps of one saga at once.

Run many cases:  ``python tests/properties/saga_chaos.py --cases 5000 [--seed 1]``
(``test_saga_chaos.py`` runs a bounded number under hypothesis). A failure names its seed;
``--seed N --cases 1`` reruns exactly that case.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eda_kit import SQLiteEventStore
from eda_kit.errors import OutcomeUnknown, ReplayedFailure, SagaBusy
from eda_kit.messaging import SQLiteIdempotencyStore
from eda_kit.saga import Backoff, Saga, Step
from eda_kit.saga.faults import die
from eda_kit.saga.lease import DEFAULT_LEASE_TTL

PRICE = 30
FAULT_KINDS = ("exception", "unknown", "late", "kill_before", "kill_after", "kill_log")
LATE_TIMEOUT = 0.3  # the timeout of a step that has a late attempt planned
MAX_ROUNDS = 40


# --- the plan ------------------------------------------------------------------------------------


@dataclass
class StepPlan:
    name: str
    op: str
    kind: str
    compensated: bool
    retries: int
    compensation_retries: int
    backoff: float | None
    timeout: float | None = None
    compensation_timeout: float | None = None


@dataclass
class Plan:
    seed: int
    orders: list[tuple[str, int]]  # (order id, quantity)
    stock: int
    card_limit: int
    steps: list[StepPlan]
    faults: dict[tuple[str, str, int], str]  # (step, phase, attempt) -> fault kind
    log_kill: tuple[int, str] | None  # (n-th write, "before" | "after")
    resumers: int

    def describe(self) -> str:
        steps = ", ".join(
            f"{s.name}({s.kind}{'' if s.compensated or s.kind == 'retriable' else ', no undo'})"
            for s in self.steps
        )
        faults = ", ".join(f"{k[0]}.{k[1]}#{k[2]}={v}" for k, v in sorted(self.faults.items()))
        return (
            f"orders={self.orders} stock={self.stock} card_limit={self.card_limit} "
            f"steps=[{steps}] faults=[{faults}] log_kill={self.log_kill} resumers={self.resumers}"
        )


def make_plan(seed: int) -> Plan:
    """A random case, the same for the same seed."""
    rng = random.Random(seed)
    orders = [(f"O{i + 1}", rng.randint(1, 3)) for i in range(rng.randint(1, 3))]
    first = ["create_order", "reserve"] + (["check_fraud"] if rng.random() < 0.4 else [])
    charge_kind = rng.choice(["compensatable", "pivot"])
    if charge_kind == "compensatable":  # anywhere among the compensatable steps
        first.append("charge")
    rng.shuffle(first)
    if charge_kind == "pivot":  # the point of no return comes after them all
        first.append("charge")
    names = [*first, "confirm"] + (["notify"] if rng.random() < 0.4 else [])
    steps = []
    for name in names:
        kind = "retriable" if name in ("confirm", "notify") else "compensatable"
        if name == "charge":
            kind = charge_kind
        compensated = name in ("create_order", "reserve", "charge")
        if name == "charge" and kind == "pivot":
            compensated = rng.random() < 0.5
        steps.append(
            StepPlan(
                name=name,
                op=name,
                kind=kind,
                compensated=compensated,
                retries=rng.randint(0, 3),
                compensation_retries=0,
                backoff=rng.choice([None, 0.001, 0.005]),
            )
        )
    faults: dict[tuple[str, str, int], str] = {}
    step_faults = ("exception", "unknown", "late", "kill_before", "kill_after")
    for _ in range(rng.randint(0, 5)):
        step = rng.choice(steps)
        phase = "compensation" if step.compensated and rng.random() < 0.35 else "action"
        faults[(step.name, phase, rng.randint(1, 3))] = rng.choice(step_faults)
    for step in steps:
        if any(k[0] == step.name and k[1] == "action" and v == "late" for k, v in faults.items()):
            step.timeout = LATE_TIMEOUT
        comp = [v for k, v in faults.items() if k[0] == step.name and k[1] == "compensation"]
        if "late" in comp:
            step.compensation_timeout = LATE_TIMEOUT
        # enough retries that every compensation ends up done: a compensation that gives up
        # is a saga "failed" for a human, which the harness does not model
        step.compensation_retries = len(comp) + rng.randint(1, 2)
    log_kill = None
    if rng.random() < 0.5:
        log_kill = (rng.randint(1, 12 * len(orders)), rng.choice(["before", "after"]))
    return Plan(
        seed=seed,
        orders=orders,
        stock=rng.randint(0, 7),
        card_limit=rng.choice([PRICE, PRICE, PRICE, PRICE - 1]),
        steps=steps,
        faults=faults,
        log_kill=log_kill,
        resumers=rng.randint(1, 3),
    )


# --- the sweeps: a crash at every point of a fixed saga, not only where the dice fall ----------


def _fixed_steps(names: list[str], pivot: str | None = None) -> list[StepPlan]:
    steps = []
    for name in names:
        kind = "retriable" if name in ("confirm", "notify") else "compensatable"
        if name == pivot:
            kind = "pivot"
        steps.append(
            StepPlan(
                name=name,
                op=name,
                kind=kind,
                compensated=name in ("create_order", "reserve", "charge"),
                retries=1,
                compensation_retries=2,
                backoff=None,
            )
        )
    return steps


#: Three fixed sagas of one order: one that completes (charge is the pivot), one whose card is
#: declined (reserve and create_order are compensated), one out of stock after the charge
#: (charge and create_order are compensated). Between them every action and every
#: compensation of the shop runs.
@dataclass(frozen=True)
class Scenario:
    steps: list[str]
    pivot: str | None
    stock: int
    card_limit: int
    fails: str | None  # the step that fails for good (a business "no": nothing happened)
    undone: list[str]  # the steps whose compensations run


SWEEP_SCENARIOS = {
    "completes": Scenario(["create_order", "reserve", "charge", "confirm"], "charge", 5, PRICE,
                          None, []),
    "declined": Scenario(["create_order", "reserve", "charge", "confirm"], None, 5, PRICE - 1,
                         "charge", ["reserve", "create_order"]),
    "out of stock": Scenario(["create_order", "charge", "reserve", "confirm"], None, 0, PRICE,
                             "reserve", ["charge", "create_order"]),
}  # fmt: skip


def sweep_plan(
    scenario: str,
    *,
    faults: dict[tuple[str, str, int], str] | None = None,
    log_kill: tuple[int, str] | None = None,
    resumers: int = 1,
) -> Plan:
    """One order through a fixed scenario, with the given crash (or none)."""
    fixed = SWEEP_SCENARIOS[scenario]
    return Plan(
        seed=-1,
        orders=[("O1", 1)],
        stock=fixed.stock,
        card_limit=fixed.card_limit,
        steps=_fixed_steps(fixed.steps, fixed.pivot),
        faults=dict(faults or {}),
        log_kill=log_kill,
        resumers=resumers,
    )


def sweep_plans() -> list[tuple[str, Plan]]:
    """Every crash point of the three fixed sagas: ``kill -9`` just before and just after each
    of their log writes, and inside each action and compensation that runs (before the shop
    call, and after it when the shop said yes). Each crash is followed by rounds of 1, 2 or 3
    racing resumers, in turn."""
    plans: list[tuple[str, Plan]] = []
    for scenario, fixed in SWEEP_SCENARIOS.items():
        writes = run_plan(sweep_plan(scenario)).log_writes  # how many, with nothing going wrong
        for n in range(1, writes + 1):
            for when in ("before", "after"):
                label = f"{scenario}: kill -9 {when} log write {n} of {writes}"
                plans.append((label, sweep_plan(scenario, log_kill=(n, when))))
        ran = fixed.steps[: fixed.steps.index(fixed.fails) + 1] if fixed.fails else fixed.steps
        points = [(name, "action") for name in ran]
        points += [(name, "compensation") for name in fixed.undone]
        for name, phase in points:
            for fault in ("kill_before", "kill_after"):
                if fault == "kill_after" and name == fixed.fails and phase == "action":
                    continue  # the shop said no: there is no "after the shop committed"
                label = f"{scenario}: {fault} inside the {phase} of {name}"
                plans.append((label, sweep_plan(scenario, faults={(name, phase, 1): fault})))
    for index, (label, plan) in enumerate(plans):
        plans[index] = (label, dataclasses.replace(plan, resumers=1 + index % 3))
    return plans


# --- the shop: every operation claims its key in the same transaction as its change --------------


class Transient(Exception):
    """A failure before the shop was reached: nothing happened (the claim is dropped)."""


class OutOfStock(Exception):
    pass


class Declined(Exception):
    pass


BUSINESS = (OutOfStock, Declined, ReplayedFailure)


def create_tables(path: Path, stock: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL);
        CREATE TABLE orders (order_id TEXT PRIMARY KEY, state TEXT NOT NULL);
        CREATE TABLE ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,
                             kind TEXT NOT NULL, order_id TEXT NOT NULL, amount INTEGER);
        """
    )
    conn.execute("INSERT INTO stock VALUES ('book', ?)", (stock,))
    conn.commit()
    conn.close()


def _effect(conn, key, kind, order_id, amount=None):
    conn.execute(
        "INSERT INTO ledger (key, kind, order_id, amount) VALUES (?, ?, ?, ?)",
        (key, kind, order_id, amount),
    )


def _create(conn, key, order_id, qty, card_limit):
    conn.execute("INSERT OR REPLACE INTO orders VALUES (?, 'pending')", (order_id,))
    _effect(conn, key, "create", order_id)
    return {"order": order_id}


def _cancel(conn, key, order_id, qty, card_limit):
    conn.execute("UPDATE orders SET state = 'cancelled' WHERE order_id = ?", (order_id,))
    _effect(conn, key, "cancel", order_id)
    return {}


def _reserve(conn, key, order_id, qty, card_limit):
    (have,) = conn.execute("SELECT qty FROM stock WHERE sku = 'book'").fetchone()
    if have < qty:
        raise OutOfStock(f"{qty} wanted, {have} in stock")
    conn.execute("UPDATE stock SET qty = qty - ? WHERE sku = 'book'", (qty,))
    _effect(conn, key, "reserve", order_id, qty)
    return {"reserved": qty}


def _release(conn, key, order_id, qty, card_limit):
    conn.execute("UPDATE stock SET qty = qty + ? WHERE sku = 'book'", (qty,))
    _effect(conn, key, "release", order_id, qty)
    return {}


def _charge(conn, key, order_id, qty, card_limit):
    if PRICE > card_limit:
        raise Declined(f"{PRICE} is over the card limit of {card_limit}")
    _effect(conn, key, "charge", order_id, PRICE)
    return {"charged": PRICE}


def _refund(conn, key, order_id, qty, card_limit):
    _effect(conn, key, "refund", order_id, PRICE)
    return {}


def _confirm(conn, key, order_id, qty, card_limit):
    conn.execute("UPDATE orders SET state = 'confirmed' WHERE order_id = ?", (order_id,))
    _effect(conn, key, "confirm", order_id)
    return {}


def _notify(conn, key, order_id, qty, card_limit):
    _effect(conn, key, "notify", order_id)
    return {}


def _check_fraud(conn, key, order_id, qty, card_limit):
    return {"fraud_checked": True}  # reads only: nothing to undo


OPERATIONS = {
    "create_order": (_create, _cancel),
    "reserve": (_reserve, _release),
    "check_fraud": (_check_fraud, None),
    "charge": (_charge, _refund),
    "confirm": (_confirm, None),
    "notify": (_notify, None),
}


class Shop:
    """The shop's side: each call runs under its idempotency key, atomically with its change."""

    def __init__(self, path: Path, card_limit: int) -> None:
        self.keys = SQLiteIdempotencyStore(path, owner=f"pid {os.getpid()}")
        self.card_limit = card_limit

    def call(self, key: str, fn, ctx) -> dict:
        order_id, qty = ctx["order_id"], ctx["qty"]
        request = {"op": fn.__name__, "order": order_id, "qty": qty}
        return self.keys.run_in_transaction(
            key, fn, key, order_id, qty, self.card_limit, request=request, release_on=(Transient,)
        )


# --- the saga, with the plan's faults wired in ----------------------------------------------


class FileClock:
    """Wall time plus an offset kept in a file: the harness moves every process's clock at once
    (to let a dead worker's lease expire without waiting for it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> float:
        try:
            offset = float(self.path.read_text() or 0)
        except (FileNotFoundError, ValueError):
            offset = 0.0
        return time.time() + offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class Fired:
    """Lines appended to a file by any process (the faults that went off; step calls)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, what: str) -> None:
        with open(self.path, "a") as f:  # one short O_APPEND write: safe across processes
            f.write(what + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []


def _wait_for_outcome(store_path: Path, saga_id: str, step: str, phase: str, attempt: int) -> None:
    """A late attempt: wait until the saga has written this attempt off (or 5 s), then go on."""
    started = "StepStarted" if phase == "action" else "CompensationStarted"
    deadline = time.monotonic() + 5
    with SQLiteEventStore(store_path) as store:
        while time.monotonic() < deadline:
            for event in store.read_stream(f"saga-{saga_id}"):
                data = event.data
                if data.get("step") == step and data.get("attempt") == attempt:
                    if event.type != started:
                        return
            time.sleep(0.01)


def build_saga(plan: Plan, workdir: Path, store, shop: Shop, owner: str, fired: Fired) -> Saga:
    calls = Fired(workdir / "calls")  # when each process was inside a step, for the overlap check

    def perform(ctx, sp: StepPlan, phase: str) -> dict:
        calls.note(f"start {os.getpid()} {ctx.saga_id} {time.monotonic()}")
        try:
            return attempt(ctx, sp, phase)
        finally:
            calls.note(f"end {os.getpid()} {ctx.saga_id} {time.monotonic()}")

    def attempt(ctx, sp: StepPlan, phase: str) -> dict:
        fault = plan.faults.get((sp.name, phase, ctx.attempt))
        if fault is not None:
            fired.note(f"{fault} {sp.name} {phase} {ctx.attempt}")
        if fault == "exception":
            raise Transient(f"injected: {sp.name} {phase} attempt {ctx.attempt}")
        if fault == "kill_before":
            die("kill -9 before the shop call", hard=True)
        if fault == "late":
            _wait_for_outcome(workdir / "saga.db", ctx.saga_id, sp.name, phase, ctx.attempt)
        do, undo = OPERATIONS[sp.op]
        if phase == "action":
            result = shop.call(ctx.idempotency_key, do, ctx)
        else:
            # ask again with the action's key: the first outcome comes back (or, if the action
            # never happened, it happens now); then undo exactly that, under the undo's own key
            try:
                shop.call(ctx.action_key, do, ctx)
            except BUSINESS:
                result = {}  # the action failed: nothing to undo
            else:
                result = shop.call(ctx.idempotency_key, undo, ctx)
        if fault == "kill_after":
            die("kill -9 after the shop call", hard=True)
        if fault == "unknown":
            raise OutcomeUnknown(f"injected: the answer to {sp.name} {phase} was lost")
        return result

    steps = []
    for sp in plan.steps:

        def action(ctx, sp=sp):
            return perform(ctx, sp, "action")

        def compensation(ctx, sp=sp):
            return perform(ctx, sp, "compensation")

        backoff = None if sp.backoff is None else Backoff.fixed(sp.backoff)
        steps.append(
            Step(
                sp.name,
                action,
                compensation if sp.compensated else None,
                retries=sp.retries,
                compensation_retries=sp.compensation_retries,
                timeout=sp.timeout,
                compensation_timeout=sp.compensation_timeout,
                kind=sp.kind,
                backoff=backoff,
            )
        )
    return Saga("order", steps, store=store, owner=owner, clock=FileClock(workdir / "clock"))


class KillOnWrite:
    """The saga stores, dying (kill -9) at the case's n-th saga log write, once per case."""

    def __init__(self, store, at: int, when: str, fired: Fired) -> None:
        self.store, self.at, self.when, self.fired = store, at, when, fired
        self.appends = 0

    def append(self, stream_id, events, expected_version):
        self.appends += 1
        doomed = self.appends == self.at
        if doomed and self.when == "before":
            self.fired.note(f"kill_log before {self.at}")
            die("kill -9 before a log write", hard=True)
        version = self.store.append(stream_id, events, expected_version)
        if doomed:
            self.fired.note(f"kill_log after {self.at}")
            die("kill -9 after a log write", hard=True)
        return version

    def __getattr__(self, name):
        return getattr(self.store, name)


def _saga_writes(store) -> int:
    return sum(store.stream_version(s) for s in store.streams() if s.startswith("saga-"))


def child(plan: Plan, workdir: Path, role: str, order: tuple[str, int] | None) -> None:
    """A worker (runs one order's saga) or a resumer (recovers every unfinished saga)."""
    fired = Fired(workdir / "fired")
    with SQLiteEventStore(workdir / "saga.db") as real_store:
        store: Any = real_store
        if plan.log_kill is not None and not any(f.startswith("kill_log") for f in fired.read()):
            n, when = plan.log_kill
            done = _saga_writes(real_store)
            if n > done:
                store = KillOnWrite(real_store, n - done, when, fired)
        shop = Shop(workdir / "shop.db", plan.card_limit)
        saga = build_saga(plan, workdir, store, shop, role, fired)
        if order is not None:
            order_id, qty = order
            saga.run({"order_id": order_id, "qty": qty}, saga_id=order_id)
        else:
            for found in Saga.unfinished(real_store, clock=saga.clock):
                try:
                    saga.resume(found.saga_id)
                except SagaBusy:
                    pass  # a rival resumer holds it (or took it over): its job now
        for thread in threading.enumerate():  # a late attempt still on its way to the shop
            if thread.name.startswith("saga-") and thread is not threading.current_thread():
                thread.join(10)
        shop.keys.close()


def spawn(plan: Plan, workdir: Path, role: str, order: tuple[str, int] | None) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never return into the caller's code
        code = 0
        try:
            child(plan, workdir, role, order)
        except BaseException:
            with open(workdir / f"error-{role}", "w") as f:
                f.write(traceback.format_exc())
            code = 1
        finally:
            os._exit(code)
    return pid


def wait_all(pids: list[int]) -> list[int]:
    statuses = []
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        statuses.append(os.waitstatus_to_exitcode(status))
    return statuses


# --- one case --------------------------------------------------------------------------------


@dataclass
class CaseReport:
    seed: int
    violations: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    kills: int = 0
    rounds: int = 0
    resumers: collections.Counter = field(default_factory=collections.Counter)
    log_writes: int = 0  # saga log events written in all, by every process

    @property
    def ok(self) -> bool:
        return not self.violations


def chaos_dir() -> str | None:
    """Where cases keep their files: memory-backed when the machine has it (fsync is free)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def run_case(seed: int) -> CaseReport:
    """The case drawn from ``seed``, run and checked."""
    return run_plan(make_plan(seed))


def run_plan(plan: Plan) -> CaseReport:
    """Run one case (drawn from a seed, or written by hand as in the sweeps) and check it."""
    report = CaseReport(plan.seed)
    workdir = Path(tempfile.mkdtemp(prefix="saga-chaos-", dir=chaos_dir()))
    try:
        create_tables(workdir / "shop.db", plan.stock)
        SQLiteEventStore(workdir / "saga.db").close()
        pids = [spawn(plan, workdir, f"worker-{i}", o) for i, o in enumerate(plan.orders, 1)]
        statuses = wait_all(pids)
        while True:
            errors = sorted(workdir.glob("error-*"))
            if errors:
                report.violations += [f"{e.name}: {e.read_text()}" for e in errors]
                break
            report.kills += statuses.count(-signal.SIGKILL)
            with SQLiteEventStore(workdir / "saga.db") as store:
                unfinished = Saga.unfinished(store, clock=FileClock(workdir / "clock"))
            if not unfinished:
                break
            if report.rounds >= MAX_ROUNDS:
                report.violations.append(
                    f"still unfinished after {MAX_ROUNDS} rounds: {unfinished}"
                )
                break
            report.rounds += 1
            clock = workdir / "clock"  # every lease a dead worker held runs out now
            offset = float(clock.read_text()) if clock.exists() else 0.0
            clock.write_text(str(offset + DEFAULT_LEASE_TTL + 1))
            report.resumers[plan.resumers] += 1
            pids = [spawn(plan, workdir, f"resumer-{i}", None) for i in range(plan.resumers)]
            statuses = wait_all(pids)
        report.fired = Fired(workdir / "fired").read()
        with SQLiteEventStore(workdir / "saga.db") as store:
            report.log_writes = _saga_writes(store)
        if report.ok:
            check_invariant(plan, workdir, report)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def check_invariant(plan: Plan, workdir: Path, report: CaseReport) -> None:
    problems = report.violations
    with SQLiteEventStore(workdir / "saga.db") as store:
        for order_id, _ in plan.orders:
            log = store.read_stream(f"saga-{order_id}")
            if not log:
                report.statuses[order_id] = "never started"  # killed before its first write
                continue
            finished = [e for e in log if e.type == "SagaFinished"]
            if len(finished) != 1:
                problems.append(f"{order_id}: {len(finished)} SagaFinished events")
                continue
            report.statuses[order_id] = finished[0].data["status"]
    confirmed = [o for o, _ in plan.orders if report.statuses.get(o) == "completed"]
    for order_id, status in report.statuses.items():
        if status not in ("completed", "compensated", "never started"):
            problems.append(f"{order_id}: saga ended {status!r}")
    conn = sqlite3.connect(workdir / "shop.db")
    try:
        ledger = conn.execute("SELECT key, kind, order_id, amount FROM ledger").fetchall()
        (stock,) = conn.execute("SELECT qty FROM stock").fetchone()
        orders = dict(conn.execute("SELECT order_id, state FROM orders").fetchall())
    finally:
        conn.close()
    money = collections.Counter()
    for _, kind, order_id, amount in ledger:
        if kind == "charge":
            money[order_id] += amount
        elif kind == "refund":
            money[order_id] -= amount
    charged = sum(amount for _, kind, _, amount in ledger if kind == "charge")
    refunded = sum(amount for _, kind, _, amount in ledger if kind == "refund")
    if charged - refunded != PRICE * len(confirmed):
        problems.append(
            f"money: charged {charged} - refunded {refunded} != {PRICE} x {len(confirmed)} "
            f"confirmed {confirmed}"
        )
    for order_id, _ in plan.orders:
        expected = PRICE if order_id in confirmed else 0
        if money[order_id] != expected:
            problems.append(f"money: order {order_id} nets {money[order_id]}, not {expected}")
    sold = sum(qty for order_id, qty in plan.orders if order_id in confirmed)
    if plan.stock - stock != sold or stock < 0:
        problems.append(f"stock: {plan.stock} at the start, {stock} now, {sold} sold")
    for order_id in confirmed:
        if orders.get(order_id) != "confirmed":
            problems.append(f"order {order_id}: completed saga, order {orders.get(order_id)!r}")
    for order_id, status in report.statuses.items():
        if status == "compensated" and orders.get(order_id) not in (None, "cancelled"):
            problems.append(f"order {order_id}: compensated saga, order {orders[order_id]!r}")
    problems += overlapping_owners(Fired(workdir / "calls").read())
    effects = collections.Counter((key, kind) for key, kind, _, _ in ledger)
    twice = sorted(f"{kind} under {key!r} x{n}" for (key, kind), n in effects.items() if n > 1)
    if twice:
        problems.append(f"effects more than once: {twice}")


def overlapping_owners(lines: list[str]) -> list[str]:
    """Two processes inside one saga's steps at the same time (a lease that did not hold)?

    Each call is an interval from its start to its end on the system's monotonic clock; a
    call whose process was killed ends where it started. Calls of one process may overlap
    (a late attempt still running beside the next one): that is one owner.
    """
    open_calls: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    spans: dict[str, list[tuple[float, float, str]]] = collections.defaultdict(list)
    for line in lines:
        what, pid, saga_id, moment = line.split()
        if what == "start":
            open_calls[pid, saga_id].append(float(moment))
        elif open_calls[pid, saga_id]:
            spans[saga_id].append((open_calls[pid, saga_id].pop(), float(moment), pid))
    for (pid, saga_id), starts in open_calls.items():
        spans[saga_id] += [(start, start, pid) for start in starts]
    problems = []
    for saga_id, intervals in sorted(spans.items()):
        clashes = {
            tuple(sorted((p1, p2)))
            for s1, e1, p1 in intervals
            for s2, e2, p2 in intervals
            if p1 != p2 and s1 <= s2 < e1
        }
        problems += [
            f"saga {saga_id}: processes {a} and {b} inside its steps at once"
            for a, b in sorted(clashes)
        ]
    return problems


def fault_kind(fired: str) -> str:
    return fired.split()[0]


# --- many cases, from the command line ------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1, help="the first case's seed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    kinds: collections.Counter = collections.Counter()
    outcomes: collections.Counter = collections.Counter()
    resumers: collections.Counter = collections.Counter()
    kills = rounds = 0
    failed = []
    for seed in range(args.seed, args.seed + args.cases):
        report = run_case(seed)
        kinds.update(fault_kind(f) for f in report.fired)
        outcomes.update(report.statuses.values())
        resumers.update(report.resumers)
        kills += report.kills
        rounds += report.rounds
        if not report.ok:
            failed.append(report)
            print(f"seed {seed} FAILED: {report.violations}", flush=True)
            print(f"  plan: {make_plan(seed).describe()}", flush=True)
    elapsed = time.perf_counter() - started
    print(
        f"{args.cases} cases (seeds {args.seed}..{args.seed + args.cases - 1}) in {elapsed:.0f} s"
    )
    print(f"faults fired by kind: {dict(sorted(kinds.items()))}")
    print(f"processes killed (kill -9): {kills}; recovery rounds: {rounds}")
    print(f"recovery rounds by number of concurrent resumers: {dict(sorted(resumers.items()))}")
    print(f"saga outcomes: {dict(sorted(outcomes.items()))}")
    print(f"failed cases: {len(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
