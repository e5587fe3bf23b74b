"""Every exercise in every notebook: the checker passes the reference and rejects the mistakes.

Exercises are found automatically (every ``Exercise`` in every module of eda_kit.exercises),
so a new exercise is tested the moment it exists.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import eda_kit.exercises as exercises_package
from eda_kit.exercises import Checker, Exercise, NotYet, start_here


def all_exercises() -> list[tuple[str, Exercise]]:
    found = []
    for module_info in pkgutil.iter_modules(exercises_package.__path__):
        if module_info.name == "framework":
            continue
        module = importlib.import_module(f"eda_kit.exercises.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Exercise):
                found.append((f"{module_info.name}.{name}", value))
    return found


EXERCISES = all_exercises()
IDS = [name for name, _ in EXERCISES]


def test_exercises_are_found():
    assert "start_here.warm_up" in IDS


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=IDS)
def test_reference_solution_passes(name, exercise):
    verdict = exercise.verdict(exercise.reference)
    assert verdict.passed, f"{name}: the reference fails its own checker: {verdict.message}"
    assert verdict.message == "Correct"


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=IDS)
def test_every_common_mistake_is_rejected_with_a_useful_message(name, exercise):
    assert len(exercise.common_mistakes) >= 2, f"{name}: give at least two known wrong answers"
    for mistake in exercise.common_mistakes:
        verdict = exercise.verdict(mistake)
        assert not verdict.passed, f"{name}: accepted a known mistake: {mistake!r}"
        assert verdict.message.startswith("Not yet: "), verdict.message
        assert len(verdict.message) > len("Not yet: ") + 15, f"too terse: {verdict.message}"
        assert "Traceback" not in verdict.message


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=IDS)
def test_an_empty_answer_is_not_yet(name, exercise):
    assert exercise.verdict(None).message.startswith("Not yet: there is no answer")


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=IDS)
def test_hints_and_solution_print_something(name, exercise, capsys):
    exercise.hint()
    exercise.solution()
    printed = capsys.readouterr().out
    assert printed.startswith(("Hint 1 of", "No hints"))
    assert len(printed.splitlines()) >= 2


# --- the framework itself -------------------------------------------------------------------


def test_check_prints_one_verdict_line(capsys):
    start_here.warm_up.check(start_here.revenue)
    assert capsys.readouterr().out == "Correct\n"
    start_here.warm_up.check(lambda events: 0)
    assert capsys.readouterr().out == (
        "Not yet: one OrderPlaced with total 30: expected 30, got 0\n"
    )


def test_a_learners_exception_becomes_part_of_the_verdict():
    def crashes(events):
        raise RuntimeError("oops")

    verdict = start_here.warm_up.verdict(crashes)
    assert verdict.message == "Not yet: no events at all: your code raised RuntimeError: oops"


def test_an_exception_outside_any_case_is_reported_too():
    def test(answer, check: Checker) -> None:
        answer()  # not inside check.case(...)

    exercise = Exercise("bare", test=test, reference=lambda: None)
    verdict = exercise.verdict(lambda: {}["missing"])
    assert verdict.message == "Not yet: your answer raised KeyError: 'missing'"


def test_hints_get_more_specific_and_stop_at_the_last(capsys):
    exercise = Exercise("x", test=lambda a, c: None, reference=1, hints=["first", "second"])
    for _ in range(3):
        exercise.hint()
    assert capsys.readouterr().out.splitlines() == [
        "Hint 1 of 2: first",
        "Hint 2 of 2: second",
        "Hint 2 of 2: second",
    ]


def test_long_values_are_shortened_in_verdicts():
    def test(answer, check: Checker) -> None:
        with check.case("big"):
            check.expect(answer(), [0])

    verdict = Exercise("x", test=test, reference=lambda: [0]).verdict(lambda: list(range(500)))
    assert verdict.message.endswith("...") and len(verdict.message) < 260


def test_require_and_fail_name_the_case():
    checker = Checker()
    with pytest.raises(NotYet, match="^ordering: listeners ran twice$"):
        with checker.case("ordering"):
            checker.require(False, "listeners ran twice")


def test_an_empty_stub_function_is_named_not_run():
    def revenue(events):
        """Add up the money."""
        ...  # your code here

    def drafted(events):
        pass

    def started(events):
        total = 0  # a real attempt: it runs and gets a real verdict
        return total

    assert start_here.warm_up.verdict(revenue).message == (
        "Not yet: revenue() is still the empty stub "
        "(replace the `...` with your code, run the cell, then check again)"
    )
    assert "drafted() is still the empty stub" in start_here.warm_up.verdict(drafted).message
    assert start_here.warm_up.verdict(started).message == (
        "Not yet: one OrderPlaced with total 30: expected 30, got 0"
    )
    assert not start_here.warm_up.verdict(lambda events: ...).passed
