"""Sagas: a long piece of work across services, undone step by step when it fails.

There is no transaction that spans an order service, an inventory service and a payment
provider. A saga replaces it with a list of steps, each with a *compensation* that undoes it::

    saga = Saga("place-order", [
        Step("create_order",      action=create_order, compensation=cancel_order),
        Step("reserve_inventory", action=reserve,      compensation=release, retries=2),
        Step("charge_payment",    action=charge,       compensation=refund),
        Step("confirm_order",     action=confirm),
    ], store=store)
    result = saga.run({"order_id": "A1"}, saga_id="order-A1")
    result.status     # "completed" | "compensated" | "failed"
    result.history    # [("create_order", "done"), ("reserve_inventory", "done"), ...]

The rules, all in :meth:`Saga.run`:

1. Actions run in order. Each gets the **context**: a dict of JSON values shared by the steps.
   An action may add keys, in either of two ways: change the dict it is given, or return a
   dict to merge into it (or both). Changes count only if the attempt succeeds: every attempt
   works on its own copy, so a half-done attempt leaves nothing behind.
2. An action that raises is tried again, ``retries`` more times (default 0).
3. When a step still fails, the steps that **completed** are compensated, **newest first**.
   Steps without a compensation are skipped; the failed step itself is not compensated (it
   did not complete: making it clean up after itself is the action's own job).
4. A compensation that raises is retried ``compensation_retries`` more times (default 2: an
   undo that gives up leaves the world inconsistent, so it deserves more than one try). If it
   still fails, the remaining compensations run anyway and the saga ends ``"failed"``, with the
   error in ``result.errors``: a human has to look at it.

With a ``store``, each transition is appended to the stream ``saga-<saga_id>`` (see
:mod:`eda_kit.saga.log`), so :meth:`Saga.resume` can finish the job in a fresh process after
a crash. Resuming re-runs a step that had started but was never recorded as done, so actions
must be safe to run twice: give each external call an **idempotency key**
(``ctx.idempotency_key``, see :mod:`eda_kit.messaging.idempotency`).

A step may have a ``timeout`` (seconds). The action then runs in a worker thread and an
attempt that overruns counts as failed (``StepTimeout``). Python cannot stop a thread, so the
overrunning action may **still be running** in the background; its changes to the context are
thrown away, but its side effects (a payment it makes late) are real: one more reason for
idempotency keys.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..clock import new_id
from ..errors import InvalidType, InvalidValue, SagaNotFound, StepTimeout, describe_error
from ..payloads import freeze_json, thaw
from ..trace import Tracer
from .log import HISTORY_OUTCOME, LogState, SagaLog, read_log, stream_for

if TYPE_CHECKING:
    from ..store import EventStore

__all__ = ["Saga", "Step", "SagaResult", "SagaContext", "FailedStep", "StepTimeout", "STATUSES"]

#: How a saga can end.
STATUSES = ("completed", "compensated", "failed")

Action = Callable[["SagaContext"], "Mapping[str, Any] | None"]

#: The log events of each phase: attempt started, attempt failed (another follows),
#: succeeded, failed for good.
_PHASE_EVENTS = {
    "action": ("StepStarted", "StepRetried", "StepDone", "StepFailed"),
    "compensation": (
        "CompensationStarted",
        "CompensationRetried",
        "StepCompensated",
        "CompensationFailed",
    ),
}


class FailedStep(NamedTuple):
    """An error that ended something: a step that failed for good, or a compensation."""

    step: str
    phase: str  # "action" or "compensation"
    error: str  # "ErrorType: message"


class SagaContext(dict):
    """The context dict an action or compensation receives, plus where it is running.

    It is an ordinary dict (read it, change it, return it) with four read-only extras:
    ``saga_id``, ``step``, ``attempt`` (1 for the first try) and ``idempotency_key``, the same
    text for every attempt of this step of this saga, including attempts after a resume.
    """

    __slots__ = ("saga_id", "step", "attempt", "phase")

    def __init__(
        self,
        values: Mapping[str, Any],
        saga_id: str,
        step: str,
        attempt: int,
        phase: str = "action",
    ) -> None:
        super().__init__(values)
        self.saga_id = saga_id
        self.step = step
        self.attempt = attempt
        self.phase = phase

    @property
    def idempotency_key(self) -> str:
        """``<saga_id>/<step>`` for an action, ``<saga_id>/<step>/compensation`` for an undo."""
        from ..messaging.idempotency import idempotency_key

        key = idempotency_key(self.saga_id, self.step)
        return key if self.phase == "action" else f"{key}/compensation"


@dataclass(frozen=True)
class Step:
    """One step of a saga: an action, and (optionally) the compensation that undoes it.

    - ``action(ctx)`` and ``compensation(ctx)`` get a :class:`SagaContext`; they may change it
      or return a dict to merge into it.
    - ``retries``: how many more times to try a failing action (default 0).
    - ``compensation_retries``: the same for the compensation (default 2).
    - ``timeout``: seconds an action attempt may take before it counts as failed (default: no
      limit). Compensations have no deadline: an undo is waited for.
    - ``service``: who does the work, shown as the target in traces (default: the step name).
    """

    name: str
    action: Action
    compensation: Action | None = None
    retries: int = 0
    compensation_retries: int = 2
    timeout: float | None = None
    service: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidValue(f"a step needs a non-empty name, got {self.name!r}")
        if not callable(self.action):
            raise InvalidType(f"step {self.name!r}: action must be callable, got {self.action!r}")
        if self.compensation is not None and not callable(self.compensation):
            raise InvalidType(
                f"step {self.name!r}: compensation must be callable or None, "
                f"got {self.compensation!r}"
            )
        for what in ("retries", "compensation_retries"):
            value = getattr(self, what)
            if type(value) is not int or value < 0:
                raise InvalidValue(f"step {self.name!r}: {what} must be an int >= 0, got {value!r}")
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and self.timeout > 0
        ):
            raise InvalidValue(
                f"step {self.name!r}: timeout must be a positive number of seconds or None, "
                f"got {self.timeout!r}"
            )

    @property
    def who(self) -> str:
        """The name traces use for the party doing this step."""
        return self.service or self.name


@dataclass(frozen=True)
class SagaResult:
    """How a saga ended.

    - ``status``: ``"completed"``, ``"compensated"`` or ``"failed"``.
    - ``history``: ``(step, outcome)`` pairs in order; outcomes are ``"done"``, ``"retried"``
      (an attempt failed and another followed), ``"failed"``, ``"compensated"``,
      ``"compensation_retried"`` and ``"compensation_failed"``.
    - ``context``: the context at the end (after the compensations, if any ran).
    - ``errors``: :class:`FailedStep` for the step that failed for good and for every
      compensation that gave up (retried attempts are in the history and the trace).
    - ``steps``: all step names, in order, including those that never ran.
    """

    saga_id: str
    name: str
    status: str
    history: list[tuple[str, str]]
    context: dict[str, Any]
    errors: list[FailedStep] = field(default_factory=list)
    steps: tuple[str, ...] = ()

    def attempts(self, step: str) -> int:
        """How many times the action of ``step`` ran to an outcome (retries + 1, or 0)."""
        return sum(
            1
            for name, outcome in self.history
            if name == step and outcome in ("retried", "done", "failed")
        )

    @property
    def compensated(self) -> list[str]:
        """The steps that were undone, in the order their compensations ran."""
        return [name for name, outcome in self.history if outcome == "compensated"]

    def __repr__(self) -> str:
        return f"SagaResult({self.saga_id!r}, status={self.status!r}, history={self.history!r})"


class _Run:
    """The state of one saga run in progress (also rebuilt by resume from the log)."""

    def __init__(self, saga_id: str, context: dict[str, Any], log: SagaLog | None) -> None:
        self.saga_id = saga_id
        self.context = context
        self.log = log
        self.history: list[tuple[str, str]] = []
        self.errors: list[FailedStep] = []
        self.done: list[str] = []
        self.settled: set[str] = set()

    def write(self, event_type: str, **data: Any) -> None:
        if self.log is not None:
            self.log.append(event_type, **data)


class Saga:
    """An orchestrated saga: runs its steps in order and compensates when one fails.

    ``store`` (optional) is where the saga log lives; without one nothing is persisted and
    :meth:`resume` is not available. ``tracer`` records each transition with ``source`` = the
    saga's name, ``event`` = the step's name, ``target`` = the step's service.
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        *,
        store: EventStore | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"a saga needs a non-empty name, got {name!r}")
        steps = list(steps)
        if not steps:
            raise InvalidValue(f"saga {name!r} needs at least one step")
        for step in steps:
            if not isinstance(step, Step):
                raise InvalidType(f"saga {name!r}: expected Step objects, got {step!r}")
        names = [step.name for step in steps]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidValue(f"saga {name!r}: step names must be unique, repeated: {duplicates}")
        self.name = name
        self.steps: tuple[Step, ...] = tuple(steps)
        self.store = store
        self._tracer = tracer
        self._by_name = {step.name: step for step in steps}

    def __repr__(self) -> str:
        return f"Saga({self.name!r}, steps={[s.name for s in self.steps]})"

    # -- running ------------------------------------------------------------------------------

    def run(
        self, context: Mapping[str, Any] | None = None, *, saga_id: str | None = None
    ) -> SagaResult:
        """Run the saga from the first step with ``context`` and return how it ended.

        ``saga_id`` names this run (and its log stream); a fresh id is made if not given.
        With a store, a ``saga_id`` that already has a log is refused: use :meth:`resume`.
        """
        if context is None:
            context = {}
        if not isinstance(context, Mapping):
            raise InvalidType(f"the saga context must be a dict, not {type(context).__name__}")
        start = thaw(freeze_json(dict(context), "context"))
        saga_id = new_id() if saga_id is None else saga_id
        if not isinstance(saga_id, str) or not saga_id:
            raise InvalidValue(f"saga_id must be a non-empty str, got {saga_id!r}")
        log = None
        if self.store is not None:
            if self.store.stream_version(stream_for(saga_id)) > 0:
                raise InvalidValue(
                    f"saga {saga_id!r} already has a log in the store: "
                    f"call resume({saga_id!r}) to continue it, or pick a new saga_id"
                )
            log = SagaLog(self.store, saga_id)
        run = _Run(saga_id, start, log)
        run.write("SagaStarted", saga=self.name, steps=[s.name for s in self.steps], context=start)
        return self._forward(run, first_step=0, state=None)

    def resume(self, saga_id: str) -> SagaResult:
        """Continue the saga ``saga_id`` from its log (after a crash, in any process).

        Steps recorded as done are not run again; a step that started but was not recorded as
        done runs again; compensation picks up where it stopped. A saga that already finished
        returns its result and runs nothing.
        """
        if self.store is None:
            raise InvalidValue(
                f"saga {self.name!r} has no store, so nothing was logged and there is nothing "
                "to resume: create it with Saga(..., store=store)"
            )
        events = self.store.read_stream(stream_for(saga_id))
        if not events:
            raise SagaNotFound(f"no saga log for {saga_id!r} (stream {stream_for(saga_id)!r})")
        state = read_log(events)
        expected = [s.name for s in self.steps]
        if state.saga != self.name or state.steps != expected:
            raise InvalidValue(
                f"the log of {saga_id!r} was written by saga {state.saga!r} with steps "
                f"{state.steps}; this is saga {self.name!r} with steps {expected}"
            )
        run = _Run(saga_id, state.context, SagaLog(self.store, saga_id, state.version))
        run.history = list(state.history)
        run.errors = [FailedStep(*error) for error in state.errors]
        run.done = list(state.done)
        run.settled = set(state.settled)
        if state.status is not None:
            return self._result(run, state.status)
        if state.compensating:
            return self._compensate(run, state)
        return self._forward(run, first_step=len(state.done), state=state)

    def _forward(self, run: _Run, first_step: int, state: LogState | None) -> SagaResult:
        for step in self.steps[first_step:]:
            if not self._attempt_until_settled(run, step, "action", state):
                return self._compensate(run, state)
        return self._finish(run, "completed")

    def _compensate(self, run: _Run, state: LogState | None) -> SagaResult:
        for name in reversed(run.done):
            step = self._by_name[name]
            if step.compensation is None or name in run.settled:
                continue
            self._attempt_until_settled(run, step, "compensation", state)
            run.settled.add(name)
        gave_up = any(error.phase == "compensation" for error in run.errors)
        return self._finish(run, "failed" if gave_up else "compensated")

    def _attempt_until_settled(
        self, run: _Run, step: Step, phase: str, state: LogState | None
    ) -> bool:
        """Try ``step``'s action (or compensation) until it succeeds or runs out of retries."""
        action = phase == "action"
        function = step.action if action else step.compensation
        assert function is not None  # only steps with a compensation are compensated
        retries = step.retries if action else step.compensation_retries
        attempt = 1
        if state is not None:  # resuming: carry on counting from the log
            retries -= state.retried[phase, step.name]
            attempt = state.last_attempt[phase, step.name] + 1
        started, retried, succeeded, failed = _PHASE_EVENTS[phase]
        while True:
            run.write(started, step=step.name, attempt=attempt)
            if action:
                self._trace(step, "started", attempt)
            try:
                run.context = self._call(run, step, function, phase, attempt)
            except Exception as error:
                text = describe_error(error)
                if retries > 0:
                    retries -= 1
                    run.write(retried, step=step.name, attempt=attempt, error=text)
                    self._record(run, step, HISTORY_OUTCOME[retried], attempt, text)
                    attempt += 1
                    continue
                run.write(failed, step=step.name, attempt=attempt, error=text)
                self._record(run, step, HISTORY_OUTCOME[failed], attempt, text)
                run.errors.append(FailedStep(step.name, phase, text))
                return False
            run.write(succeeded, step=step.name, attempt=attempt, context=run.context)
            self._record(run, step, HISTORY_OUTCOME[succeeded], attempt)
            if action:
                run.done.append(step.name)
            return True

    def _call(
        self, run: _Run, step: Step, function: Action, phase: str, attempt: int
    ) -> dict[str, Any]:
        """One attempt: call ``function`` on a private copy of the context; return the new one."""
        ctx = SagaContext(thaw(run.context), run.saga_id, step.name, attempt, phase)
        if step.timeout is None or phase == "compensation":
            returned = function(ctx)
        else:
            returned = _call_with_deadline(function, ctx, step)
        if returned is not None:
            if not isinstance(returned, Mapping):
                raise InvalidType(
                    f"{phase} of step {step.name!r} returned {type(returned).__name__}: "
                    "return None or a dict of keys to add to the context"
                )
            ctx.update(returned)
        try:
            return thaw(freeze_json(dict(ctx), "context"))
        except TypeError as error:
            raise InvalidType(
                f"{phase} of step {step.name!r} left a non-JSON value in the context: {error}"
            ) from None

    def _finish(self, run: _Run, status: str) -> SagaResult:
        run.write("SagaFinished", status=status, context=run.context)
        return self._result(run, status)

    def _result(self, run: _Run, status: str) -> SagaResult:
        return SagaResult(
            saga_id=run.saga_id,
            name=self.name,
            status=status,
            history=list(run.history),
            context=run.context,
            errors=list(run.errors),
            steps=tuple(s.name for s in self.steps),
        )

    # -- tracing ------------------------------------------------------------------------------

    def _record(self, run: _Run, step: Step, outcome: str, attempt: int, detail: str = "") -> None:
        run.history.append((step.name, outcome))
        self._trace(step, outcome, attempt, detail)

    def _trace(self, step: Step, outcome: str, attempt: int, detail: str = "") -> None:
        if self._tracer is not None:
            self._tracer.record(
                self.name, step.name, step.who, outcome=outcome, attempt=attempt, detail=detail
            )


def _call_with_deadline(function: Action, ctx: SagaContext, step: Step) -> Any:
    """Run ``function(ctx)`` in a worker thread; raise ``StepTimeout`` if it overruns.

    The worker is a daemon thread: if it never finishes it does not keep Python alive. It
    works on its own copy of the context, so a late finish changes nothing in the saga.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = function(ctx)
        except BaseException as error:  # handed to the saga's thread, which decides
            outcome["error"] = error

    worker = threading.Thread(target=work, name=f"saga-step-{step.name}", daemon=True)
    worker.start()
    worker.join(step.timeout)
    if worker.is_alive():
        raise StepTimeout(
            f"step {step.name!r} took longer than {step.timeout} s (it may still be running)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
