"""Checkers that can't be fooled: every mutant of a reference that behaves differently is rejected.

For each exercise, ``eda_kit.exercises.mutation`` makes mutants of the reference answer (one
operator, comparison, constant, call, keyword argument or statement changed) and hands each to
the exercise's checker. A mutant the checker accepts must behave exactly like the reference on
a larger corpus than the checker's own (its probes plus four times as many generated inputs,
drawn with two other seeds); otherwise it is a survivor and this test fails, naming it and the
input on which it differs.

``python -m eda_kit.exercises.mutation`` (``make mutants``) prints the kill rate per exercise.
"""

from __future__ import annotations

import pytest
from test_exercises import EXERCISES, IDS, MAX_VERDICT, PENDING  # (tests/unit is on the path)

from eda_kit.exercises.mutation import Mutant, assess, exercise_mutants, mutants


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=IDS)
def test_every_mutant_that_behaves_differently_is_rejected(name, exercise):
    if name in PENDING:
        pytest.skip(PENDING[name])
    assessment = assess(name, exercise)
    assert assessment.different > 0, f"{name}: no mutant behaves differently: is run= observing?"
    survivors = "\n".join(f"{m.change}: differs on {where}" for m, where in assessment.survivors)
    assert not assessment.survivors, f"{name}: the checker accepted\n{survivors}"
    for change, message in assessment.verdicts.items():  # every slip gets a short verdict
        assert message.startswith("Not yet: ") and "\n" not in message, (change, message)
        assert len(message) <= MAX_VERDICT, f"{name}, {change}: a verdict too long: {message}"


CONSTRAINED = [(name, exercise) for name, exercise in EXERCISES if exercise.constraints]


@pytest.mark.parametrize(("name", "exercise"), CONSTRAINED, ids=[name for name, _ in CONSTRAINED])
def test_a_dropped_constraint_is_a_mutant_only_the_constraint_kills(name, exercise):
    """Each constraint names its breaker: an answer that behaves like the reference everywhere
    on the corpus and breaks only the rule. The checker must reject it, naming the rule."""
    dropped = {m.change: m.value for m in exercise_mutants(exercise)}
    for constraint in exercise.constraints:
        assert constraint.breaker is not None, f"{name}: {constraint.rule!r} has no breaker"
        assert f"constraint dropped: {constraint.rule}" in dropped
        for seed in (exercise.seed, exercise.seed + 1):
            where = exercise.differs_on_corpus(constraint.breaker, exercise.examples, seed)
            assert where is None, f"{name}: the breaker behaves differently: {where}"
        verdict = exercise.verdict(constraint.breaker)
        assert verdict.message.startswith(f"Not yet: {constraint.rule}: "), verdict.message


def test_constraint_dropped_mutants_are_part_of_the_assessment():
    assert CONSTRAINED, "no exercise states a constraint: the kind is untested"
    name, exercise = CONSTRAINED[0]
    changes = [m.change for m in assess(name, exercise).killed]
    assert any(change.startswith("constraint dropped: ") for change in changes)


def test_mutants_of_code_change_one_thing_each():
    def reference(values, limit):
        total = 0
        for value in values:
            if value < limit:
                total += value
        return total

    found = {m.change: m.value for m in mutants(reference)}
    assert found["line 4: `value < limit`: < -> <="]([1, 2], 2) == 3
    assert found["line 5: `total += value`: += -> -="]([1, 2], 5) == -3
    assert found["line 2: 0 -> 1"]([], 5) == 1
    assert found["line 6: `return total` -> `return None`"]([1], 5) is None
    assert found["line 5: `total += value` deleted"]([1], 5) == 0
    assert found["line 5: value -> limit"]([1, 2], 5) == 10  # one local read for another
    assert len(found) == len(mutants(reference)), "two mutants share a description"


def test_mutants_drop_keyword_arguments_and_swap_sibling_constants():
    from eda_kit.exercises import event_store

    changes = [m.change for m in mutants(event_store.open_account_once)]
    assert any("without expected_version=" in change for change in changes)
    assert any("NO_STREAM -> ANY" in change for change in changes)


def test_mutants_of_values_drop_swap_and_replace_entries():
    changes = {m.change: m.value for m in mutants({"a": ["x", "y"], "b": ["y"]})}
    assert changes["['a'] dropped"] == {"b": ["y"]}
    assert changes["['a'][0] and [1] swapped"] == {"a": ["y", "x"], "b": ["y"]}
    assert changes["['b'] + 'x'"] == {"a": ["x", "y"], "b": ["y", "x"]}
    assert all(isinstance(m, Mutant) for m in mutants(["p", "q"]))


def test_a_weak_checker_is_caught():
    """The test above can fail: a checker that only looks at 2 lets `n + 2` through."""
    from eda_kit.exercises import Checker, Exercise

    def double(n):
        return n * 2

    def only_two(answer, check: Checker) -> None:
        with check.case("two"):
            check.expect(answer(2), 4)  # 2 * 2 == 2 + 2

    weak = Exercise(
        "double it",
        reference=double,
        test=only_two,
        run=lambda answer, n: answer(n),
        generate=lambda rng, size: rng.randint(3, 50),
        examples=0,  # the checker itself tries no generated input...
    )
    survivors = [m.change for m, where in assess("weak", weak).survivors]
    assert "line 2: `n * 2`: * -> +" in survivors  # ...the corpus does, and catches it
