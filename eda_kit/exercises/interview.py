"""Exercise for notebook 09, the interview track: how long until a consumer catches up?

A back-of-the-envelope number every system-design answer about lag needs: a consumer ``backlog``
events behind, events still arriving at ``arrival`` per second, the consumer applying up to
``capacity`` per second. The checker compares the answer with the reference on the boundaries
that matter (no backlog, capacity equal to arrival, a remainder that must round up) and on
generated inputs.
"""

from __future__ import annotations

import math

from .framework import Exercise, Probe, outcome

__all__ = ["drain", "seconds_to_drain"]


def seconds_to_drain(backlog, arrival, capacity):
    if backlog == 0:
        return 0  # nothing to catch up
    if capacity <= arrival:
        return None  # it never catches up: the backlog stays or grows
    return math.ceil(backlog / (capacity - arrival))


def _ignores_arrivals(backlog, arrival, capacity):  # as if nothing new came in meanwhile
    return math.ceil(backlog / capacity) if capacity else None


def _rounds_down(backlog, arrival, capacity):  # the last partial second is forgotten
    if capacity <= arrival:
        return None if backlog else 0
    return backlog // (capacity - arrival)


def _divides_by_zero(backlog, arrival, capacity):  # no answer for "never"
    return math.ceil(backlog / (capacity - arrival))


def _never_when_even_without_backlog(backlog, arrival, capacity):  # no backlog is caught up
    if capacity <= arrival:
        return None
    return math.ceil(backlog / (capacity - arrival))


def _with_integer_ceiling(backlog, arrival, capacity):  # right: -(-a // b) rounds up, in ints
    if not backlog:
        return 0
    spare = capacity - arrival
    return -(-backlog // spare) if spare > 0 else None


def _by_simulation(backlog, arrival, capacity):  # right: second by second (slow, but clear)
    if backlog and capacity <= arrival:
        return None
    seconds = 0
    while backlog > 0:
        backlog = max(0, backlog + arrival - capacity)
        seconds += 1
    return seconds


def _with_divmod(backlog, arrival, capacity):  # right: whole seconds, plus one for a remainder
    spare = capacity - arrival
    if backlog == 0:
        return 0
    if spare <= 0:
        return None
    seconds, left = divmod(backlog, spare)
    return seconds + (1 if left else 0)


def _run(answer, numbers):
    backlog, arrival, capacity = numbers
    return outcome(answer, backlog, arrival, capacity)


def _describe(numbers):
    backlog, arrival, capacity = numbers
    return f"a backlog of {backlog}, {arrival}/s arriving, capacity {capacity}/s"


def _generate(rng, size):
    arrival = rng.randint(0, 50 * (size + 1))
    capacity = max(0, arrival + rng.randint(-20, 40 * (size + 1)))
    backlog = rng.choice([0, rng.randint(1, 10), rng.randint(1, 1000 * (size + 1))])
    return [backlog, arrival, capacity]


drain = Exercise(
    "How long until a lagging consumer catches up?",
    reference=seconds_to_drain,
    run=_run,
    describe=_describe,
    probes=[
        Probe("3,600,000 behind, 300/s arriving, 2,000/s capacity", [3_600_000, 300, 2_000]),
        Probe("no backlog at all", [0, 300, 2_000]),
        Probe("no backlog, and capacity below arrival (it is caught up, for now)", [0, 500, 400]),
        Probe("capacity exactly equal to arrival", [1_000, 500, 500]),
        Probe("capacity below arrival", [1_000, 500, 400]),
        Probe("a remainder: 1,001 behind, 1,000/s spare", [1_001, 0, 1_000]),
        Probe("one event behind, an idle stream", [1, 0, 1]),
    ],
    generate=_generate,
    hints=[
        "While the consumer works through the backlog, new events keep arriving. What matters is "
        "the *spare* capacity: what it applies per second minus what arrives per second.",
        "If the spare capacity is zero or negative, it never catches up: return None. If there "
        "is no backlog, it is caught up already: 0 seconds. A partial last second still counts.",
        "return 0 if backlog == 0; None if capacity <= arrival; otherwise "
        "math.ceil(backlog / (capacity - arrival)).",
    ],
    common_mistakes=[
        _ignores_arrivals,
        _rounds_down,
        _divides_by_zero,
        _never_when_even_without_backlog,
    ],
    also_correct=[_with_integer_ceiling, _by_simulation, _with_divmod],
    explanation=(
        "A backlog drains only at the spare rate, capacity minus arrival, which is why a "
        "consumer sized for the average never recovers from a peak and one sized for the peak "
        "recovers in minutes. None (never) is an answer an interviewer wants to hear you give: "
        "it is the case that pages someone at 2 a.m."
    ),
)
