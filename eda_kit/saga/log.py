"""The saga log: what a saga writes down, so that it can pick up where it left off.

A saga with a store appends one event per transition to its own stream, ``saga-<saga_id>``::

    v1  SagaStarted          {saga, steps, context}
    v2  StepStarted          {step, attempt}
    v3  StepDone             {step, attempt, context}     <- the context after the step
    v4  StepStarted          {step, attempt}
    v5  StepRetried          {step, attempt, error}       <- failed, will be tried again
    v6  StepStarted          {step, attempt}
    v7  StepFailed           {step, attempt, error}       <- failed for good: compensate
    v8  CompensationStarted  {step, attempt}
    v9  StepCompensated      {step, attempt, context}
    ... CompensationRetried  {step, attempt, error}
    ... CompensationFailed   {step, attempt, error}
    v10 SagaFinished         {status, context}

The log is the saga's memory. :func:`read_log` folds it back into a :class:`LogState` (which
steps are done, which were compensated, the latest context, whether the saga finished), and
``Saga.resume`` continues from there. A ``StepStarted`` with no ``StepDone`` after it is the
footprint of a crash in the middle of a step: nobody knows whether the step's work happened,
so resuming runs it again (and that is why actions must be idempotent).

Each append passes the stream's exact current version as ``expected_version``: if two
processes resume the same saga at once, the second one's write fails with
``WrongExpectedVersion`` instead of both running the steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValue
from ..events import Event, RecordedEvent
from ..payloads import thaw

if TYPE_CHECKING:
    from ..store import EventStore

__all__ = ["SagaLog", "LogState", "read_log", "stream_for", "EVENT_TYPES", "HISTORY_OUTCOME"]

#: Every event type a saga writes, in the order they usually appear.
EVENT_TYPES = (
    "SagaStarted",
    "StepStarted",
    "StepRetried",
    "StepDone",
    "StepFailed",
    "CompensationStarted",
    "CompensationRetried",
    "StepCompensated",
    "CompensationFailed",
    "SagaFinished",
)

# Log event type -> the history outcome it stands for (started events are not history).
HISTORY_OUTCOME = {
    "StepRetried": "retried",
    "StepDone": "done",
    "StepFailed": "failed",
    "CompensationRetried": "compensation_retried",
    "StepCompensated": "compensated",
    "CompensationFailed": "compensation_failed",
}


def stream_for(saga_id: str) -> str:
    """The stream that holds a saga's log: ``saga-<saga_id>``."""
    return f"saga-{saga_id}"


class SagaLog:
    """Appends one saga's transitions to its stream, checking the version every time."""

    def __init__(self, store: EventStore, saga_id: str, version: int = 0) -> None:
        self.store = store
        self.stream = stream_for(saga_id)
        self.version = version

    def append(self, event_type: str, **data: Any) -> None:
        """Write one transition. ``data`` must be JSON (the ``Event`` checks it)."""
        if self.version == 0:
            from ..store import NO_STREAM  # imported here: a saga without a store needs no store

            expected: Any = NO_STREAM
        else:
            expected = self.version
        self.version = self.store.append(self.stream, Event(event_type, data), expected)


@dataclass
class LogState:
    """A saga's log, folded: everything ``resume`` needs to know."""

    saga: str = ""
    steps: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (step, phase, error)
    done: list[str] = field(default_factory=list)  # completed steps, in order
    compensating: bool = False  # a step failed for good: undoing the done ones
    settled: set[str] = field(default_factory=set)  # compensated, or given up on
    retried: Counter = field(default_factory=Counter)  # (phase, step) -> failed attempts
    last_attempt: Counter = field(default_factory=Counter)  # (phase, step) -> last attempt no.
    status: str | None = None  # set once SagaFinished is read
    version: int = 0


def read_log(events: Iterable[RecordedEvent]) -> LogState:
    """Fold a saga's log events, oldest first, into a :class:`LogState`."""
    state = LogState()
    for event in events:
        data = event.data
        kind = event.type
        state.version = event.version
        if kind == "SagaStarted":
            state.saga = data["saga"]
            state.steps = list(data["steps"])
            state.context = thaw(data["context"])
            continue
        if kind == "SagaFinished":
            state.status = data["status"]
            state.context = thaw(data["context"])
            continue
        if kind not in HISTORY_OUTCOME and kind not in ("StepStarted", "CompensationStarted"):
            raise InvalidValue(f"not a saga log event: {kind!r} (version {event.version})")
        step = data["step"]
        phase = (
            "compensation"
            if kind.startswith("Compensation") or kind == "StepCompensated"
            else "action"
        )
        state.last_attempt[phase, step] = max(state.last_attempt[phase, step], data["attempt"])
        if kind in HISTORY_OUTCOME:
            state.history.append((step, HISTORY_OUTCOME[kind]))
        if kind in ("StepRetried", "CompensationRetried"):
            state.retried[phase, step] += 1
        elif kind == "StepDone":
            state.done.append(step)
            state.context = thaw(data["context"])
        elif kind == "StepFailed":
            state.compensating = True
            state.errors.append((step, "action", data["error"]))
        elif kind == "StepCompensated":
            state.settled.add(step)
            state.context = thaw(data["context"])
        elif kind == "CompensationFailed":
            state.settled.add(step)
            state.errors.append((step, "compensation", data["error"]))
    return state
