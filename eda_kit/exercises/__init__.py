"""Self-checking exercises: one module per notebook, one ``Exercise`` per task.

In a notebook::

    from eda_kit.exercises import start_here as exercises

    def total(amounts):
        ...                                  # your code

    exercises.warm_up.check(total)           # prints "Correct" or "Not yet: ..."
    exercises.warm_up.hint()                 # one more hint each time
    exercises.warm_up.solution()             # the reference answer, when you're done trying

Writing a checker: a test function gets the learner's answer and a ``Checker``. Each case is a
``with check.case("..."):`` block; inside it, call the answer and compare with ``check.expect``.
If the answer raises, the verdict says so, naming the case: a learner never sees a traceback.
"""

from .framework import Checker, Exercise, NotYet, Verdict

__all__ = ["Checker", "Exercise", "NotYet", "Verdict"]
