"""Property-based fault injection: whatever fails, a saga compensates exactly what it should.

Each example builds a saga of random length; every step gets a random number of retries, a
random number of failing attempts (within the retries: a blip; beyond them: the step fails),
maybe a compensation, and maybe a compensation that fails a random number of times. A tiny
model computes what must happen; the saga must do exactly that, in memory and with a store.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Saga, Step
from eda_kit.saga import ManualClock
from eda_kit.saga.faults import SimulatedCrash, inject_faults
from eda_kit.store import InMemoryEventStore

step_plans = st.fixed_dictionaries(
    {
        "retries": st.integers(0, 2),
        "failures": st.integers(0, 4),  # failing attempts before one succeeds
        "compensation": st.booleans(),
        "compensation_retries": st.integers(0, 2),
        "compensation_failures": st.integers(0, 3),
    }
)
saga_plans = st.lists(step_plans, min_size=1, max_size=6)


def build(plan, calls):
    steps = []
    for i, p in enumerate(plan):
        name = f"s{i + 1}"

        def action(ctx, name=name):
            calls.append(name)
            ctx[name] = True

        def undo(ctx, name=name):
            calls.append(f"undo {name}")
            ctx[name] = False

        steps.append(
            Step(
                name,
                action,
                undo if p["compensation"] else None,
                retries=p["retries"],
                compensation_retries=p["compensation_retries"],
            )
        )
    fail = {s.name: p["failures"] for s, p in zip(steps, plan) if p["failures"]}
    fail_comp = {
        s.name: p["compensation_failures"]
        for s, p in zip(steps, plan)
        if p["compensation"] and p["compensation_failures"]
    }
    return inject_faults(steps, fail=fail, fail_compensation=fail_comp)


def model(plan):
    """What must happen: (status, history, successful calls in order)."""
    history, calls, completed = [], [], []
    for i, p in enumerate(plan):
        name = f"s{i + 1}"
        tried = min(p["failures"], p["retries"])
        history += [(name, "retried")] * tried
        if p["failures"] > p["retries"]:
            history.append((name, "failed"))
            break
        history.append((name, "done"))
        calls.append(name)
        completed.append((name, p))
    else:
        return "completed", history, calls
    gave_up = False
    for name, p in reversed(completed):
        if not p["compensation"]:
            continue
        tried = min(p["compensation_failures"], p["compensation_retries"])
        history += [(name, "compensation_retried")] * tried
        if p["compensation_failures"] > p["compensation_retries"]:
            history.append((name, "compensation_failed"))
            gave_up = True
        else:
            history.append((name, "compensated"))
            calls.append(f"undo {name}")
    return ("failed" if gave_up else "compensated"), history, calls


@settings(max_examples=80, deadline=None)
@given(saga_plans)
def test_saga_does_exactly_what_the_model_says(plan):
    calls: list[str] = []
    result = Saga("prop", build(plan, calls)).run({"start": 0})
    status, history, expected_calls = model(plan)
    assert result.status == status
    assert result.history == history
    assert calls == expected_calls
    for i, p in enumerate(plan):
        if (f"s{i + 1}", "done") in history:
            assert result.attempts(f"s{i + 1}") == p["failures"] + 1  # retries counted exactly
    # compensations are exactly the completed steps that have one, newest first
    done = [name for name, outcome in history if outcome == "done"]
    with_undo = {f"s{i + 1}" for i, p in enumerate(plan) if p["compensation"]}
    undone = [
        name for name, outcome in history if outcome in ("compensated", "compensation_failed")
    ]
    assert undone == (
        [n for n in reversed(done) if n in with_undo] if status != "completed" else []
    )
    assert len(result.errors) == sum(
        1 for _, o in history if o in ("failed", "compensation_failed")
    )


@settings(max_examples=40, deadline=None)
@given(saga_plans)
def test_the_log_tells_the_same_story(plan):
    store = InMemoryEventStore()
    result = Saga("prop", build(plan, []), store=store).run({"start": 0}, saga_id="p")
    calls: list[str] = []
    again = Saga("prop", build(plan, calls), store=store).resume("p")
    assert calls == []  # a finished saga runs nothing
    assert (again.status, again.history, again.context, again.errors) == (
        result.status,
        result.history,
        result.context,
        result.errors,
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.data())
def test_resume_after_a_crash_redoes_only_the_interrupted_step(n, data):
    crash = data.draw(st.integers(1, n), label="crash at step")
    store = InMemoryEventStore()
    plan = [
        {
            "retries": 0,
            "failures": 0,
            "compensation": True,
            "compensation_retries": 0,
            "compensation_failures": 0,
        }
    ] * n
    calls: list[str] = []
    clock = ManualClock()
    saga = Saga("prop", inject_faults(build(plan, calls), crash_at=crash), store=store, clock=clock)
    try:
        saga.run(saga_id="c")
    except SimulatedCrash:
        pass
    clock.advance(saga.lease_ttl + 1)  # the dead worker's lease runs out
    result = Saga("prop", build(plan, calls), store=store, clock=clock).resume("c")
    assert result.status == "completed"
    names = [f"s{i + 1}" for i in range(n)]
    # every step ran once, except the one the crash interrupted, which ran again
    assert calls == names[:crash] + names[crash - 1 :]
    interrupted = names[crash - 1]
    assert result.history == [
        *[(name, "done") for name in names[: crash - 1]],
        (interrupted, "interrupted"),
        *[(name, "done") for name in names[crash - 1 :]],
    ]
