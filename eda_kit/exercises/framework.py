"""The machinery behind every exercise: cases, verdicts, hints and solutions."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Checker", "Exercise", "NotYet", "Verdict"]

_MAX_REPR = 160


def short_repr(value: Any) -> str:
    """``repr`` cut to a readable length, for verdicts."""
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


class NotYet(Exception):
    """Raised by a checker when the answer fails a case; its message is the verdict."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one answer: ``passed`` and a one-line ``message``."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


class Checker:
    """Helps a test function describe its cases; turns failures into ``NotYet``."""

    def __init__(self) -> None:
        self._case: str | None = None

    @contextmanager
    def case(self, description: str) -> Iterator[None]:
        """A named case. Anything the learner's code raises inside becomes part of the verdict."""
        self._case = description
        try:
            yield
        except NotYet:
            raise
        except Exception as error:  # the learner's bug, reported, not shown as a traceback
            message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise NotYet(f"{description}: your code raised {message}") from None
        finally:
            self._case = None

    def expect(self, actual: Any, expected: Any, what: str = "") -> None:
        """Fail the current case unless ``actual == expected``."""
        if actual != expected:
            self.fail(f"expected {short_repr(expected)}, got {short_repr(actual)}", what)

    def require(self, condition: bool, explanation: str) -> None:
        """Fail the current case with ``explanation`` unless ``condition`` holds."""
        if not condition:
            self.fail(explanation)

    def fail(self, explanation: str, what: str = "") -> None:
        """Fail the current case now."""
        where = self._case or "check"
        if what:
            where = f"{where} ({what})"
        raise NotYet(f"{where}: {explanation}")


TestFunction = Callable[[Any, Checker], None]


def is_empty_stub(answer: Any) -> bool:
    """Is ``answer`` a function whose body is only ``...`` or ``pass`` (and a docstring)?"""
    if not inspect.isfunction(answer):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):  # no source to read (e.g. made by exec)
        return False
    function = tree.body[0] if tree.body else None
    if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        return False  # a lambda, or something getsource could not isolate
    body = function.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]  # a docstring is not code
    return all(
        isinstance(statement, ast.Pass)
        or (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and statement.value.value is Ellipsis
        )
        for statement in body
    )


class Exercise:
    """One task with a checker, hints and a reference solution.

    - ``title``: what the learner builds, in a few words.
    - ``test(answer, check)``: runs the cases against the learner's answer.
    - ``reference``: the model answer (a function, or a value); it must pass ``test``.
    - ``hints``: from gentle to almost-the-answer; ``hint()`` reveals one more each call.
    - ``common_mistakes``: wrong answers learners really give. The test suite proves the
      checker rejects each one, so a checker can't quietly accept anything.
    - ``explanation``: why the reference is right, shown with the solution.
    """

    def __init__(
        self,
        title: str,
        *,
        test: TestFunction,
        reference: Any,
        hints: Sequence[str] = (),
        common_mistakes: Sequence[Any] = (),
        explanation: str = "",
    ) -> None:
        self.title = title
        self._test = test
        self.reference = reference
        self.hints = tuple(hints)
        self.common_mistakes = tuple(common_mistakes)
        self.explanation = explanation
        self._hints_shown = 0

    def verdict(self, answer: Any) -> Verdict:
        """Check ``answer`` and return the ``Verdict`` (prints nothing)."""
        if answer is None or answer is Ellipsis:
            return Verdict(False, "Not yet: there is no answer to check yet (fill in the cell)")
        if is_empty_stub(answer):
            return Verdict(
                False,
                f"Not yet: {answer.__name__}() is still the empty stub "
                "(replace the `...` with your code, run the cell, then check again)",
            )
        try:
            self._test(answer, Checker())
        except NotYet as failure:
            return Verdict(False, f"Not yet: {failure}")
        except Exception as error:  # the answer broke outside a case: still no traceback
            return Verdict(False, f"Not yet: your answer raised {type(error).__name__}: {error}")
        return Verdict(True, "Correct")

    def check(self, answer: Any) -> None:
        """Check ``answer`` and print one short verdict: "Correct" or "Not yet: ..."."""
        print(self.verdict(answer).message)

    def hint(self) -> None:
        """Print the next hint (they get more specific each time)."""
        if not self.hints:
            print("No hints for this one: try the smallest example by hand first.")
            return
        index = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        print(f"Hint {index + 1} of {len(self.hints)}: {self.hints[index]}")

    def solution(self) -> None:
        """Print the reference solution (and why it works)."""
        if callable(self.reference):
            print(textwrap.dedent(inspect.getsource(self.reference)).rstrip())
        else:
            print(repr(self.reference))
        if self.explanation:
            print()
            print(textwrap.fill(self.explanation, width=88))

    def __repr__(self) -> str:
        return f"<Exercise: {self.title}>"
