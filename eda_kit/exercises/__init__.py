"""Self-checking exercises: one module per notebook, one ``Exercise`` per task.

In a notebook::

    from eda_kit.exercises import start_here as exercises

    def revenue(events):
        ...                                  # your code

    exercises.warm_up.check(revenue)         # prints "Correct" or "Not yet: ..."
    exercises.warm_up.hint()                 # one more hint each time
    exercises.warm_up.solution()             # the reference answer, when you're done trying

Writing an exercise (see ``framework`` for the whole method): give the ``reference`` answer
and a ``run(answer, input)`` that builds a fresh world from a plain-data input, lets the answer
act, and returns what can be observed. The checker then compares the learner's answer with the
reference on named ``probes`` (the cases the exercise is about) and on seeded ``generate``d
inputs, shrinking a failure to the smallest input found; ``constraints`` check what the task
says about *how*. A learner never sees a traceback: the verdict names the case.
``tests/unit/test_exercise_mutants.py`` then proves the checker rejects every mutant of the
reference that behaves differently (``python -m eda_kit.exercises.mutation`` prints kill rates).
"""

from .framework import (
    Checker,
    Constraint,
    Exercise,
    NotYet,
    Probe,
    Raised,
    Returned,
    Verdict,
    outcome,
    same,
)

__all__ = [
    "Checker",
    "Constraint",
    "Exercise",
    "NotYet",
    "Probe",
    "Raised",
    "Returned",
    "Verdict",
    "outcome",
    "same",
]
