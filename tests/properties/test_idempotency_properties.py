"""Random programs of calls against both idempotency stores and a ten-line model of the rules.

Each step calls ``run(key, fn, amount)`` where ``fn`` succeeds, raises, or "crashes" (a
``SimulatedCrash``), or moves the clock. The model says what must happen: the first call with
a key runs; later ones replay its outcome, are refused as a mismatch (other amount) or as in
use (a crash left the claim), until the key expires. Both backends must agree with it, call
for call, and the work must have run exactly as often as the model says.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_kit.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyMismatch,
    ReplayedFailure,
    SimulatedCrash,
)
from eda_kit.messaging import InMemoryIdempotencyStore, SQLiteIdempotencyStore

TTL = 100

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("call"),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from([10, 20]),
            st.sampled_from(["ok", "error", "crash"]),
        ),
        st.tuples(st.just("wait"), st.integers(1, 60)),
    ),
    max_size=30,
)


def model_run(program):
    """What every call must return, and how many times the work runs."""
    records = {}  # key -> (amount, outcome, claimed_at)
    clock = 0
    answers, runs = [], 0
    for step in program:
        if step[0] == "wait":
            clock += step[1]
            continue
        _, key, amount, behaviour = step
        record = records.get(key)
        if record is not None and clock >= record[2] + TTL:
            record = None
        if record is None:
            runs += 1
            outcome = {
                "ok": ("result", f"{key}-{amount}-{runs}"),
                "error": ("raised", "boom"),
                "crash": ("crashed", None),
            }[behaviour]
            records[key] = (amount, outcome, clock)
            answers.append(outcome)
        elif record[0] != amount:
            answers.append(("mismatch", None))
        elif record[1][0] == "crashed":
            answers.append(("in use", None))
        elif record[1][0] == "raised":
            answers.append(("replayed error", None))
        else:
            answers.append(record[1])
    return answers, runs


def store_run(store, clock, program):
    answers, runs = [], [0]
    for step in program:
        if step[0] == "wait":
            clock[0] += timedelta(seconds=step[1])
            continue
        _, key, amount, behaviour = step

        def work(amount, key=key, behaviour=behaviour):
            runs[0] += 1
            if behaviour == "error":
                raise ValueError("boom")
            if behaviour == "crash":
                raise SimulatedCrash()
            return f"{key}-{amount}-{runs[0]}"

        try:
            answers.append(("result", store.run(key, work, amount)))
        except IdempotencyKeyMismatch:  # a ValueError too: catch it first
            answers.append(("mismatch", None))
        except ValueError:
            answers.append(("raised", "boom"))
        except SimulatedCrash:
            answers.append(("crashed", None))
        except IdempotencyKeyInUse:
            answers.append(("in use", None))
        except ReplayedFailure:
            answers.append(("replayed error", None))
    return answers, runs[0]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(program=steps)
def test_both_backends_follow_the_model(tmp_path_factory, program):
    expected = model_run(program)
    clock = [datetime(2026, 1, 5, tzinfo=UTC)]
    memory = InMemoryIdempotencyStore(ttl=TTL, clock=lambda: clock[0])
    assert store_run(memory, clock, program) == expected
    clock = [datetime(2026, 1, 5, tzinfo=UTC)]
    path = tmp_path_factory.mktemp("keys") / "keys.db"
    with SQLiteIdempotencyStore(path, ttl=TTL, clock=lambda: clock[0]) as sqlite:
        assert store_run(sqlite, clock, program) == expected
