"""The machinery behind every exercise: how an answer is checked, hints and solutions.

How a checker decides, in this order (the first problem found is the verdict):

1. **Teaching cases** (``test=``, optional): hand-written cases whose messages teach
   ("balance: a fee takes money out"). A ``Checker`` names each case.
2. **Probes** (``probes=``): named inputs on which the answer must *behave like the
   reference*: a rival writer between a read and a write, several arguments, boundary values,
   a ``None`` result, repeated and interleaved calls. Nobody writes the expected values by
   hand: the reference's behaviour on the same input *is* the expected value.
3. **Generated inputs** (``generate=``): seeded random inputs, small ones first, compared
   with the reference the same way. A failure is shrunk to the smallest failing input found,
   and that is what the verdict shows.
4. **Constraints** (``constraints=``): what the task says about *how* ("using only on and
   off", "money in whole paise, never floats"), each checked by running the answer.

``run(answer, input)`` says what "behaving like" means for one exercise: it builds a fresh
world from the plain-data ``input`` (a store, an emitter, events), lets the answer act, and
returns what can be observed (a return value, the events stored, the calls made). Two
observations are compared with :func:`same` (which tells ``30`` from ``30.0``), after the
exercise's ``normalize`` (for instance sorting where order does not matter).

The same pieces let the test suite try every checker against mutants of its reference
(:mod:`eda_kit.exercises.mutation`): a checker that lets a differently-behaving mutant pass is a
checker that can be fooled.
"""

from __future__ import annotations

import ast
import inspect
import random
import signal
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..clock import reproducible

__all__ = [
    "Checker",
    "Constraint",
    "Exercise",
    "NotYet",
    "Probe",
    "Raised",
    "Returned",
    "TookTooLong",
    "Verdict",
    "outcome",
    "same",
    "smaller",
]

_MAX_REPR = 160


def short_repr(value: Any, limit: int = _MAX_REPR) -> str:
    """``repr`` cut to a readable length, for verdicts."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class NotYet(Exception):
    """Raised by a checker when the answer fails a case; its message is the verdict."""


class TookTooLong(BaseException):
    """The answer ran past its time limit (a BaseException, so ``except Exception`` in the
    learner's code cannot swallow it)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one answer: ``passed`` and a one-line ``message``."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


# --- teaching cases ---------------------------------------------------------------------------


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
            raise NotYet(f"{description}: your code raised {describe_exception(error)}") from None
        finally:
            self._case = None

    def expect(self, actual: Any, expected: Any, what: str = "") -> None:
        """Fail the current case unless ``actual`` is the same as ``expected`` (see ``same``)."""
        if not same(actual, expected):
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


def describe_exception(error: BaseException) -> str:
    """``KeyError: 'sku'``: the exception's type and message, on one line."""
    text = str(error).replace("\n", " ")
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- observing behaviour ----------------------------------------------------------------------


@dataclass(frozen=True)
class Returned:
    """What a call gave back."""

    value: Any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Returned) and same(self.value, other.value)

    def __hash__(self) -> int:
        return hash("returned")

    def __repr__(self) -> str:
        return f"returned {short_repr(self.value, 60)}"


@dataclass(frozen=True, eq=False)
class Raised:
    """A call that raised. Two ``Raised`` are the same when their types match, or, with
    ``exact=False`` (the default), whenever both raised: "refuse" can be any exception."""

    error: str  # the exception's type name
    message: str = ""
    exact: bool = False

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Raised):
            return False
        return self.error == other.error if (self.exact or other.exact) else True

    def __hash__(self) -> int:
        return hash("raised")

    def __repr__(self) -> str:
        return f"raised {self.error}" if self.exact else "raised an exception"


def outcome(
    function: Callable[..., Any], *args: Any, exact: bool = False, **kwargs: Any
) -> Returned | Raised:
    """Call ``function`` and describe what happened: ``Returned(value)`` or ``Raised(...)``.

    Use it inside ``run`` wherever raising is a legitimate behaviour (a refused command). With
    ``exact=True`` the exception's type must match the reference's (``WrongExpectedVersion``,
    not just any error).
    """
    try:
        return Returned(function(*args, **kwargs))
    except Exception as error:
        return Raised(type(error).__name__, str(error), exact)


def same(a: Any, b: Any) -> bool:
    """Equality that also tells an int from a float (money is counted in whole units), and
    treats lists and tuples alike. Everything else compares with ``==``."""
    if isinstance(a, float) != isinstance(b, float) and _is_number(a) and _is_number(b):
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def materialized(observation: Any) -> Any:
    """``observation`` with every iterator in it (a generator, ``map``, ``filter``) turned into
    a list: an answer that yields its results is as right as one that returns a list."""
    if isinstance(observation, Returned):
        return Returned(materialized(observation.value))
    if isinstance(observation, Iterator):
        return [materialized(item) for item in observation]
    if type(observation) is dict:
        return {key: materialized(item) for key, item in observation.items()}
    if type(observation) in (list, tuple):
        return type(observation)(materialized(item) for item in observation)
    return observation  # anything else (a Raised, a str, a named tuple) as it is


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def difference(expected: Any, actual: Any) -> str:
    """The shortest true description of how ``actual`` differs from ``expected``.

    Observations that are dicts (the usual ``run`` result: ``{"returned": ..., "stored":
    ...}``) are compared key by key, and only the first differing key is shown.
    """
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        if expected.keys() == actual.keys():
            for key in expected:
                if not same(expected[key], actual[key]):
                    return f"{key}: {difference(expected[key], actual[key])}"
        missing = [key for key in expected if key not in actual]
        extra = [key for key in actual if key not in expected]
        if missing:  # the first one, with what it should hold
            key = missing[0]
            return f"no entry for {key!r} (expected {short_repr(expected[key], 80)})"
        if extra:
            key = extra[0]
            return f"an entry that should not be there: {key!r} ({short_repr(actual[key], 80)})"
    if (
        _is_log(expected)
        and _is_log(actual)
        and (len(expected) + len(actual) > 2 or any(isinstance(v, Mapping) for v in expected))
    ):
        # two logs of what happened: name the first entry where they part ways
        for index, (want, got) in enumerate(zip(expected, actual), start=1):
            if not same(want, got):
                if isinstance(want, Mapping) and isinstance(got, Mapping):
                    return f"entry {index}: {difference(want, got)}"  # only the key that differs
                return f"entry {index}: expected {short_repr(want, 90)}, got {short_repr(got, 90)}"
        if len(expected) > len(actual):
            missing = short_repr(expected[len(actual)], 90)
            return f"{len(actual)} entries where {len(expected)} were expected, next: {missing}"
        extra = short_repr(actual[len(expected)], 90)
        return f"{len(actual)} entries where {len(expected)} were expected, extra: {extra}"
    note = ""
    if _is_number(expected) and _is_number(actual) and expected == actual:
        note = " (a float where a whole number was expected)"
    return f"expected {short_repr(expected, 100)}, got {short_repr(actual, 100)}{note}"


def _is_log(value: Any) -> bool:
    """A list of steps (tuples, lists or dicts): compared entry by entry in a verdict."""
    return isinstance(value, list | tuple) and all(
        isinstance(v, list | tuple | Mapping) for v in value
    )


@dataclass(frozen=True)
class Probe:
    """A named input: ``label`` names it in the verdict, ``input`` is handed to ``run``."""

    label: str
    input: Any


@dataclass(frozen=True)
class Constraint:
    """Something the task says about *how*. ``check(answer)`` returns the problem, or None.

    ``breaker``: an answer that behaves exactly like the reference but breaks the rule (``once``
    where the task says "only on and off"). It is the "constraint dropped" mutant of
    :mod:`eda_kit.exercises.mutation`: only this constraint can tell it from the reference, so
    it proves the constraint is really checked.
    """

    rule: str
    check: Callable[[Any], str | None]
    breaker: Any = None


# --- time limits ------------------------------------------------------------------------------


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``TookTooLong`` inside the block after ``seconds`` (main thread, Unix only;
    elsewhere the block simply runs)."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise TookTooLong(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- shrinking --------------------------------------------------------------------------------


def smaller(value: Any) -> Iterator[Any]:
    """Candidates a little smaller than ``value``, the most promising first.

    Lists lose one element (from the end first), then have one element made smaller; tuples
    are records (``("track", "A1", "t")``), so they keep their length and only have one element
    made smaller; dicts have one value made smaller (keys stay: they are usually required); ints
    move toward 1 (or -1); True becomes False. Strings are names: they are kept.
    """
    if isinstance(value, bool):
        if value:
            yield False
    elif isinstance(value, int):
        if value != 0:  # toward 1 (or -1): the smallest amount that is still an amount
            unit = 1 if value > 0 else -1
            half = value // 2 if value > 0 else -((-value) // 2)
            for candidate in dict.fromkeys([unit, half, value - unit]):
                if candidate not in (0, value):
                    yield candidate
    elif isinstance(value, list | tuple):
        kind = type(value)
        if isinstance(value, list):  # a tuple is a record: dropping a field makes nonsense
            for index in reversed(range(len(value))):
                yield kind([*value[:index], *value[index + 1 :]])
        for index, item in enumerate(value):
            for candidate in smaller(item):
                yield kind([*value[:index], candidate, *value[index + 1 :]])
    elif isinstance(value, dict):
        for key, item in value.items():
            for candidate in smaller(item):
                yield {**value, key: candidate}


# --- empty stubs ------------------------------------------------------------------------------


def _empty_body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
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


def empty_stub_name(answer: Any) -> str | None:
    """The name of the empty stub in ``answer`` (``revenue()``, ``FeeAccount.apply()``), if any.

    A function whose body is only ``...`` or ``pass`` (and a docstring) is an empty stub; so is
    a class with such a method in its own body.
    """
    if inspect.isclass(answer):  # its own methods, one by one (a notebook class has no file)
        for member in vars(answer).values():
            if inspect.isfunction(member) and empty_stub_name(member):
                return f"{answer.__name__}.{member.__name__}()"
        return None
    if not inspect.isfunction(answer):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):  # no source to read (e.g. made by exec)
        return None
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"{node.name}()" if _empty_body(node) else None
    return None  # a lambda, or something getsource could not isolate


def is_empty_stub(answer: Any) -> bool:
    """Is ``answer`` a function (or a class with a method) whose body is only ``...``/``pass``?"""
    return empty_stub_name(answer) is not None


# --- the exercise -----------------------------------------------------------------------------

Run = Callable[[Any, Any], Any]
Generate = Callable[[random.Random, int], Any]


class Exercise:
    """One task with a checker, hints and a reference solution.

    - ``title``: what the learner builds, in a few words.
    - ``reference``: the model answer (a function, a class, or a value); it must pass.
    - ``run(answer, input)``: builds a fresh world from ``input``, lets ``answer`` act, returns
      what can be observed. The answer must be observed doing what the reference does.
    - ``probes``: named inputs (``Probe(label, input)``), the cases the exercise is about.
    - ``generate(rng, size)``: a random input of roughly ``size`` (0 to ``max_size``);
      ``examples`` of them are tried, from small to large, seeded so verdicts never vary.
    - ``describe(input)``: the input in a few words, for the verdict (default: its repr).
    - ``normalize(observation)``: applied to both observations before comparing (e.g. sort
      lists whose order the task leaves open).
    - ``constraints``: ``Constraint(rule, check)``, for what the task says about how.
    - ``test(answer, check)``: optional teaching cases, run first (see ``Checker``).
    - ``hints``: from gentle to the answer; only the last may give the answer away.
    - ``common_mistakes``: wrong answers learners really give; each must be rejected.
    - ``also_correct``: right answers in other styles (reduce, match, a table, a generator);
      each must pass.
    - ``explanation``: why the reference is right, shown with the solution.
    - ``time_limit``: seconds one ``run`` of the answer may take (an endless loop gets a
      verdict instead of a hung kernel).
    """

    def __init__(
        self,
        title: str,
        *,
        reference: Any,
        run: Run | None = None,
        probes: Sequence[Probe] = (),
        generate: Generate | None = None,
        examples: int = 120,
        max_size: int = 8,
        seed: int = 2026,
        describe: Callable[[Any], str] = short_repr,
        normalize: Callable[[Any], Any] | None = None,
        constraints: Sequence[Constraint] = (),
        test: TestFunction | None = None,
        hints: Sequence[str] = (),
        common_mistakes: Sequence[Any] = (),
        also_correct: Sequence[Any] = (),
        explanation: str = "",
        time_limit: float = 5.0,
    ) -> None:
        if run is None and test is None:
            raise TypeError(f"exercise {title!r} needs run= (compare with the reference) or test=")
        if generate is not None and run is None:
            raise TypeError(f"exercise {title!r}: generate= needs run=")
        self.title = title
        self.reference = reference
        self.run = run
        self.probes = tuple(probes)
        self.generate = generate
        self.examples = examples
        self.max_size = max_size
        self.seed = seed
        self.describe = describe
        self.normalize = normalize or (lambda observation: observation)
        self.constraints = tuple(constraints)
        self._test = test
        self.hints = tuple(hints)
        self.common_mistakes = tuple(common_mistakes)
        self.also_correct = tuple(also_correct)
        self.explanation = explanation
        self.time_limit = time_limit
        self._hints_shown = 0

    # -- inputs --------------------------------------------------------------------------------

    def generated_inputs(self, examples: int | None = None, seed: int | None = None) -> list[Any]:
        """The generated inputs, small to large; the same list every time for one seed."""
        if self.generate is None:
            return []
        count = self.examples if examples is None else examples
        rng = random.Random(self.seed if seed is None else seed)
        return [
            self.generate(rng, index * (self.max_size + 1) // max(count, 1))
            for index in range(count)
        ]

    def corpus(self, examples: int | None = None, seed: int | None = None) -> list[Probe]:
        """The probes, then the generated inputs, each as a ``Probe``."""
        generated = [
            Probe(f"the input {self.describe(value)}", value)
            for value in self.generated_inputs(examples, seed)
        ]
        return [*self.probes, *generated]

    # -- comparing with the reference ----------------------------------------------------------

    def observe(self, answer: Any, value: Any, *, limit: float | None = None) -> Any:
        """What ``run`` observes of ``answer`` on ``value``, normalized. Exceptions propagate."""
        assert self.run is not None
        with reproducible(), time_limit(limit):  # the same ids and clock for every run
            return self.normalize(materialized(self.run(answer, value)))

    def expected(self, value: Any) -> Any:
        """The reference's observation on ``value`` (an exception here is the input's fault)."""
        return self.observe(self.reference, value)

    def mismatch(self, answer: Any, value: Any) -> str | None:
        """How ``answer`` differs from the reference on ``value``, or None when it does not.

        Raises ``LookupError`` when the reference itself cannot run on ``value`` (an input that
        is not valid for this exercise, e.g. one a shrink step broke).
        """
        try:
            expected = self.expected(value)
        except Exception as error:
            raise LookupError(f"not a valid input: {describe_exception(error)}") from error
        try:
            actual = self.observe(answer, value, limit=self.time_limit)
        except TookTooLong:
            return f"your code took more than {self.time_limit:g} s (an endless loop?)"
        except Exception as error:
            return f"your code raised {describe_exception(error)}"
        if same(actual, expected):
            return None
        return difference(expected, actual)

    def differs_on_corpus(self, answer: Any, examples: int, seed: int) -> str | None:
        """The first corpus input on which ``answer`` and the reference differ, described."""
        for probe in self.corpus(examples, seed):
            try:
                problem = self.mismatch(answer, probe.input)
            except LookupError:
                continue
            if problem:
                return f"{probe.label}: {problem}"
        return None

    def shrink(self, answer: Any, value: Any, budget: int = 300) -> Any:
        """The smallest input found, starting from the failing ``value``, on which ``answer``
        still differs from the reference (greedy: take the first smaller failing candidate)."""
        tried = 0
        improved = True
        while improved and tried < budget:
            improved = False
            for candidate in smaller(value):
                tried += 1
                if tried > budget:
                    break
                try:
                    failing = self.mismatch(answer, candidate) is not None
                except LookupError:
                    continue
                if failing:
                    value, improved = candidate, True
                    break
        return value

    # -- the verdict ---------------------------------------------------------------------------

    def verdict(self, answer: Any) -> Verdict:
        """Check ``answer`` and return the ``Verdict`` (prints nothing)."""
        if answer is None or answer is Ellipsis:
            return Verdict(False, "Not yet: there is no answer to check yet (fill in the cell)")
        stub = empty_stub_name(answer)
        if stub:
            return Verdict(
                False,
                f"Not yet: {stub} is still the empty stub "
                "(replace the `...` with your code, run the cell, then check again)",
            )
        try:
            with reproducible():  # checking never moves the notebook's ids or clock
                self._check(answer)
        except NotYet as failure:
            return Verdict(False, f"Not yet: {failure}")
        except TookTooLong:
            return Verdict(False, f"Not yet: your code took more than {self.time_limit:g} s")
        except Exception as error:  # the answer broke outside a case: still no traceback
            return Verdict(False, f"Not yet: your answer raised {describe_exception(error)}")
        return Verdict(True, "Correct")

    def _check(self, answer: Any) -> None:
        if self._test is not None:
            with time_limit(self.time_limit * 4):
                self._test(answer, Checker())
        for probe in self.probes:
            problem = self.mismatch(answer, probe.input)
            if problem:
                raise NotYet(f"{probe.label}: {problem}")
        for value in self.generated_inputs():
            try:
                problem = self.mismatch(answer, value)
            except LookupError as error:  # the generator made an input the reference refuses
                raise RuntimeError(f"{self.title}: bad generated input {value!r}") from error
            if problem:
                smallest = self.shrink(answer, value)
                problem = self.mismatch(answer, smallest) or problem
                raise NotYet(f"on {self.describe(smallest)}: {problem}")
        for constraint in self.constraints:
            try:
                with time_limit(self.time_limit):
                    problem = constraint.check(answer)
            except TookTooLong:
                problem = f"your code took more than {self.time_limit:g} s"
            except Exception as error:
                problem = f"your code raised {describe_exception(error)}"
            if problem:
                raise NotYet(f"{constraint.rule}: {problem}")

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
