"""Exercises for notebook 05, Saga: what to undo, where to resume, doing it only once."""

from __future__ import annotations

from .framework import Checker, Exercise

__all__ = [
    "compensations",
    "resume",
    "idempotent",
    "compensation_plan",
    "resume_point",
    "make_idempotent",
]

ORDER = [
    ("create_order", True),
    ("reserve_inventory", True),
    ("charge_payment", True),
    ("confirm_order", False),
]


# --- 1. which compensations run, in which order -------------------------------------------


def compensation_plan(steps, failed):
    names = [name for name, _ in steps]
    completed = steps[: names.index(failed)]  # the failed step did not complete
    return [name for name, has_undo in reversed(completed) if has_undo]


def _seed_plan(steps, failed):  # the seed's compensate(): everything, in the order written
    return [name for name, has_undo in steps if has_undo]


def _oldest_first(steps, failed):
    names = [name for name, _ in steps]
    return [name for name, has_undo in steps[: names.index(failed)] if has_undo]


def _undoes_the_failed_step_too(steps, failed):
    names = [name for name, _ in steps]
    return [name for name, has_undo in reversed(steps[: names.index(failed) + 1]) if has_undo]


def _forgets_to_skip(steps, failed):
    names = [name for name, _ in steps]
    return [name for name, _ in reversed(steps[: names.index(failed)])]


def _test_plan(plan, check: Checker) -> None:
    with check.case("the first step fails (nothing completed yet)"):
        check.expect(plan(ORDER, "create_order"), [])
    with check.case("charge_payment fails"):
        check.expect(plan(ORDER, "charge_payment"), ["reserve_inventory", "create_order"])
    with check.case("reserve_inventory fails"):
        check.expect(plan(ORDER, "reserve_inventory"), ["create_order"])
    steps = [("send_email", False), ("book_flight", True), ("book_hotel", True), ("rent_car", True)]
    with check.case("rent_car fails after send_email (no compensation), flight and hotel"):
        check.expect(plan(steps, "rent_car"), ["book_hotel", "book_flight"])
    with check.case("confirm_order (no compensation) fails last"):
        check.expect(
            plan(ORDER, "confirm_order"), ["charge_payment", "reserve_inventory", "create_order"]
        )


compensations = Exercise(
    "Which compensations run, and in which order",
    test=_test_plan,
    reference=compensation_plan,
    hints=[
        "Only steps that completed have something to undo: those before the failed one.",
        "Undo like unstacking plates: the newest first (reversed).",
        "A step whose has_compensation is False is skipped; the failed step is not in the list.",
    ],
    common_mistakes=[_seed_plan, _oldest_first, _undoes_the_failed_step_too, _forgets_to_skip],
    explanation=(
        "Each step may rely on the ones before it (a payment refers to an order), so undoing "
        "must go in the reverse order: the newest effect is removed first. Steps that never "
        "ran have nothing to undo (the seed refunds a payment it never took), and the failed "
        "step did not complete: cleaning up its own half-done work is its action's job."
    ),
)


# --- 2. where does a resumed saga carry on? -----------------------------------------------


def resume_point(steps, log):
    done = {step for event_type, step in log if event_type == "StepDone"}
    for step in steps:
        if step not in done:
            return step
    return None


def _started_counts_as_done(steps, log):
    seen = {step for _, step in log}
    return next((step for step in steps if step not in seen), None)


def _from_the_start(steps, log):
    return steps[0]


def _after_the_last_logged(steps, log):
    if not log:
        return steps[0]
    index = steps.index(log[-1][1]) + 1
    return steps[index] if index < len(steps) else None


def _test_resume(resume_point, check: Checker) -> None:
    steps = [name for name, _ in ORDER]
    with check.case("an empty log (the saga never started a step)"):
        check.expect(resume_point(steps, []), "create_order")
    log = [
        ("StepStarted", "create_order"),
        ("StepDone", "create_order"),
        ("StepStarted", "reserve_inventory"),
        ("StepDone", "reserve_inventory"),
    ]
    with check.case("two steps done, the crash came between steps"):
        check.expect(resume_point(steps, log), "charge_payment")
    with check.case("charge_payment started, then the crash: no StepDone for it"):
        check.expect(
            resume_point(steps, [*log, ("StepStarted", "charge_payment")]), "charge_payment"
        )
    every = [entry for step in steps for entry in (("StepStarted", step), ("StepDone", step))]
    with check.case("every step done"):
        check.expect(resume_point(steps, every), None)


resume = Exercise(
    "Where a resumed saga carries on",
    test=_test_resume,
    reference=resume_point,
    hints=[
        "Which steps can you be sure finished? Only those with a StepDone in the log.",
        "A StepStarted without a StepDone means the crash came in the middle of that step.",
        "Return the first step, in saga order, that has no StepDone; None if there is none.",
    ],
    common_mistakes=[_started_counts_as_done, _from_the_start, _after_the_last_logged],
    explanation=(
        "A crash between calling the payment provider and writing StepDone leaves the saga "
        "not knowing whether the charge happened. The only safe choice is to run the step "
        "again, which is safe only if the step is idempotent (exercise 3). Steps with a "
        "StepDone are never redone: their effects are known and recorded."
    ),
)


# --- 3. doing it only once -----------------------------------------------------------------


def make_idempotent(fn):
    results = {}

    def once(key, *args):
        if key in results:
            return results[key]
        result = fn(*args)  # if this raises, the key stays unknown: a retry may run it
        results[key] = result
        return result

    return once


def _keyed_by_arguments(fn):
    results = {}

    def once(key, *args):
        if args not in results:
            results[args] = fn(*args)
        return results[args]

    return once


def _forgets_the_answer(fn):
    seen = set()

    def once(key, *args):
        if key in seen:
            return None
        seen.add(key)
        return fn(*args)

    return once


def _remembers_failures(fn):
    seen = {}

    def once(key, *args):
        if key in seen:
            return seen[key]
        seen[key] = None  # marked before the work: a failure is never retried
        seen[key] = fn(*args)
        return seen[key]

    return once


def _test_idempotent(make_idempotent, check: Checker) -> None:
    charges = []

    def charge(amount):
        charges.append(amount)
        return f"receipt-{len(charges)}"

    with check.case("make_idempotent(charge)"):
        pay = make_idempotent(charge)
        check.require(callable(pay), f"it should return a function once(key, *args), got {pay!r}")
    with check.case("charge 30 with key 'A1/charge', then the same key again"):
        first, second = pay("A1/charge", 30), pay("A1/charge", 30)
        check.expect(charges, [30], "the charges made")
        check.expect(second, first, "the answer to the repeated request")
    with check.case("two different orders of the same amount: keys 'A1/charge', 'A2/charge'"):
        charges.clear()
        pay = make_idempotent(charge)
        pay("A1/charge", 30)
        pay("A2/charge", 30)
        check.expect(charges, [30, 30], "the charges made")
    calls = []

    def flaky(amount):
        calls.append(amount)
        if len(calls) == 1:
            raise ConnectionError("provider timed out")
        return "receipt-ok"

    with check.case("the first attempt raises, the retry with the same key succeeds"):
        pay = make_idempotent(flaky)
        try:
            pay("A1/charge", 30)
        except ConnectionError:
            pass
        check.expect(pay("A1/charge", 30), "receipt-ok", "the answer to the retry")


idempotent = Exercise(
    "Run once per idempotency key",
    test=_test_idempotent,
    reference=make_idempotent,
    hints=[
        "Keep a dict from key to the result of the first successful call.",
        "Look up the key, not the arguments: two orders may well cost the same.",
        "Store the result only after fn returned: if it raised, a retry must run it again.",
    ],
    common_mistakes=[_keyed_by_arguments, _forgets_the_answer, _remembers_failures],
    explanation=(
        "The key names the piece of work (this step of this saga), so a retry or a resume "
        "sends the same key and gets the first answer back instead of a second charge. It "
        "must not be derived from the arguments (two customers can buy the same thing), and "
        "a failure must not be remembered, or the work would never be retried."
    ),
)
