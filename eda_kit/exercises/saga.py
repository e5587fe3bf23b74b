"""Exercises for notebook 05, Saga.

- ``compensations``: which compensations run, in which order, when a step fails for good
  (when any attempt's outcome was unknown it may have happened; past the pivot the saga
  only goes forward).
- ``resume``: where a resumed saga carries on, read from its log.
- ``refund``: a compensation that is safe when the charge never happened, and holds the key
  so that a charge arriving late can never land.
- ``ordering``: put a saga's steps in order: the likeliest failures first, then the pivot,
  then the steps that only go forward.
"""

from __future__ import annotations

import random

from .framework import Exercise, Probe, outcome

__all__ = [
    "compensations",
    "resume",
    "refund",
    "ordering",
    "compensation_plan",
    "resume_point",
    "safe_refund",
    "order_steps",
]

ORDER = [
    ("create_order", "compensatable"),
    ("reserve_inventory", "compensatable"),
    ("charge_payment", "compensatable"),
    ("confirm_order", "retriable"),
]
#: Section 8's saga: the likeliest "no" first, then the pivot, then only forward.
ORDERED = [
    ("authorize_payment", "compensatable"),
    ("reserve_inventory", "compensatable"),
    ("capture_payment", "pivot"),
    ("confirm_order", "retriable"),
]
_NAMES = [
    "create_order",
    "reserve_inventory",
    "check_fraud",
    "charge_payment",
    "book_hotel",
    "send_email",
    "book_flight",
    "confirm_order",
]
_KINDS = ("compensatable", "pivot", "retriable")
_ATTEMPTS = ("raised", "timed out")


# ======================================================================================
# 1. Which compensations run, in which order


def compensation_plan(steps, failed, attempts):
    kinds = dict(steps)
    maybe_done = "timed out" in attempts  # any attempt: a later clean "no" proves nothing
    if kinds[failed] == "retriable":  # past the pivot: retried forward, nothing undone
        return []
    if kinds[failed] == "pivot" and maybe_done:  # maybe past the point of no return: ask again
        return []
    names = [name for name, _ in steps]
    completed = steps[: names.index(failed)]
    undo = [name for name, kind in reversed(completed) if kind == "compensatable"]
    if maybe_done and kinds[failed] == "compensatable":  # it may have happened: undo it first
        undo.insert(0, failed)
    return undo


def _source_notes_plan(steps, failed, attempts):  # the source notes' compensate(): everything
    return [name for name, kind in steps if kind == "compensatable"]


def _oldest_first(steps, failed, attempts):
    if dict(steps)[failed] == "retriable":
        return []
    names = [name for name, _ in steps]
    undo = [name for name, kind in steps[: names.index(failed)] if kind == "compensatable"]
    maybe = "timed out" in attempts and dict(steps)[failed] == "compensatable"
    return ([failed] if maybe else []) + undo


def _unknown_means_not_done(steps, failed, attempts):  # the timeout that charged three times
    if dict(steps)[failed] == "retriable":
        return []
    names = [name for name, _ in steps]
    return [n for n, kind in reversed(steps[: names.index(failed)]) if kind == "compensatable"]


def _unknown_undone_last(steps, failed, attempts):
    plan = compensation_plan(steps, failed, ["raised"])
    if dict(steps)[failed] == "pivot" and "timed out" in attempts:
        return []
    maybe = "timed out" in attempts and dict(steps)[failed] == "compensatable"
    return plan + ([failed] if maybe else [])


def _only_the_last_attempt(steps, failed, attempts):  # timed out, then declined: "not done"
    return compensation_plan(steps, failed, attempts[-1:])


def _retriable_turns_back(steps, failed, attempts):  # forgets the pivot: undoes a paid order
    names = [name for name, _ in steps]
    return [n for n, kind in reversed(steps[: names.index(failed)]) if kind == "compensatable"]


def _unknown_pivot_turns_back(steps, failed, attempts):  # undoes the stock of a captured order
    return compensation_plan(steps, failed, ["raised"])


def _with_a_loop(steps, failed, attempts):
    maybe = any(attempt == "timed out" for attempt in attempts)
    plan = []
    for name, kind in steps:
        if name == failed:
            if kind == "retriable" or (kind == "pivot" and maybe):
                return []
            if kind == "compensatable" and maybe:
                plan.append(name)
            break
        if kind == "compensatable":
            plan.append(name)
    return plan[::-1]


def _with_a_stack(steps, failed, attempts):
    kind_of = {name: kind for name, kind in steps}
    if kind_of[failed] == "retriable" or (kind_of[failed] == "pivot" and "timed out" in attempts):
        return []
    stack = []
    for name, kind in steps:
        if name == failed:
            if "timed out" in attempts:
                stack.append((name, kind))
            break
        stack.append((name, kind))
    plan = []
    while stack:
        name, kind = stack.pop()
        if kind == "compensatable":
            plan.append(name)
    return plan


def _valid_plan(case) -> None:
    """Refuses an input that cannot happen (a shrink step may make one): the shrinker then
    discards it, so a verdict only ever shows a saga that ``Saga`` would accept."""
    steps, failed, attempts = case
    names = [name for name, _ in steps]
    if len(set(names)) != len(names) or failed not in names:
        raise ValueError("step names must be distinct, and the failed one among them")
    ranks = [_KINDS.index(kind) for _, kind in steps]  # ValueError for an unknown kind
    if ranks != sorted(ranks) or ranks.count(1) > 1:
        raise ValueError("compensatable steps, at most one pivot, then retriable ones")
    if not attempts or any(attempt not in _ATTEMPTS for attempt in attempts):
        raise ValueError(f"attempts: one or more of {list(_ATTEMPTS)}")


def _run_plan(answer, case):
    _valid_plan(case)
    steps, failed, attempts = case
    return answer([tuple(step) for step in steps], failed, list(attempts))


def _generate_plan(rng: random.Random, size: int):
    names = rng.sample(_NAMES, rng.randint(1, min(len(_NAMES), size + 1)))
    pivot = rng.random() < 0.5
    cut = rng.randint(0, len(names))  # compensatable before, (pivot and) retriable after
    kinds = ["compensatable"] * cut + ["retriable"] * (len(names) - cut)
    if pivot and cut < len(names):
        kinds[cut] = "pivot"
    steps = list(zip(names, kinds, strict=True))
    attempts = [rng.choice(_ATTEMPTS) for _ in range(rng.randint(1, 3))]
    return steps, rng.choice(names), attempts


def _describe_plan(case) -> str:
    steps, failed, attempts = case
    listed = ", ".join(name + ("" if kind == "compensatable" else f" ({kind})")
                       for name, kind in steps)  # fmt: skip
    return f"steps [{listed}], {failed} failed for good; its attempts: {', '.join(attempts)}"


compensations = Exercise(
    "Which compensations run, and in which order",
    reference=compensation_plan,
    run=_run_plan,
    describe=_describe_plan,
    probes=[
        Probe(
            "the first step fails cleanly (nothing completed yet)",
            (ORDER, "create_order", ["raised"]),
        ),
        Probe("charge_payment is declined", (ORDER, "charge_payment", ["raised"])),
        Probe(
            "charge_payment times out: it may have happened",
            (ORDER, "charge_payment", ["timed out"]),
        ),
        Probe(
            "charge_payment times out, then the retry is declined cleanly",
            (ORDER, "charge_payment", ["timed out", "raised"]),
        ),
        Probe(
            "reserve_inventory fails cleanly twice (no timeout)",
            (ORDER, "reserve_inventory", ["raised", "raised"]),
        ),
        Probe(
            "confirm_order (retriable) times out: retried forward, nothing undone",
            (ORDER, "confirm_order", ["timed out"]),
        ),
        Probe("capture_payment (the pivot) is declined", (ORDERED, "capture_payment", ["raised"])),
        Probe(
            "capture_payment (the pivot) times out: it may be past the point of no return",
            (ORDERED, "capture_payment", ["raised", "timed out"]),
        ),
        Probe(
            "rent_car fails after flight and hotel",
            (
                [
                    ("book_flight", "compensatable"),
                    ("book_hotel", "compensatable"),
                    ("rent_car", "compensatable"),
                    ("send_email", "retriable"),
                ],
                "rent_car",
                ["raised"],
            ),
        ),
    ],  # fmt: skip
    generate=_generate_plan,
    also_correct=[_with_a_loop, _with_a_stack],
    hints=[
        "Look at the kind of the failed step first. A retriable step comes after the point of "
        "no return: it is retried forward, nothing is undone. So is a pivot that may have "
        "happened.",
        "Otherwise only steps that completed have something to undo: the compensatable ones "
        "before the failed one, the newest first. And the failed step itself, first, if ANY of "
        "its attempts timed out: it may have happened.",
        "maybe = 'timed out' in attempts. retriable, or pivot and maybe: []. Else the "
        "compensatable steps before it, reversed, with the failed step in front when maybe "
        "and it is compensatable.",
    ],
    common_mistakes=[
        _source_notes_plan,
        _oldest_first,
        _unknown_means_not_done,
        _unknown_undone_last,
        _only_the_last_attempt,
        _retriable_turns_back,
        _unknown_pivot_turns_back,
    ],
    explanation=(
        "Each step may rely on the ones before it (a payment refers to an order), so undoing "
        "goes in reverse: the newest effect first. Steps that never ran have nothing to undo "
        "(the source notes' saga refunds a payment it never took). A step whose attempts all "
        "failed cleanly did nothing; if any attempt timed out it may have done everything (a "
        "clean 'no' on a retry does not undo the first attempt), so it is undone too, first, "
        "and its compensation must be safe if it did nothing (exercise 3). Past the pivot "
        "the saga only goes forward: a retriable step that fails is retried (the run stops "
        "'unfinished' and a resume tries again), and a pivot that may have happened cannot "
        "turn back either: asking again with the same key is the way to learn what happened."
    ),
)


# ======================================================================================
# 2. Where does a resumed saga carry on?


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
    logged = [step for _, step in log if step is not None]
    if not logged:
        return steps[0]
    index = steps.index(logged[-1]) + 1
    return steps[index] if index < len(steps) else None


def _counts_done_events(steps, log):  # a retried step's events shift the count
    done = sum(1 for event_type, _ in log if event_type in ("StepDone", "StepRetried"))
    return steps[done] if done < len(steps) else None


def _with_next(steps, log):
    done = [step for event_type, step in log if event_type == "StepDone"]
    return next((step for step in steps if step not in done), None)


def _with_a_count(steps, log):
    finished = sum(1 for event_type, _ in log if event_type == "StepDone")
    return steps[finished] if finished < len(steps) else None


_SAGA_EVENTS = ("SagaStarted", "LeaseTaken", "LeaseRenewed")


def _valid_resume(case) -> None:
    """Refuses a log that cannot happen (a shrink step may make one, e.g. a StepRetried with
    no StepStarted): the shrinker then discards it, so a verdict only shows a real log."""
    steps, log = case
    if len(set(steps)) != len(steps) or not steps:
        raise ValueError("steps: distinct names, at least one")
    if not log or tuple(log[0]) != ("SagaStarted", None):
        raise ValueError("a saga's log begins with SagaStarted")
    done = 0  # steps run in order: steps[:done] are done
    running = None  # the step whose StepStarted has no outcome yet
    for kind, step in log[1:]:
        if step is None:
            if kind not in _SAGA_EVENTS[1:]:
                raise ValueError(f"{kind} is not an event about the saga or its lease")
        elif kind == "StepStarted":
            if running is not None or done == len(steps) or step != steps[done]:
                raise ValueError(f"StepStarted {step} out of order")
            running = step
        elif kind in ("StepRetried", "StepDone"):
            if step != running:
                raise ValueError(f"{kind} {step} without its StepStarted")
            running = None
            done += kind == "StepDone"
        else:
            raise ValueError(f"unknown log entry {kind} {step}")


def _run_resume(answer, case):
    _valid_resume(case)
    steps, log = case
    return answer(list(steps), [tuple(entry) for entry in log])


def _generate_resume(rng: random.Random, size: int):
    steps = rng.sample(_NAMES, rng.randint(1, min(len(_NAMES), size + 1)))
    log = [("SagaStarted", None)]
    done = rng.randint(0, len(steps))
    for index, step in enumerate(steps):
        if index > done or (index == done and rng.random() < 0.4):
            break
        if rng.random() < 0.15:
            log.append(("LeaseRenewed", None))
        for _ in range(rng.choice([0, 0, 1, 2])):  # failed attempts, each retried
            log += [("StepStarted", step), ("StepRetried", step)]
        log.append(("StepStarted", step))  # the attempt the crash may have cut short
        if index < done:
            log.append(("StepDone", step))
    if rng.random() < 0.3:
        log.append(("LeaseTaken", None))  # a new worker took the saga over
    return steps, log


def _describe_resume(case) -> str:
    steps, log = case
    entries = ", ".join(kind if step is None else f"{kind} {step}" for kind, step in log)
    return f"steps {steps}, log [{entries}]"


_STEPS = [name for name, _ in ORDER]
_TWO_DONE = [
    ("SagaStarted", None),
    ("StepStarted", "create_order"),
    ("StepDone", "create_order"),
    ("StepStarted", "reserve_inventory"),
    ("StepRetried", "reserve_inventory"),
    ("StepStarted", "reserve_inventory"),
    ("StepDone", "reserve_inventory"),
]

resume = Exercise(
    "Where a resumed saga carries on",
    reference=resume_point,
    run=_run_resume,
    describe=_describe_resume,
    probes=[
        Probe(
            "the saga started, then the crash, before any step", (_STEPS, [("SagaStarted", None)])
        ),
        Probe(
            "two steps done (one after a retry), the crash came between steps", (_STEPS, _TWO_DONE)
        ),
        Probe(
            "charge_payment started, then the crash: no StepDone for it",
            (_STEPS, [*_TWO_DONE, ("StepStarted", "charge_payment")]),
        ),
        Probe(
            "a new worker took the lease over after the crash",
            (_STEPS, [*_TWO_DONE, ("StepStarted", "charge_payment"), ("LeaseTaken", None)]),
        ),
        Probe(
            "every step done",
            (
                _STEPS,
                [("SagaStarted", None)]
                + [
                    entry
                    for step in _STEPS
                    for entry in (("StepStarted", step), ("StepDone", step))
                ],
            ),
        ),
    ],  # fmt: skip
    generate=_generate_resume,
    also_correct=[_with_next, _with_a_count],
    hints=[
        "Which steps can you be sure finished? Only those with a StepDone in the log.",
        "A StepStarted without a StepDone means the crash came in the middle of that step; "
        "lease events (step None) say who runs the saga, not how a step stands.",
        "Return the first step, in saga order, that has no StepDone; None if there is none.",
    ],
    common_mistakes=[
        _started_counts_as_done,
        _from_the_start,
        _after_the_last_logged,
        _counts_done_events,
    ],
    explanation=(
        "A crash between calling the payment provider and writing StepDone leaves the saga "
        "not knowing whether the charge happened. The only safe choice is to run the step "
        "again, which is safe only if the step is idempotent: the same key, so the provider "
        "answers with the first charge. Steps with a StepDone are never redone: their effects "
        "are known and recorded."
    ),
)


# ======================================================================================
# 3. A refund that is safe when the charge never happened


def safe_refund(payments, key):
    state = payments.get(key)
    if state == "charged":
        payments[key] = "refunded"
        return "refunded"
    if state is None:  # never charged (yet): hold the key so a late charge is declined
        payments[key] = "voided"
        return "voided"
    return "nothing"  # refunded or voided already: a repeated refund does nothing more


def _refunds_blindly(payments, key):  # the source notes: refunds money it never took
    payments[key] = "refunded"
    return "refunded"


def _skips_unknown_charges(payments, key):  # the late charge lands after the "refund"
    if payments.get(key) == "charged":
        payments[key] = "refunded"
        return "refunded"
    return "nothing"


def _voids_everything(payments, key):  # a real charge is never given back
    if key not in payments:
        payments[key] = "voided"
        return "voided"
    return "nothing"


def _refunds_twice(payments, key):  # a repeated compensation must not pay out again
    if payments.get(key) in ("charged", "refunded"):
        payments[key] = "refunded"
        return "refunded"
    payments[key] = "voided"
    return "voided"


def _with_match(payments, key):
    match payments.get(key):
        case "charged":
            payments[key] = "refunded"
            return "refunded"
        case None:
            payments[key] = "voided"
            return "voided"
        case _:
            return "nothing"


def _with_a_table(payments, key):
    moves = {"charged": "refunded", None: "voided"}
    state = payments.get(key)
    if state not in moves:
        return "nothing"
    payments[key] = moves[state]
    return moves[state]


def _provider_charges(payments, key, money):
    """The payment provider receiving a charge under ``key`` (on time, or late)."""
    state = payments.get(key)
    if state is None:
        payments[key] = "charged"
        money.append(30)
        return "charged"
    if state == "charged":
        return "charged (the first charge, replayed)"
    return f"declined: the key is {state}"


def _run_refund(answer, operations):
    """Each operation: ("charge" | "refund", key). A refund that answers "refunded" sends
    money back; the charges are the provider's (declined once the key is voided)."""
    payments: dict = {}
    money: list = []
    seen = []
    for what, key in operations:
        if what == "charge":
            seen.append(_provider_charges(payments, key, money))
            continue
        answered = outcome(answer, payments, key)
        seen.append(answered)
        if getattr(answered, "value", None) == "refunded":
            money.append(-30)
    return {
        "answers": seen,
        "payments": dict(sorted(payments.items(), key=lambda item: str(item[0]))),
        "charged - refunded": sum(money),
    }


def _generate_refund(rng: random.Random, size: int):
    keys = [f"A{n}/charge_payment" for n in range(1, 2 + size // 3)]
    return [(rng.choice(["charge", "refund"]), rng.choice(keys)) for _ in range(1 + size)]


def _describe_refund(operations) -> str:
    return "then ".join(f"{what} {key}; " for what, key in operations).rstrip("; ")


_K = "A1/charge_payment"

refund = Exercise(
    "A refund that is safe when the charge never happened",
    reference=safe_refund,
    run=_run_refund,
    describe=_describe_refund,
    probes=[
        Probe("the charge went through, then the refund", [("charge", _K), ("refund", _K)]),
        Probe("the charge timed out and never arrived: refund", [("refund", _K)]),
        Probe("refund first, then the late charge arrives", [("refund", _K), ("charge", _K)]),
        Probe(
            "charged, refunded, then a retry of the refund",
            [("charge", _K), ("refund", _K), ("refund", _K)],
        ),
        Probe(
            "the refund runs twice before a late charge",
            [("refund", _K), ("refund", _K), ("charge", _K)],
        ),
        Probe(
            "two orders, one charged, both refunded",
            [
                ("charge", "A1/charge_payment"),
                ("refund", "A2/charge_payment"),
                ("refund", "A1/charge_payment"),
                ("charge", "A2/charge_payment"),
            ],
        ),
    ],  # fmt: skip
    generate=_generate_refund,
    also_correct=[_with_match, _with_a_table],
    hints=[
        "Look the key up first: charged, never seen, or already refunded/voided?",
        "Never seen does not mean never will be: the charge may still be on its way. Leave a "
        "mark under the key so the provider declines it when it arrives.",
        "charged: set 'refunded', return 'refunded'; not there: set 'voided', return "
        "'voided'; anything else: change nothing and return 'nothing' (a repeated refund).",
    ],
    common_mistakes=[_refunds_blindly, _skips_unknown_charges, _voids_everything, _refunds_twice],
    explanation=(
        "A step that timed out is compensated although nobody knows whether it happened, so "
        "its compensation must be right in both worlds. If the charge went through, refund it "
        "once (a retried compensation must not pay out twice). If it did not, there is nothing "
        "to give back, but the request may still be travelling: marking the key 'voided' is "
        "what stops it from landing after the saga has finished undoing. That is the rule of "
        "a provider that honours it, like the fake bank of section 5. Real ones differ: Stripe "
        "keeps the first response under a key (and may forget keys after 24 hours) but "
        "cannot void a key it never saw; there you retry with the same key to learn the "
        "outcome, then refund or cancel the payment by its id."
    ),
)


# ======================================================================================
# 4. Which steps go first?


def order_steps(steps):
    undoable = sorted(
        (step for step in steps if step[1] == "compensatable"), key=lambda step: -step[2]
    )  # likeliest to fail first; sorted() keeps ties in the order given
    pivot = [step for step in steps if step[1] == "pivot"]
    forward = [step for step in steps if step[1] == "retriable"]
    return [name for name, _, _ in undoable + pivot + forward]


def _riskiest_last(steps):  # the old model answer: "the ones most likely to fail come last"
    undoable = sorted((s for s in steps if s[1] == "compensatable"), key=lambda s: s[2])
    rest = [s for s in steps if s[1] == "pivot"] + [s for s in steps if s[1] == "retriable"]
    return [name for name, _, _ in undoable + rest]


def _by_risk_alone(steps):  # kinds ignored: the pivot may end up before an undoable step
    return [name for name, _, _ in sorted(steps, key=lambda s: -s[2])]


def _pivot_first(steps):  # "do the important thing first"
    pivot = [s for s in steps if s[1] == "pivot"]
    undoable = sorted((s for s in steps if s[1] == "compensatable"), key=lambda s: -s[2])
    forward = [s for s in steps if s[1] == "retriable"]
    return [name for name, _, _ in pivot + undoable + forward]


def _forward_steps_sorted_too(steps):  # retriable steps never fail for good: no reason
    undoable = sorted((s for s in steps if s[1] == "compensatable"), key=lambda s: -s[2])
    pivot = [s for s in steps if s[1] == "pivot"]
    forward = sorted((s for s in steps if s[1] == "retriable"), key=lambda s: -s[2])
    return [name for name, _, _ in undoable + pivot + forward]


def _with_one_key(steps):
    rank = {"compensatable": 0, "pivot": 1, "retriable": 2}
    keyed = sorted(
        enumerate(steps),
        key=lambda item: (
            rank[item[1][1]],
            -item[1][2] if item[1][1] == "compensatable" else 0,
            item[0],
        ),
    )
    return [step[0] for _, step in keyed]


def _with_buckets(steps):
    buckets: dict = {"compensatable": [], "pivot": [], "retriable": []}
    for step in steps:
        buckets[step[1]].append(step)
    buckets["compensatable"].sort(key=lambda step: step[2], reverse=True)
    return [step[0] for kind in ("compensatable", "pivot", "retriable") for step in buckets[kind]]


_TRIP = ["book_flight", "book_hotel", "rent_car", "book_museum", "reserve_table", "book_train"]
_AFTER = ["send_itinerary", "email_receipt", "notify_agent"]


def _run_order(answer, steps):
    return answer([tuple(step) for step in steps])


def _generate_order(rng: random.Random, size: int):
    risks = [0.01, 0.05, 0.1, 0.2, 0.3]
    steps = [
        (name, "compensatable", rng.choice(risks))
        for name in rng.sample(_TRIP, rng.randint(1, min(len(_TRIP), size + 1)))
    ]
    if rng.random() < 0.7:
        steps.append(("charge_card", "pivot", rng.choice(risks)))
    steps += [(name, "retriable", rng.choice(risks)) for name in _AFTER[: rng.randint(0, 2)]]
    rng.shuffle(steps)
    return steps


def _describe_order(steps) -> str:
    return "steps " + ", ".join(f"{name} ({kind}, fails {risk:.0%})" for name, kind, risk in steps)


_A_TRIP = [
    ("send_itinerary", "retriable", 0.01),
    ("book_hotel", "compensatable", 0.05),
    ("charge_card", "pivot", 0.02),
    ("book_flight", "compensatable", 0.2),
    ("rent_car", "compensatable", 0.1),
]

ordering = Exercise(
    "Which steps go first",
    reference=order_steps,
    run=_run_order,
    describe=_describe_order,
    probes=[
        Probe("a trip: hotel, flight, car, the card charge (pivot), the itinerary", _A_TRIP),
        Probe(
            "two bookings equally likely to fail keep the order they were given",
            [
                ("book_train", "compensatable", 0.1),
                ("book_hotel", "compensatable", 0.1),
                ("charge_card", "pivot", 0.3),
            ],
        ),
        Probe(
            "the pivot fails more often than any booking, and still comes after them",
            [
                ("charge_card", "pivot", 0.3),
                ("book_hotel", "compensatable", 0.05),
                ("email_receipt", "retriable", 0.2),
                ("send_itinerary", "retriable", 0.1),
            ],
        ),
        Probe(
            "no pivot", [("rent_car", "compensatable", 0.01), ("book_flight", "compensatable", 0.3)]
        ),
    ],  # fmt: skip
    generate=_generate_order,
    also_correct=[_with_one_key, _with_buckets],
    hints=[
        "Three groups, in this order: the compensatable steps, the pivot, the retriable ones.",
        "Among the compensatable steps, the likeliest to fail goes first: a failure early "
        "leaves little to undo. The retriable steps keep the order they were given.",
        "sorted(compensatable, key=lambda step: -step[2]) keeps ties in their order; then "
        "add the pivot and the retriable steps, and return the names.",
    ],
    common_mistakes=[_riskiest_last, _by_risk_alone, _pivot_first, _forward_steps_sorted_too],
    explanation=(
        "A step that fails turns the saga back through every step before it, so the steps "
        "likeliest to fail go first, while there is little to undo. The pivot cannot be "
        "undone, so it comes after everything that can still fail for a business reason; "
        "after it only steps that are retried until they succeed. (This assumes the steps do "
        "not need each other's results; a step that does must come after its inputs.)"
    ),
)
