"""Unit tests for eda_kit.saga: the orchestrator without a store."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from eda_kit import Saga, SagaResult, Step, Tracer
from eda_kit.messaging.idempotency import Deduplicator, idempotency_key
from eda_kit.saga import FailedStep, SagaContext
from eda_kit.saga.faults import InjectedFault, SimulatedCrash, inject_faults
from eda_kit.store import InMemoryEventStore

ORDER = ["create_order", "reserve_inventory", "charge_payment", "confirm_order"]


def order_steps(calls: list[str], *, confirm_compensation: bool = False) -> list[Step]:
    """Four steps that note each call in ``calls`` and mark the context."""

    def action(name):
        def run(ctx):
            calls.append(name)
            ctx[name] = "done"

        return run

    def undo(name):
        def run(ctx):
            calls.append(f"undo {name}")
            ctx[name] = "undone"

        return run

    steps = [Step(name, action(name), undo(name)) for name in ORDER[:3]]
    steps.append(
        Step(
            "confirm_order",
            action("confirm_order"),
            undo("confirm_order") if confirm_compensation else None,
        )
    )
    return steps


def test_all_steps_done_in_order():
    calls: list[str] = []
    result = Saga("place-order", order_steps(calls)).run({"order_id": "A1"}, saga_id="A1")
    assert isinstance(result, SagaResult)
    assert result.status == "completed"
    assert calls == ORDER
    assert result.history == [(name, "done") for name in ORDER]
    assert result.context == {"order_id": "A1", **{name: "done" for name in ORDER}}
    assert result.saga_id == "A1" and result.errors == [] and result.steps == tuple(ORDER)


def test_failure_compensates_completed_steps_newest_first_not_the_failed_one():
    calls: list[str] = []
    steps = inject_faults(order_steps(calls), fail="charge_payment")
    result = Saga("place-order", steps).run({"order_id": "A1"})
    assert result.status == "compensated"
    assert calls == [
        "create_order",
        "reserve_inventory",
        "undo reserve_inventory",
        "undo create_order",
    ]
    assert result.history == [
        ("create_order", "done"),
        ("reserve_inventory", "done"),
        ("charge_payment", "failed"),
        ("reserve_inventory", "compensated"),
        ("create_order", "compensated"),
    ]
    assert result.compensated == ["reserve_inventory", "create_order"]
    assert result.errors == [
        FailedStep(
            "charge_payment",
            "action",
            "InjectedFault: injected failure in the action of 'charge_payment' (call 1)",
        )
    ]
    assert result.context["create_order"] == "undone"


def test_steps_without_compensation_are_skipped():
    calls: list[str] = []
    steps = order_steps(calls)
    steps = [Step("notify", lambda ctx: calls.append("notify")), *steps]
    result = Saga("s", inject_faults(steps, fail="charge_payment")).run()
    assert "undo notify" not in calls
    assert result.compensated == ["reserve_inventory", "create_order"]


def test_first_step_failing_compensates_nothing():
    calls: list[str] = []
    result = Saga("s", inject_faults(order_steps(calls), fail=1)).run()
    assert result.status == "compensated"
    assert calls == []
    assert result.history == [("create_order", "failed")]


def test_transient_failure_within_retries_is_retried_and_completes():
    calls: list[str] = []
    steps = order_steps(calls)
    steps[1] = Step("reserve_inventory", steps[1].action, steps[1].compensation, retries=2)
    result = Saga("s", inject_faults(steps, fail={"reserve_inventory": 2})).run()
    assert result.status == "completed"
    assert result.attempts("reserve_inventory") == 3
    assert result.history[1:4] == [("reserve_inventory", "retried")] * 2 + [
        ("reserve_inventory", "done")
    ]


def test_retries_exhausted_fails_the_step():
    calls: list[str] = []
    steps = order_steps(calls)
    steps[1] = Step("reserve_inventory", steps[1].action, steps[1].compensation, retries=2)
    result = Saga("s", inject_faults(steps, fail={"reserve_inventory": 3})).run()
    assert result.status == "compensated"
    assert result.attempts("reserve_inventory") == 3
    assert calls == ["create_order", "undo create_order"]


def test_compensations_are_retried_twice_by_default():
    calls: list[str] = []
    steps = inject_faults(order_steps(calls), fail=3, fail_compensation={"create_order": 2})
    result = Saga("s", steps).run()
    assert result.status == "compensated"
    assert result.history[-3:] == [("create_order", "compensation_retried")] * 2 + [
        ("create_order", "compensated")
    ]


def test_a_compensation_failing_for_good_does_not_stop_the_others():
    calls: list[str] = []
    steps = inject_faults(order_steps(calls), fail=4, fail_compensation="reserve_inventory")
    result = Saga("s", steps).run()
    assert result.status == "failed"
    assert calls[-2:] == ["undo charge_payment", "undo create_order"]
    assert [e.step for e in result.errors] == ["confirm_order", "reserve_inventory"]
    assert result.errors[1].phase == "compensation"
    assert ("reserve_inventory", "compensation_failed") in result.history


def test_a_failed_attempt_leaves_no_changes_in_the_context():
    def half_done(ctx):
        ctx["charged"] = True
        raise RuntimeError("card declined")

    result = Saga("s", [Step("charge", half_done, retries=1)]).run({"a": 1})
    assert result.context == {"a": 1}
    assert result.attempts("charge") == 2


def test_actions_may_return_a_dict_to_merge_or_mutate_or_both():
    def returns(ctx):
        return {"x": ctx["start"] + 1}

    def mutates(ctx):
        ctx["y"] = ctx["x"] * 10
        return {"z": [1, 2]}

    result = Saga("s", [Step("r", returns), Step("m", mutates)]).run({"start": 1})
    assert result.context == {"start": 1, "x": 2, "y": 20, "z": [1, 2]}


def test_returning_something_else_fails_the_step_with_a_clear_error():
    result = Saga("s", [Step("bad", lambda ctx: 42)]).run()
    assert result.status == "compensated"
    assert "returned int: return None or a dict" in result.errors[0].error


def test_non_json_context_is_refused_with_the_key_path():
    with pytest.raises(TypeError, match=r"context\['price'\]: object of type Decimal"):
        Saga("s", [Step("a", lambda ctx: None)]).run({"price": Decimal("1.5")})
    with pytest.raises(TypeError, match="must be a dict"):
        Saga("s", [Step("a", lambda ctx: None)]).run([1, 2])


def test_non_json_value_from_an_action_fails_that_step():
    steps = [
        Step("a", lambda ctx: {"ok": 1}, lambda ctx: None),
        Step("b", lambda ctx: {"when": {1, 2}}),
    ]
    result = Saga("s", steps).run()
    assert result.status == "compensated"
    assert result.errors[0].step == "b"
    assert "left a non-JSON value in the context: context['when']" in result.errors[0].error


def test_context_the_action_gets_knows_where_it_runs():
    seen = []

    def action(ctx):
        assert isinstance(ctx, SagaContext)
        seen.append((ctx.saga_id, ctx.step, ctx.attempt, ctx.idempotency_key))
        if ctx.attempt == 1:
            raise RuntimeError("blip")

    Saga("s", [Step("charge", action, retries=1)]).run(saga_id="A1")
    assert seen == [("A1", "charge", 1, "A1/charge"), ("A1", "charge", 2, "A1/charge")]


def test_step_timeout_counts_as_failure_and_is_retried():
    release = threading.Event()

    def slow(ctx):
        if ctx.attempt == 1:
            release.wait(5)  # overruns the deadline; freed at the end of the test
            ctx["late"] = True
        return {"fast": True}

    try:
        result = Saga("s", [Step("slow", slow, retries=1, timeout=0.05)]).run()
    finally:
        release.set()
    assert result.status == "completed"
    assert result.history == [("slow", "retried"), ("slow", "done")]
    assert result.context == {"fast": True}  # the late attempt's change is not kept


def test_step_timeout_error_names_the_step():
    release = threading.Event()
    try:
        result = Saga("s", [Step("slow", lambda ctx: release.wait(5), timeout=0.02)]).run()
    finally:
        release.set()
    assert result.errors[0].error.startswith("StepTimeout: step 'slow' took longer than 0.02 s")


def test_errors_in_a_timed_step_still_count_as_failures():
    def boom(ctx):
        raise KeyError("sku")

    result = Saga("s", [Step("boom", boom, timeout=5)]).run()
    assert result.errors[0].error == "KeyError: 'sku'"


def test_a_crash_is_not_handled_as_a_failure():
    calls: list[str] = []
    steps = inject_faults(order_steps(calls), crash_at=2)
    with pytest.raises(SimulatedCrash):
        Saga("s", steps).run()
    assert calls == ["create_order", "reserve_inventory"]  # no compensation ran


def test_tracer_records_each_transition():
    tracer = Tracer()
    calls: list[str] = []
    steps = order_steps(calls)[:2]
    steps[1] = Step("reserve_inventory", steps[1].action, service="InventoryService")
    Saga("place-order", inject_faults(steps, fail=2), tracer=tracer).run()
    rows = [(r.source, r.event, r.target, r.outcome) for r in tracer]
    assert rows == [
        ("place-order", "create_order", "create_order", "started"),
        ("place-order", "create_order", "create_order", "done"),
        ("place-order", "reserve_inventory", "InventoryService", "started"),
        ("place-order", "reserve_inventory", "InventoryService", "failed"),
        ("place-order", "create_order", "create_order", "compensated"),
    ]
    assert tracer[3].detail.startswith("InjectedFault")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "", "action": print}, "non-empty name"),
        ({"name": "a", "action": 3}, "action must be callable"),
        ({"name": "a", "action": print, "compensation": "undo"}, "compensation must be callable"),
        ({"name": "a", "action": print, "retries": -1}, "retries must be an int >= 0"),
        ({"name": "a", "action": print, "retries": 1.5}, "retries must be an int >= 0"),
        ({"name": "a", "action": print, "timeout": 0}, "timeout must be > 0 seconds, got 0"),
        ({"name": "a", "action": print, "timeout": -1}, "timeout must be > 0 seconds, got -1"),
        ({"name": "a", "action": print, "timeout": float("nan")}, "finite number of seconds"),
        ({"name": "a", "action": print, "timeout": float("inf")}, "finite number of seconds"),
        ({"name": "a", "action": print, "timeout": 1e12}, "at most 86400 seconds"),
        ({"name": "a", "action": print, "timeout": True}, "must be a number of seconds"),
        ({"name": "a", "action": print, "timeout": "5"}, "must be a number of seconds"),
        (
            {"name": "a", "action": print, "compensation_timeout": float("inf")},
            "compensation_timeout must be a finite number",
        ),
        ({"name": "a", "action": print, "kind": "optional"}, "kind must be one of"),
        (
            {"name": "a", "action": print, "compensation": print, "kind": "retriable"},
            "a retriable step comes after the pivot and is never undone",
        ),
        ({"name": "a", "action": print, "backoff": 0.5}, "backoff must be a Backoff"),
    ],
)
def test_bad_steps_are_refused(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Step(**kwargs)


def test_bad_sagas_are_refused():
    with pytest.raises(ValueError, match="at least one step"):
        Saga("s", [])
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        Saga("s", [Step("a", print), Step("a", print)])
    with pytest.raises(TypeError, match="expected Step objects"):
        Saga("s", [print])
    with pytest.raises(ValueError, match="no store"):
        Saga("s", [Step("a", print)]).resume("x")


def test_inject_faults_refuses_unknown_steps():
    steps = order_steps([])
    with pytest.raises(ValueError, match=r"there is no step 5"):
        inject_faults(steps, fail=5)
    with pytest.raises(ValueError, match="no step named 'pay'"):
        inject_faults(steps, fail="pay")
    with pytest.raises(ValueError, match="has no compensation"):
        inject_faults(steps, fail_compensation="confirm_order")


def test_injected_faults_fail_the_given_number_of_times():
    steps = inject_faults([Step("a", lambda ctx: {"ok": True})], fail={1: 2})
    ctx = SagaContext({}, "id", "a", 1)
    for _ in range(2):
        with pytest.raises(InjectedFault):
            steps[0].action(ctx)
    assert steps[0].action(ctx) == {"ok": True}


def test_idempotency_key_and_deduplicator():
    assert idempotency_key("order-A1", "charge_payment") == "order-A1/charge_payment"
    with pytest.raises(ValueError, match="saga_id"):
        idempotency_key("", "x")
    charges = []
    payments = Deduplicator()

    def charge(amount):
        charges.append(amount)
        return f"receipt-{len(charges)}"

    key = idempotency_key("A1", "charge")
    assert payments.run_once(key, charge, 30) == "receipt-1"
    assert payments.run_once(key, charge, 30) == "receipt-1"
    assert charges == [30] and payments.duplicates == 1 and payments.seen(key)


def test_compensations_get_their_own_idempotency_key():
    keys = []

    def undo(ctx):
        keys.append((ctx.step, ctx.attempt, ctx.idempotency_key))
        if ctx.attempt == 1:
            raise RuntimeError("refund service busy")

    steps = [Step("charge", lambda ctx: None, undo), Step("ship", lambda ctx: None)]
    result = Saga("s", inject_faults(steps, fail="ship")).run(saga_id="A1")
    assert result.status == "compensated"
    assert keys == [
        ("charge", 1, "A1/charge/compensation"),
        ("charge", 2, "A1/charge/compensation"),
    ]


# --- unknown outcomes, the pivot, forward recovery ----------------------------------------------


def test_an_unknown_outcome_on_the_last_attempt_compensates_the_failed_step_too():
    from eda_kit.errors import OutcomeUnknown

    calls: list[str] = []
    seen_maybe = []

    def charge(ctx):
        calls.append("charge")
        raise OutcomeUnknown("connection dropped after the request went out")

    def refund(ctx):
        seen_maybe.append(ctx.maybe_done)
        calls.append("refund")

    steps = order_steps(calls)
    steps[2] = Step("charge_payment", charge, refund)
    result = Saga("s", steps).run()
    assert result.status == "compensated"
    assert calls == [
        "create_order",
        "reserve_inventory",
        "charge",
        "refund",  # the charge may have happened: undone first, as the newest step
        "undo reserve_inventory",
        "undo create_order",
    ]
    assert seen_maybe == [True]  # the refund is told the charge may never have happened
    assert result.unknown == ("charge_payment",)
    assert result.compensated == ["charge_payment", "reserve_inventory", "create_order"]


def test_a_clean_failure_is_not_compensated_and_done_steps_are_not_maybe():
    seen_maybe = []
    steps = [
        Step("a", lambda ctx: None, lambda ctx: seen_maybe.append(("a", ctx.maybe_done))),
        Step("b", lambda ctx: 1 / 0, lambda ctx: seen_maybe.append(("b", ctx.maybe_done))),
    ]
    result = Saga("s", steps).run()
    assert seen_maybe == [("a", False)]
    assert result.unknown == ()


def test_unknown_then_done_on_a_retry_is_known_done():
    from eda_kit.errors import OutcomeUnknown

    def flaky(ctx):
        if ctx.attempt == 1:
            raise OutcomeUnknown("timeout talking to the provider")

    result = Saga("s", [Step("a", flaky, retries=1)]).run()
    assert result.status == "completed" and result.unknown == ()


def pivot_saga(calls, *, confirm_failures=0, confirm_retries=0):
    def note(name):
        return lambda ctx: calls.append(name)

    failures = {"left": confirm_failures}

    def confirm(ctx):
        calls.append("confirm")
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("order service down")

    return [
        Step("reserve", note("reserve"), note("release")),
        Step("charge", note("charge"), kind="pivot"),
        Step("confirm", confirm, kind="retriable", retries=confirm_retries),
    ]


def test_a_failure_after_the_pivot_retries_forward_instead_of_compensating():
    calls: list[str] = []
    result = Saga("s", pivot_saga(calls, confirm_failures=2, confirm_retries=3)).run()
    assert result.status == "completed"
    assert calls == ["reserve", "charge", "confirm", "confirm", "confirm"]
    assert "release" not in calls


def test_past_the_pivot_a_step_out_of_retries_leaves_the_saga_unfinished_not_undone():
    store, calls = InMemoryEventStore(), []
    result = Saga("s", pivot_saga(calls, confirm_failures=3, confirm_retries=1), store=store).run(
        saga_id="A1"
    )
    assert result.status == "unfinished"
    assert calls == ["reserve", "charge", "confirm", "confirm"]
    assert result.errors == [FailedStep("confirm", "action", "ConnectionError: order service down")]
    log = [e.type for e in store.read_stream("saga-A1")]
    assert log[-1] == "LeaseReleased" and "SagaFinished" not in log and "StepFailed" not in log
    # later (the recovery worker, or anyone): the budget starts again, and it goes through
    calls.clear()
    again = Saga("s", pivot_saga(calls, confirm_failures=1, confirm_retries=1), store=store)
    assert again.resume("A1").status == "completed"
    assert calls == ["confirm", "confirm"]


def test_the_pivot_failing_cleanly_turns_the_saga_back():
    calls: list[str] = []
    steps = pivot_saga(calls)
    steps[1] = Step("charge", lambda ctx: 1 / 0, kind="pivot")
    result = Saga("s", steps).run()
    assert result.status == "compensated" and calls == ["reserve", "release"]


def test_a_pivot_of_unknown_outcome_without_compensation_waits_to_ask_again():
    from eda_kit.errors import OutcomeUnknown

    calls: list[str] = []
    steps = pivot_saga(calls)

    def unsure(ctx):
        raise OutcomeUnknown("no answer from the carrier")

    steps[1] = Step("charge", unsure, kind="pivot", retries=1)
    result = Saga("s", steps).run()
    assert result.status == "unfinished"  # undoing the rest could undo a shipped order
    assert calls == ["reserve"]


def test_a_pivot_of_unknown_outcome_with_a_compensation_is_undone_with_the_rest():
    from eda_kit.errors import OutcomeUnknown

    calls: list[str] = []
    steps = pivot_saga(calls)

    def unsure(ctx):
        raise OutcomeUnknown("no answer")

    steps[1] = Step("charge", unsure, lambda ctx: calls.append("refund"), kind="pivot")
    assert Saga("s", steps).run().status == "compensated"
    assert calls == ["reserve", "refund", "release"]


def test_a_timeout_records_an_unknown_outcome_in_the_log():
    release = threading.Event()
    store = InMemoryEventStore()
    try:
        Saga("s", [Step("a", lambda ctx: release.wait(5), timeout=0.02)], store=store).run(
            saga_id="x"
        )
    finally:
        release.set()
    failed = [e for e in store.read_stream("saga-x") if e.type == "StepFailed"][0]
    assert failed.data["unknown"] is True and failed.data["error"].startswith("StepTimeout")


def test_a_pivot_whose_unknown_attempt_is_followed_by_a_clear_no_turns_back():
    from eda_kit.errors import OutcomeUnknown

    calls: list[str] = []
    steps = pivot_saga(calls)

    def asked_twice(ctx):
        if ctx.attempt == 1:
            raise OutcomeUnknown("no answer")
        raise RuntimeError("declined")  # asked again with the same key: a clear no

    steps[1] = Step("charge", asked_twice, kind="pivot", retries=1)
    result = Saga("s", steps).run()
    assert result.status == "compensated" and calls == ["reserve", "release"]
