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
    result.status     # "completed" | "compensated" | "failed" | "unfinished"
    result.history    # [("create_order", "done"), ("reserve_inventory", "done"), ...]

The rules, all in :meth:`Saga.run`:

1. Actions run in order. Each gets the **context**: a dict of JSON values shared by the steps.
   An action may add keys, in either of two ways: change the dict it is given, or return a
   dict to merge into it (or both). Changes count only if the attempt succeeds: every attempt
   works on its own copy, so a half-done attempt leaves nothing behind in the context.
2. An action that raises is tried again, ``retries`` more times (default 0), waiting as its
   ``backoff`` says between tries.
3. An attempt can end three ways: it **succeeded**; it **failed** (it raised: nothing
   happened); or its outcome is **unknown** (it timed out, raised
   :class:`~eda_kit.errors.OutcomeUnknown`, or the process died during it). An unknown
   attempt may have done its work: the charge may have gone through.
4. When a step still fails, the saga turns back: the steps that **completed** are
   compensated, **newest first**, and so is the failed step itself if any of its attempts had
   an unknown outcome. Steps without a compensation are skipped. So compensations must be
   safe when their action never happened (``ctx.maybe_done`` tells them it may not have).
5. Past the **pivot** (see :mod:`eda_kit.saga.steps`) the saga never turns back: a failing
   retriable step is retried forward; when its retries run out the run stops
   ``"unfinished"`` and a later :meth:`resume` (or the :class:`~eda_kit.saga.RecoveryWorker`)
   tries again. A pivot whose outcome is still unknown after its retries, and which has no
   compensation, stops ``"unfinished"`` too: asking again with the same key is the only way
   to learn what happened.
6. A compensation that raises is retried ``compensation_retries`` more times (default 2: an
   undo that gives up leaves the world inconsistent, so it deserves more than one try). If it
   still fails, the remaining compensations run anyway and the saga ends ``"failed"``, with the
   error in ``result.errors``: a human has to look at it.

With a ``store``, each transition is appended to the stream ``saga-<saga_id>`` (see
:mod:`eda_kit.saga.log`), so :meth:`Saga.resume` can finish the job in a fresh process after
a crash, and the run holds a **lease** on the saga (:mod:`eda_kit.saga.lease`): one worker at
a time, a clear :class:`~eda_kit.errors.SagaBusy` for the others, takeover once a dead
worker's lease expires. Resuming re-runs a step that had started but was never recorded as
done, so actions must be safe to run twice: give each external call an **idempotency key**
(``ctx.idempotency_key``, see :mod:`eda_kit.messaging.idempotency`).

A step may have a ``timeout`` (seconds). The action then runs in a worker thread and an
attempt that overruns has an unknown outcome (``StepTimeout``). Python cannot stop a thread,
so the overrunning action may **still be running** in the background; its changes to the
context are thrown away, but its side effects (a payment it makes late) are real. The step's
idempotency key is what stops that late payment from landing as a second one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from ..causation import call_with_cause, joining
from ..clock import new_id
from ..errors import (
    InvalidType,
    InvalidValue,
    LeaseLost,
    OutcomeUnknown,
    SagaBusy,
    SagaNotFound,
    StepTimeout,
    describe_error,
)
from ..payloads import freeze_json, thaw
from ..trace import Tracer
from .lease import DEFAULT_LEASE_TTL, SYSTEM_CLOCK, Clock, Heartbeat, default_owner
from .log import HISTORY_OUTCOME, LogState, SagaLog, read_log, stream_for
from .steps import COMPENSATABLE, KINDS, PIVOT, RETRIABLE, Action, SagaContext, Step, check_seconds

if TYPE_CHECKING:
    from ..store import EventStore
    from .recovery import UnfinishedSaga

__all__ = ["Saga", "Step", "SagaResult", "SagaContext", "FailedStep", "StepTimeout", "STATUSES"]

#: How a saga run can end. "unfinished": stopped past the pivot, to be resumed later.
STATUSES = ("completed", "compensated", "failed", "unfinished")

#: The log events of each phase: attempt started, attempt interrupted by a crash, attempt
#: failed (another follows), succeeded, failed for good.
_PHASE_EVENTS = {
    "action": ("StepStarted", "StepInterrupted", "StepRetried", "StepDone", "StepFailed"),
    "compensation": (
        "CompensationStarted",
        "CompensationInterrupted",
        "CompensationRetried",
        "StepCompensated",
        "CompensationFailed",
    ),
}

# How _attempt_until_settled ends for an action.
_DONE, _FAILED, _POSTPONED = "done", "failed", "postponed"

#: How often ``resume(..., wait=...)`` looks at the log again while someone holds the lease.
WAIT_POLL = 0.05


class FailedStep(NamedTuple):
    """An error that ended something: a step that failed for good, or a compensation."""

    step: str
    phase: str  # "action" or "compensation"
    error: str  # "ErrorType: message"


@dataclass(frozen=True)
class SagaResult:
    """How a saga run ended.

    - ``status``: ``"completed"``, ``"compensated"``, ``"failed"`` (a compensation gave up:
      a human must look) or ``"unfinished"`` (past the pivot, a step keeps failing: resume
      later).
    - ``history``: ``(step, outcome)`` pairs in order; outcomes are ``"done"``, ``"retried"``
      (an attempt failed and another follows), ``"interrupted"`` (the process died during an
      attempt), ``"failed"``, ``"compensated"``, ``"compensation_retried"``,
      ``"compensation_interrupted"`` and ``"compensation_failed"``.
    - ``context``: the context at the end (after the compensations, if any ran).
    - ``errors``: :class:`FailedStep` for the step that failed for good (or, when unfinished,
      the one that keeps failing) and for every compensation that gave up.
    - ``steps``: all step names, in order, including those that never ran.
    - ``unknown``: steps whose outcome was unknown at some point and never confirmed done.
    """

    saga_id: str
    name: str
    status: str
    history: list[tuple[str, str]]
    context: dict[str, Any]
    errors: list[FailedStep] = field(default_factory=list)
    steps: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    def attempts(self, step: str) -> int:
        """How many times the action of ``step`` ran to an outcome (retries + 1, or 0)."""
        return sum(
            1
            for name, outcome in self.history
            if name == step and outcome in ("retried", "interrupted", "done", "failed")
        )

    @property
    def compensated(self) -> list[str]:
        """The steps that were undone, in the order their compensations ran."""
        return [name for name, outcome in self.history if outcome == "compensated"]

    def __repr__(self) -> str:
        return f"SagaResult({self.saga_id!r}, status={self.status!r}, history={self.history!r})"


class _Lease:
    """This run's hold on the saga: renewed by a heartbeat, released or finished at the end."""

    def __init__(self, log: SagaLog, owner: str, ttl: float, clock: Clock) -> None:
        self.log = log
        self.owner = owner
        self.token = new_id()
        self.ttl = ttl
        self.clock = clock
        self.expires_at = 0.0
        self._heartbeat: Heartbeat | None = None

    def fields(self) -> dict[str, Any]:
        """A fresh hold, as written in ``SagaStarted`` or ``LeaseTaken``."""
        at = self.clock.now()
        self.expires_at = at + self.ttl
        return {"owner": self.owner, "lease": self.token, "at": at, "expires_at": self.expires_at}

    def due(self) -> bool:
        return self.clock.now() >= self.expires_at - self.ttl * 2 / 3

    def renew(self) -> None:
        at = self.clock.now()
        expires_at = at + self.ttl
        self.log.append(
            "LeaseRenewed", owner=self.owner, lease=self.token, at=at, expires_at=expires_at
        )
        self.expires_at = expires_at

    def ensure(self) -> None:
        """Before an attempt: stop if the heartbeat lost the lease; renew if it runs short."""
        if self._heartbeat is not None and self._heartbeat.lost is not None:
            raise self._heartbeat.lost
        if self.clock.now() >= self.expires_at - self.ttl / 3:
            self.renew()

    def start(self) -> None:
        self._heartbeat = Heartbeat(self.ttl, self.due, self.renew).start()

    def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()

    def release(self) -> None:
        self.stop()
        self.log.append("LeaseReleased", owner=self.owner, lease=self.token, at=self.clock.now())


class _Run:
    """The state of one saga run in progress (also rebuilt by resume from the log)."""

    def __init__(self, saga_id: str, context: dict[str, Any], log: SagaLog | None) -> None:
        self.saga_id = saga_id
        self.context = context
        self.log = log
        self.lease: _Lease | None = None
        self.history: list[tuple[str, str]] = []
        self.errors: list[FailedStep] = []
        self.done: list[str] = []
        self.settled: set[str] = set()
        self.unknown: set[str] = set()
        self.failed_step: str | None = None
        self.resumed: LogState | None = None  # the log this run continues, if any

    def write(self, event_type: str, **data: Any) -> None:
        if self.log is not None:
            self.log.append(event_type, **data)


class Saga:
    """An orchestrated saga: runs its steps in order and compensates when one fails.

    - ``store`` (optional): where the saga log lives; without one nothing is persisted and
      :meth:`resume` is not available.
    - ``tracer``: records each transition with ``source`` = the saga's name, ``event`` = the
      step's name, ``target`` = the step's service.
    - ``owner``: this worker's name in leases (default ``<host>:<pid>``).
    - ``lease_ttl``: seconds a lease lasts without renewal (default 30; the heartbeat renews
      it every third of that while the saga runs). ``None`` turns leases off: only for a
      saga that one process alone will ever run or resume.
    - ``clock``: where lease times and backoff waits come from (default the system clock;
      :class:`~eda_kit.saga.lease.ManualClock` in tests and notebooks).
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        *,
        store: EventStore | None = None,
        tracer: Tracer | None = None,
        owner: str | None = None,
        lease_ttl: float | None = DEFAULT_LEASE_TTL,
        clock: Clock = SYSTEM_CLOCK,
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
        _check_kinds(name, steps)
        if owner is not None and (not isinstance(owner, str) or not owner.strip()):
            raise InvalidValue(f"owner must be a non-empty str (a worker's name), got {owner!r}")
        self.name = name
        self.steps: tuple[Step, ...] = tuple(steps)
        self.store = store
        self.owner = owner if owner is not None else default_owner()
        self.lease_ttl = None if lease_ttl is None else check_seconds(lease_ttl, "lease_ttl")
        self.clock = clock
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
        With a store, a ``saga_id`` that already has a log is refused: use :meth:`resume`
        (or, while another worker runs it, you get :class:`~eda_kit.errors.SagaBusy`).
        """
        if context is None:
            context = {}
        if not isinstance(context, Mapping):
            raise InvalidType(f"the saga context must be a dict, not {type(context).__name__}")
        start = thaw(freeze_json(dict(context), "context"))
        saga_id = new_id() if saga_id is None else saga_id
        if not isinstance(saga_id, str) or not saga_id:
            raise InvalidValue(f"saga_id must be a non-empty str, got {saga_id!r}")
        run = _Run(saga_id, start, None)
        if self.store is not None:
            if self.store.stream_version(stream_for(saga_id)) > 0:
                self._refuse_second_run(saga_id)
            run.log = SagaLog(self.store, saga_id)
            lease = {}
            if self.lease_ttl is not None:
                run.lease = _Lease(run.log, self.owner, self.lease_ttl, self.clock)
                lease = run.lease.fields()
            steps = [s.name for s in self.steps]
            try:
                run.write("SagaStarted", saga=self.name, steps=steps, context=start, **lease)
            except LeaseLost:  # another run of the same saga_id wrote first
                self._refuse_second_run(saga_id)
        return self._drive(run, lambda: self._forward(run, first_step=0))

    def resume(self, saga_id: str, *, wait: float | None = None) -> SagaResult:
        """Continue the saga ``saga_id`` from its log (after a crash, in any process).

        Steps recorded as done are not run again; a step that started but was not recorded as
        done runs again (and counts as *maybe done*); compensation picks up where it stopped.
        A saga that already finished returns its result and runs nothing.

        If another worker holds the saga's lease, :class:`~eda_kit.errors.SagaBusy` is raised
        at once and nothing runs; with ``wait=seconds`` the call waits up to that long for the
        lease to be released or to expire (a dead owner's lease does), then takes over.
        """
        if self.store is None:
            raise InvalidValue(
                f"saga {self.name!r} has no store, so nothing was logged and there is nothing "
                "to resume: create it with Saga(..., store=store)"
            )
        patience = 0.0 if wait is None else check_seconds(wait, "wait", allow_zero=True)
        give_up_at = self.clock.now() + patience
        stream = stream_for(saga_id)
        while True:
            events = self.store.read_stream(stream)
            if not events:
                raise SagaNotFound(f"no saga log for {saga_id!r} (stream {stream!r})")
            state = read_log(events)
            self._check_same_saga(saga_id, state)
            if state.status is not None:
                return self._result(self._rebuild(saga_id, state, None), state.status)
            now = self.clock.now()
            if state.lease_held(now) and state.lease is not None:
                assert state.owner is not None and state.expires_at is not None
                if now >= give_up_at:
                    raise SagaBusy(saga_id, state.owner, state.expires_at)
                self.clock.sleep(min(WAIT_POLL, give_up_at - now, state.expires_at - now))
                continue
            log = SagaLog(self.store, saga_id, state.version)
            run = self._rebuild(saga_id, state, log)
            if self.lease_ttl is None:
                break
            run.lease = _Lease(log, self.owner, self.lease_ttl, self.clock)
            previous = state.owner  # a lease that expired: its owner is presumed dead
            try:
                run.write("LeaseTaken", previous=previous, **run.lease.fields())
                break
            except LeaseLost:  # someone else wrote first: look again
                continue
        return self._drive(run, lambda: self._carry_on(run, state))

    @classmethod
    def unfinished(cls, store: EventStore, *, clock: Clock = SYSTEM_CLOCK) -> list[UnfinishedSaga]:
        """The sagas in ``store`` that never finished: who holds each, how old, where it is.

        See :func:`eda_kit.saga.recovery.find_unfinished`; a
        :class:`~eda_kit.saga.RecoveryWorker` resumes the ones whose lease is free.
        """
        from .recovery import find_unfinished

        return find_unfinished(store, clock=clock)

    # -- the run, step by step -----------------------------------------------------------------

    def _drive(self, run: _Run, body: Callable[[], SagaResult]) -> SagaResult:
        """Run ``body`` under the run's lease: heartbeat on while it works, off at the end."""
        if run.lease is None:
            return body()
        run.lease.start()
        try:
            return body()
        finally:  # a crash or a lost lease: stop renewing (a dead worker renews nothing)
            run.lease.stop()

    def _carry_on(self, run: _Run, state: LogState) -> SagaResult:
        if state.open_attempt is not None:  # the last worker died in the middle of this
            phase, name, attempt = state.open_attempt
            interrupted = _PHASE_EVENTS[phase][1]
            run.write(interrupted, step=name, attempt=attempt)
            run.history.append((name, HISTORY_OUTCOME[interrupted]))
            self._trace(self._by_name[name], HISTORY_OUTCOME[interrupted], attempt)
            if phase == "action":
                run.unknown.add(name)
        if state.compensating:
            return self._compensate(run)
        return self._forward(run, first_step=len(state.done))

    def _forward(self, run: _Run, first_step: int) -> SagaResult:
        for step in self.steps[first_step:]:
            outcome = self._attempt_until_settled(run, step, "action")
            if outcome == _POSTPONED:
                return self._stop_unfinished(run)
            if outcome == _FAILED:
                return self._compensate(run)
        return self._finish(run, "completed")

    def _compensate(self, run: _Run) -> SagaResult:
        newest_first = list(reversed(run.done))
        if run.failed_step in run.unknown:  # it may have happened: undo it too, first
            newest_first.insert(0, run.failed_step)
        for name in newest_first:
            step = self._by_name[name]
            if step.compensation is None or name in run.settled:
                continue
            self._attempt_until_settled(run, step, "compensation")
            run.settled.add(name)
        gave_up = any(error.phase == "compensation" for error in run.errors)
        return self._finish(run, "failed" if gave_up else "compensated")

    def _attempt_until_settled(self, run: _Run, step: Step, phase: str) -> str:
        """Try ``step``'s action (or compensation) until it succeeds or runs out of retries."""
        action = phase == "action"
        function = step.action if action else step.compensation
        assert function is not None  # only steps with a compensation are compensated
        retries = step.retries if action else step.compensation_retries
        attempt = 1
        if run.resumed is not None:  # resuming: carry on counting from the log
            attempt = run.resumed.last_attempt[phase, step.name] + 1
            if not action or step.kind == COMPENSATABLE:  # a pivot / retriable: a fresh budget
                retries -= run.resumed.retried[phase, step.name]
        started, _interrupted, retried, succeeded, failed = _PHASE_EVENTS[phase]
        retry = 0
        while True:
            if run.lease is not None:
                run.lease.ensure()
            run.write(started, step=step.name, attempt=attempt)
            if action:
                self._trace(step, "started", attempt)
            try:
                run.context = self._call(run, step, function, phase, attempt)
            except Exception as error:
                text = describe_error(error)
                unknown = {"unknown": True} if isinstance(error, OutcomeUnknown) else {}
                if action and unknown:
                    run.unknown.add(step.name)
                if retries > 0:
                    retries -= 1
                    retry += 1
                    run.write(retried, step=step.name, attempt=attempt, error=text, **unknown)
                    self._record(run, step, HISTORY_OUTCOME[retried], attempt, text)
                    attempt += 1
                    self.clock.sleep(step.delay_before(retry))
                    continue
                if action and self._only_forward(step, last_unknown=bool(unknown)):
                    run.write(retried, step=step.name, attempt=attempt, error=text, **unknown)
                    self._record(run, step, HISTORY_OUTCOME[retried], attempt, text)
                    run.errors.append(FailedStep(step.name, phase, text))
                    return _POSTPONED
                run.write(failed, step=step.name, attempt=attempt, error=text, **unknown)
                self._record(run, step, HISTORY_OUTCOME[failed], attempt, text)
                run.errors.append(FailedStep(step.name, phase, text))
                if action:
                    run.failed_step = step.name
                return _FAILED
            run.write(succeeded, step=step.name, attempt=attempt, context=run.context)
            self._record(run, step, HISTORY_OUTCOME[succeeded], attempt)
            if action:
                run.done.append(step.name)
                run.unknown.discard(step.name)
            return _DONE

    def _only_forward(self, step: Step, *, last_unknown: bool) -> bool:
        """Out of retries: may the saga still turn back, or must it try again later?"""
        if step.kind == RETRIABLE:
            return True  # past the pivot: never undone
        # A pivot that cannot be undone, whose last attempt left it unknown: turning back could
        # leave it done with everything before it undone. Ask again later (same key). If the
        # last attempt got a clear "no", that answer stands: turn back.
        return step.kind == PIVOT and step.compensation is None and last_unknown

    def _call(
        self, run: _Run, step: Step, function: Action, phase: str, attempt: int
    ) -> dict[str, Any]:
        """One attempt: call ``function`` on a private copy of the context; return the new one."""
        maybe_done = phase == "compensation" and step.name in run.unknown
        ctx = SagaContext(thaw(run.context), run.saga_id, step.name, attempt, phase, maybe_done)
        timeout = step.timeout if phase == "action" else step.compensation_timeout
        # events the step creates are caused by it, recorded by its service (eda_kit.causation),
        # in whatever thread runs it
        actor = step.service or self.name
        cause = joining(ctx.idempotency_key, conversation=run.saga_id, actor=actor)
        call = partial(call_with_cause, cause, function)
        if timeout is None:
            returned = call(ctx)
        else:
            returned = _call_with_deadline(call, ctx, timeout, phase)
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
        if run.lease is not None:
            run.lease.stop()  # no renewal may land after the end
        run.write("SagaFinished", status=status, context=run.context)
        return self._result(run, status)

    def _stop_unfinished(self, run: _Run) -> SagaResult:
        if run.lease is not None:
            run.lease.release()
        return self._result(run, "unfinished")

    def _result(self, run: _Run, status: str) -> SagaResult:
        return SagaResult(
            saga_id=run.saga_id,
            name=self.name,
            status=status,
            history=list(run.history),
            context=run.context,
            errors=list(run.errors),
            steps=tuple(s.name for s in self.steps),
            unknown=tuple(s.name for s in self.steps if s.name in run.unknown),
        )

    # -- resuming -----------------------------------------------------------------------------

    def _check_same_saga(self, saga_id: str, state: LogState) -> None:
        expected = [s.name for s in self.steps]
        if state.saga != self.name or state.steps != expected:
            raise InvalidValue(
                f"the log of {saga_id!r} was written by saga {state.saga!r} with steps "
                f"{state.steps}; this is saga {self.name!r} with steps {expected}"
            )

    def _rebuild(self, saga_id: str, state: LogState, log: SagaLog | None) -> _Run:
        run = _Run(saga_id, state.context, log)
        run.history = list(state.history)
        run.errors = [FailedStep(*error) for error in state.errors]
        run.done = list(state.done)
        run.settled = set(state.settled)
        run.unknown = set(state.unknown)
        run.failed_step = state.failed_step
        run.resumed = state
        return run

    def _refuse_second_run(self, saga_id: str) -> None:
        assert self.store is not None
        state = read_log(self.store.read_stream(stream_for(saga_id)))
        if state.lease_held(self.clock.now()) and state.owner is not None:
            assert state.expires_at is not None
            raise SagaBusy(saga_id, state.owner, state.expires_at)
        raise InvalidValue(
            f"saga {saga_id!r} already has a log in the store: "
            f"call resume({saga_id!r}) to continue it, or pick a new saga_id"
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


def _check_kinds(name: str, steps: Sequence[Step]) -> None:
    """Compensatable steps first, then at most one pivot, then retriable steps."""
    pivots = [step.name for step in steps if step.kind == PIVOT]
    if len(pivots) > 1:
        raise InvalidValue(f"saga {name!r} may have one pivot step, got {len(pivots)}: {pivots}")
    ranks = [KINDS.index(step.kind) for step in steps]
    if ranks != sorted(ranks):
        kinds = ", ".join(f"{step.name} ({step.kind})" for step in steps)
        raise InvalidValue(
            f"saga {name!r}: steps must go compensatable first, then the pivot, then retriable "
            f"ones (what cannot be undone goes last); got {kinds}"
        )


def _call_with_deadline(function: Action, ctx: SagaContext, timeout: float, phase: str) -> Any:
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

    worker = threading.Thread(target=work, name=f"saga-{phase}-{ctx.step}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        what = "step" if phase == "action" else "compensation of step"
        raise StepTimeout(
            f"{what} {ctx.step!r} took longer than {timeout:g} s (it may still be running)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
