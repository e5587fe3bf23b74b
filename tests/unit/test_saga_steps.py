"""eda_kit.saga.steps: Step kinds, timeouts that mean what they say, backoff."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import eda_kit
from eda_kit import Saga, Step
from eda_kit.saga import Backoff, ManualClock
from eda_kit.saga.steps import MAX_TIMEOUT, check_seconds


def noop(ctx):
    return None


@pytest.mark.parametrize(
    "value, message",
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        (-math.inf, "finite"),
        (-0.5, "> 0 seconds"),
        (0, "> 0 seconds"),
        (MAX_TIMEOUT * 2, "at most 86400 seconds"),
        (2**70, "at most 86400 seconds"),
        (False, "number of seconds"),
        (None, "number of seconds"),
        ("1", "number of seconds"),
    ],
)
def test_check_seconds_refuses_what_a_timer_cannot_mean(value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        check_seconds(value, "timeout")


def test_check_seconds_accepts_ints_floats_and_the_limits():
    assert check_seconds(1, "t") == 1.0 and isinstance(check_seconds(1, "t"), float)
    assert check_seconds(MAX_TIMEOUT, "t") == MAX_TIMEOUT
    assert check_seconds(0, "t", allow_zero=True) == 0.0


def test_a_timeout_is_stored_as_float_seconds():
    assert Step("a", noop, timeout=2).timeout == 2.0
    assert Step("a", noop, compensation=noop, compensation_timeout=1).compensation_timeout == 1.0


@pytest.mark.parametrize(
    "kinds",
    [
        ["pivot", "compensatable"],
        ["retriable", "compensatable"],
        ["retriable", "pivot"],
        ["compensatable", "retriable", "compensatable"],
    ],
)
def test_kinds_must_come_in_order(kinds):
    steps = [Step(f"s{i}", noop, kind=kind) for i, kind in enumerate(kinds)]
    with pytest.raises(ValueError, match="what cannot be undone goes last"):
        Saga("s", steps)


def test_one_pivot_at_most():
    with pytest.raises(ValueError, match=r"one pivot step, got 2: \['a', 'b'\]"):
        Saga("s", [Step("a", noop, kind="pivot"), Step("b", noop, kind="pivot")])


def test_kinds_in_order_are_accepted():
    Saga(
        "s",
        [
            Step("a", noop, noop),
            Step("b", noop, noop),
            Step("c", noop, kind="pivot"),
            Step("d", noop, kind="retriable"),
        ],
    )
    Saga("s", [Step("a", noop, kind="retriable")])  # all forward: a chain of retries


def test_fixed_and_exponential_backoff():
    assert [Backoff.fixed(0.5).delay(n) for n in (1, 2, 3)] == [0.5, 0.5, 0.5]
    exp = Backoff.exponential(0.1, factor=2, cap=1.0)
    assert [round(exp.delay(n), 6) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_a_huge_retry_number_does_not_overflow():
    assert Backoff.exponential(0.1, factor=10, cap=5).delay(10_000) == 5.0
    assert Backoff(1.0, factor=2).delay(10_000) == MAX_TIMEOUT  # no cap: the one-day limit


@given(
    st.floats(0, 10),
    st.floats(1, 4),
    st.floats(10, 100),
    st.floats(0, 1),
    st.integers(1, 200),
)
def test_backoff_stays_within_zero_and_its_cap(initial, factor, cap, jitter, retry):
    backoff = Backoff.exponential(initial, factor=factor, cap=cap, jitter=jitter)
    assert 0 <= backoff.delay(retry) <= cap
    if not jitter:
        assert backoff.delay(retry) <= backoff.delay(retry + 1)  # never shrinks


def test_jitter_is_reproducible_in_reproducible_mode():
    backoff = Backoff.exponential(1.0, cap=8, jitter=0.5)
    with eda_kit.reproducible():
        first = [backoff.delay(n) for n in range(1, 5)]
    with eda_kit.reproducible():
        second = [backoff.delay(n) for n in range(1, 5)]
    assert first == second
    assert all(0.5 * 2 ** (n - 1) <= d <= 2 ** (n - 1) for n, d in zip(range(1, 5), first))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Backoff(-1), "initial delay must be >= 0"),
        (lambda: Backoff(math.nan), "finite"),
        (lambda: Backoff(1, factor=0.5), "factor must be between 1 and 100"),
        (lambda: Backoff(1, factor=math.inf), "factor must be between 1 and 100"),
        (lambda: Backoff(2, cap=1), r"cap \(1.0\) must not be below the initial delay"),
        (lambda: Backoff(1, cap=math.inf), "finite"),
        (lambda: Backoff(1, jitter=2), "jitter must be from 0 to 1"),
        (lambda: Backoff.fixed(1).delay(0), "retry must be an int >= 1"),
    ],
)
def test_bad_backoffs_are_refused(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_compensation_retries_wait_on_the_backoff_too():
    clock, seen = ManualClock(), []

    def undo(ctx):
        seen.append(clock.now())
        if ctx.attempt < 3:
            raise ConnectionError("refund service busy")

    def fails(ctx):
        raise RuntimeError("declined")

    steps = [
        Step("charge", noop, undo, backoff=Backoff.fixed(2.0)),
        Step("ship", fails),
    ]
    result = Saga("s", steps, clock=clock).run()
    assert result.status == "compensated"
    assert [b - a for a, b in zip(seen, seen[1:])] == [2.0, 2.0]


def test_backoff_waits_between_retries_on_the_saga_clock():
    clock, seen = ManualClock(), []

    def flaky(ctx):
        seen.append(clock.now())
        if ctx.attempt < 4:
            raise ConnectionError("provider busy")

    step = Step("charge", flaky, retries=3, backoff=Backoff.exponential(1.0, factor=2, cap=3.0))
    assert Saga("s", [step], clock=clock).run().status == "completed"
    assert [b - a for a, b in zip(seen, seen[1:])] == [1.0, 2.0, 3.0]
