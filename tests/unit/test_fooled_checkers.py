"""Wrong answers that once got "Correct", each now rejected on the case it gets wrong.

Learners who took the course found checkers that could be fooled, by kind: tests too narrow
(one refund only; no unrelated event carrying the same data keys; a return value checked only
where a stream's version and the store's position coincide), algorithms checked on easy inputs
(no pattern with two ``#``), constraints stated but not checked ("only on and off", "the same
arguments", "apply never checks rules", "no floats for money"), boundaries (an end-of-day cut-off
only tested where ``<`` and ``<=`` agree; a ``None`` result that must count as done) and
concurrency (no rival writer between a check and an act). The general fix is the method of
``eda_kit.exercises.framework`` (probes, generated inputs, mutants); this file pins each named
case to the probe that now catches it, so it can't quietly come back.
"""

from __future__ import annotations

import pytest

from eda_kit.exercises import (
    cqrs,
    emitter,
    event_sourcing,
    event_store,
    pub_sub,
    reliable_messaging,
    start_here,
)

CASES = [
    # (exercise, wrong answer, the start of the verdict that names the case)
    (start_here.warm_up, start_here._only_the_first_refund, "two refunds, 5 and 3"),
    (start_here.warm_up, start_here._dispatches_on_keys, "an OrderQuoted event carrying a total"),
    (event_store.open_account, event_store._opens_with_any, "opening acc-1 a second time"),
    (cqrs.command_handler, cqrs._returns_the_global_position, "add to B1 in a store that holds"),
    (pub_sub.pattern_matcher, pub_sub._greedy_hash, "pattern '#.b.c', topic 'a.b.b.c'"),
    (emitter.write_once, emitter._uses_once, "the task says: use only on() and off()"),
    (emitter.write_once, emitter._passes_one_argument, "emit('order', 'A1', 30) once"),
    (event_sourcing.new_event, event_sourcing._FeeChecksRules, "a fee bigger than the balance"),
    (event_sourcing.upcaster, event_sourcing._through_floats, "a very large withdrawal"),
    (event_sourcing.balance_on, event_sourcing._includes_midnight, "the end of Tuesday 6 January"),
    (
        reliable_messaging.first_outcome,
        reliable_messaging._none_means_not_done,
        "a charge that returns None, retried",
    ),
    (event_store.open_account, event_store._checks_then_appends, "another writer opens acc-2"),
    (cqrs.command_handler, cqrs._no_expected_version, "a rival adds an item at 60"),
    (event_sourcing.retry, event_sourcing._retries_the_stale_copy, "the other teller withdraws"),
]


@pytest.mark.parametrize(
    ("exercise", "wrong", "case"),
    CASES,
    ids=[f"{exercise.title[:30]}-{wrong.__name__}" for exercise, wrong, _ in CASES],
)
def test_a_wrong_answer_that_once_passed_is_rejected_on_its_case(exercise, wrong, case):
    verdict = exercise.verdict(wrong)
    assert not verdict.passed
    assert verdict.message.startswith(f"Not yet: {case}"), verdict.message
