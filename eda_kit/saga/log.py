"""The saga log: what a saga writes down, so that it can pick up where it left off.

A saga with a store appends one event per transition to its own stream, ``saga-<saga_id>``::

    v1  SagaStarted          {saga, steps, context, owner, lease, at, expires_at}
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

    and, when something went wrong on the way:
    ... StepRetried / StepFailed  {..., unknown: true}    <- timed out: it may have happened
    ... StepInterrupted      {step, attempt}              <- the process died in this attempt
    ... CompensationInterrupted {step, attempt}
    ... LeaseTaken           {owner, lease, at, expires_at, previous}   (resume, takeover)
    ... LeaseRenewed         {owner, lease, at, expires_at}             (the heartbeat)
    ... LeaseReleased        {owner, lease, at}           <- stopped unfinished, on purpose

The log is the saga's memory. :func:`read_log` folds it back into a :class:`LogState` (which
steps are done, which may have happened, which were compensated, the latest context, who holds
the lease, whether the saga finished), and ``Saga.resume`` continues from there. A
``StepStarted`` with no outcome after it is the footprint of a crash in the middle of a step:
nobody knows whether the step's work happened. Resuming writes ``StepInterrupted``, runs the
step again (that is why actions must be idempotent), and, if the step then fails for good,
compensates it too.

Each append passes the stream's exact current version as ``expected_version``. Together with
the lease (:mod:`eda_kit.saga.lease`) that makes one writer at a time: a worker whose lease
was taken over finds the version moved, writes nothing more, and stops with ``LeaseLost``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValue, LeaseLost, WrongExpectedVersion
from ..events import Event, RecordedEvent
from ..payloads import thaw

if TYPE_CHECKING:
    from ..store import EventStore

__all__ = [
    "SagaLog",
    "LogState",
    "read_log",
    "stream_for",
    "saga_id_of",
    "EVENT_TYPES",
    "HISTORY_OUTCOME",
    "STREAM_PREFIX",
]

STREAM_PREFIX = "saga-"

#: Every event type a saga writes, in the order they usually appear.
EVENT_TYPES = (
    "SagaStarted",
    "LeaseTaken",
    "LeaseRenewed",
    "StepStarted",
    "StepInterrupted",
    "StepRetried",
    "StepDone",
    "StepFailed",
    "CompensationStarted",
    "CompensationInterrupted",
    "CompensationRetried",
    "StepCompensated",
    "CompensationFailed",
    "LeaseReleased",
    "SagaFinished",
)

# Log event type -> the history outcome it stands for (started and lease events are not history).
HISTORY_OUTCOME = {
    "StepInterrupted": "interrupted",
    "StepRetried": "retried",
    "StepDone": "done",
    "StepFailed": "failed",
    "CompensationInterrupted": "compensation_interrupted",
    "CompensationRetried": "compensation_retried",
    "StepCompensated": "compensated",
    "CompensationFailed": "compensation_failed",
}

_LEASE_EVENTS = ("LeaseTaken", "LeaseRenewed", "LeaseReleased")
_STARTED = {"StepStarted": "action", "CompensationStarted": "compensation"}


def stream_for(saga_id: str) -> str:
    """The stream that holds a saga's log: ``saga-<saga_id>``."""
    return f"{STREAM_PREFIX}{saga_id}"


def saga_id_of(stream_id: str) -> str | None:
    """The saga id of a saga log stream, or ``None`` for any other stream."""
    return stream_id[len(STREAM_PREFIX) :] if stream_id.startswith(STREAM_PREFIX) else None


class SagaLog:
    """Appends one saga's transitions to its stream, checking the version every time.

    The owner's thread and its heartbeat share one log, so appends take a lock. When the
    version moved under us (someone took the lease over), the append raises
    :class:`~eda_kit.errors.LeaseLost` naming the new owner, and every later append does too.
    """

    def __init__(self, store: EventStore, saga_id: str, version: int = 0) -> None:
        self.store = store
        self.saga_id = saga_id
        self.stream = stream_for(saga_id)
        self.version = version
        self.lost: LeaseLost | None = None
        self._lock = threading.Lock()

    def append(self, event_type: str, **data: Any) -> None:
        """Write one transition. ``data`` must be JSON (the ``Event`` checks it)."""
        event = Event(event_type, data)
        with self._lock:
            if self.lost is not None:
                raise self.lost
            if self.version == 0:
                from ..store import NO_STREAM  # here: a saga without a store needs no store

                expected: Any = NO_STREAM
            else:
                expected = self.version
            try:
                self.version = self.store.append(self.stream, event, expected)
            except WrongExpectedVersion as moved:
                self.lost = self._lost(moved)
                raise self.lost from None

    def _lost(self, moved: WrongExpectedVersion) -> LeaseLost:
        state = read_log(self.store.read_stream(self.stream))
        owner = state.last_owner or "another worker"
        who = repr(owner) if state.last_owner else owner  # quote a name, not a description
        return LeaseLost(
            self.saga_id,
            owner,
            state.expires_at or 0.0,
            f"saga {self.saga_id!r}: the log moved from version {self.version} to "
            f"{moved.actual} under this worker ({who} took the saga over): this worker "
            "lost its lease and stopped without writing more",
        )


@dataclass
class LogState:
    """A saga's log, folded: everything ``resume`` (and ``Saga.unfinished``) needs to know."""

    saga: str = ""
    steps: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (step, phase, error)
    done: list[str] = field(default_factory=list)  # completed steps, in order
    compensating: bool = False  # a step failed for good: undoing the done ones
    failed_step: str | None = None  # the step that failed for good
    unknown: set[str] = field(default_factory=set)  # steps with an attempt of unknown outcome
    settled: set[str] = field(default_factory=set)  # compensated, or given up on
    retried: Counter = field(default_factory=Counter)  # (phase, step) -> failed attempts
    last_attempt: Counter = field(default_factory=Counter)  # (phase, step) -> last attempt no.
    open_attempt: tuple[str, str, int] | None = None  # (phase, step, attempt) with no outcome
    status: str | None = None  # set once SagaFinished is read
    version: int = 0
    # the lease: who holds it, until when (None when released or finished)
    owner: str | None = None
    last_owner: str | None = None  # who took the lease most recently (kept after release)
    lease: str | None = None
    expires_at: float | None = None
    started_at: float | None = None  # on the saga's clock (None in a log without leases)
    last_step: str | None = None  # the step of the latest step or compensation event
    last_event: str = ""

    def lease_held(self, now: float) -> bool:
        """Is the lease held by someone, and not yet expired, at time ``now``?"""
        return self.expires_at is not None and now < self.expires_at


def read_log(events: Iterable[RecordedEvent]) -> LogState:
    """Fold a saga's log events, oldest first, into a :class:`LogState`."""
    state = LogState()
    for event in events:
        data = event.data
        kind = event.type
        state.version = event.version
        state.last_event = kind
        if kind == "SagaStarted":
            state.saga = data["saga"]
            state.steps = list(data["steps"])
            state.context = thaw(data["context"])
            if "owner" in data:
                _take(state, data)
                state.started_at = data["at"]
            continue
        if kind == "SagaFinished":
            state.status = data["status"]
            state.context = thaw(data["context"])
            state.owner = state.lease = state.expires_at = None
            continue
        if kind in _LEASE_EVENTS:
            if kind == "LeaseReleased":
                state.owner = state.lease = state.expires_at = None
            else:
                _take(state, data)
            continue
        if kind not in HISTORY_OUTCOME and kind not in _STARTED:
            raise InvalidValue(f"not a saga log event: {kind!r} (version {event.version})")
        step = data["step"]
        state.last_step = step
        phase = (
            "compensation"
            if kind.startswith("Compensation") or kind == "StepCompensated"
            else "action"
        )
        attempt = data["attempt"]
        state.last_attempt[phase, step] = max(state.last_attempt[phase, step], attempt)
        if kind in _STARTED:
            state.open_attempt = (phase, step, attempt)
            continue
        state.open_attempt = None
        state.history.append((step, HISTORY_OUTCOME[kind]))
        if data.get("unknown") or kind == "StepInterrupted":
            state.unknown.add(step)
        if kind in ("StepRetried", "CompensationRetried"):
            state.retried[phase, step] += 1
        elif kind == "StepDone":
            state.done.append(step)
            state.unknown.discard(step)  # it did happen, and we know it
            state.context = thaw(data["context"])
        elif kind == "StepFailed":
            state.compensating = True
            state.failed_step = step
            state.errors.append((step, "action", data["error"]))
        elif kind == "StepCompensated":
            state.settled.add(step)
            state.context = thaw(data["context"])
        elif kind == "CompensationFailed":
            state.settled.add(step)
            state.errors.append((step, "compensation", data["error"]))
    return state


def _take(state: LogState, data: Any) -> None:
    state.owner = state.last_owner = data["owner"]
    state.lease = data["lease"]
    state.expires_at = data["expires_at"]
