"""Fault injection: make chosen saga steps fail, on purpose, to watch the saga cope.

Testing only the happy path of a saga tests the part that needs no saga. :func:`inject_faults`
takes a list of steps and returns a copy whose actions or compensations misbehave::

    inject_faults(steps, fail="charge_payment")           # the step fails every attempt
    inject_faults(steps, fail={"reserve_inventory": 1})   # fails once, then works (a blip)
    inject_faults(steps, fail=3)                          # steps count from 1: the 3rd step
    inject_faults(steps, fail_compensation="create_order")
    inject_faults(steps, crash_at="charge_payment")       # the process "dies" in that step
    crash_on_write(store, 5)                              # ... or at the saga log's 5th write

A step is named by its name or its position (1 = the first step). In a mapping, the value is
how many attempts fail before one succeeds (``None``: every attempt fails).

A *crash* is not a failure: a failure is an exception the saga catches and handles; a crash
is the process vanishing. ``crash_at`` runs the real action (its work happens!) and then, by
default, raises :class:`SimulatedCrash`, a ``BaseException`` the saga does not catch, so the
saga stops exactly where a dying process would: ``StepStarted`` written, ``StepDone`` not.
That is safe in a notebook. With ``hard_crash=True`` the process sends itself ``SIGKILL``
instead (``kill -9``: no ``finally``, no flush, no goodbye), for tests that run the saga in a
child process.

:func:`crash_on_write` crashes at a chosen write to the saga log instead: just before it (the
transition is lost) or just after it (written, but nothing after it is). Crashing at every
write in turn, and resuming each time, is how the tests check that no moment is unsafe.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import InjectedFault, InvalidType, InvalidValue, SimulatedCrash
from .steps import SagaContext, Step

if TYPE_CHECKING:
    from ..events import Event
    from ..store import EventStore

__all__ = [
    "inject_faults",
    "crash_on_write",
    "CrashingStore",
    "die",
    "InjectedFault",
    "SimulatedCrash",
    "CRASH_EXIT_CODE",
]

#: The exit status of a hard crash where ``SIGKILL`` does not exist (Windows); on POSIX the
#: process is killed by the signal (``returncode == -9``).
CRASH_EXIT_CODE = 137


def die(reason: str, *, hard: bool) -> NoReturn:
    """Stop here as a dying process would: ``SimulatedCrash``, or (``hard``) a real ``kill -9``."""
    if hard:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        os._exit(CRASH_EXIT_CODE)  # pragma: no cover - only where SIGKILL does not exist
    raise SimulatedCrash(reason)


StepRef = int | str
FaultSpec = StepRef | Mapping[StepRef, "int | None"] | None


def inject_faults(
    steps: Sequence[Step],
    *,
    fail: FaultSpec = None,
    fail_compensation: FaultSpec = None,
    crash_at: StepRef | None = None,
    hard_crash: bool = False,
) -> list[Step]:
    """A copy of ``steps`` with failures (and at most one crash) injected.

    ``fail`` / ``fail_compensation``: a step (name or 1-based position), or a mapping
    ``{step: failing_attempts}`` where ``None`` means every attempt fails. The counts are kept
    per returned list, so build a fresh list for each saga run.
    """
    steps = list(steps)
    fails = _resolve(steps, fail, "fail")
    comp_fails = _resolve(steps, fail_compensation, "fail_compensation")
    crash = _resolve(steps, crash_at, "crash_at") if crash_at is not None else {}
    for name in comp_fails:
        if _by_name(steps)[name].compensation is None:
            raise InvalidValue(f"fail_compensation: step {name!r} has no compensation to fail")
    result = []
    for step in steps:
        changes: dict[str, Any] = {}
        action = step.action
        if step.name in crash:
            action = _crashing(action, hard_crash)
        if step.name in fails:
            action = _failing(action, step.name, "action", fails[step.name])
        if action is not step.action:
            changes["action"] = action
        if step.name in comp_fails:
            changes["compensation"] = _failing(
                step.compensation, step.name, "compensation", comp_fails[step.name]
            )
        result.append(dataclasses.replace(step, **changes) if changes else step)
    return result


def _by_name(steps: Sequence[Step]) -> dict[str, Step]:
    return {step.name: step for step in steps}


def _resolve(steps: Sequence[Step], spec: FaultSpec, what: str) -> dict[str, int | None]:
    """Turn a fault spec into ``{step name: failing attempts (None = all)}``."""
    if spec is None:
        return {}
    items = spec.items() if isinstance(spec, Mapping) else [(spec, None)]
    names = [step.name for step in steps]
    resolved: dict[str, int | None] = {}
    for ref, times in items:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise InvalidType(f"{what}: name a step by name or 1-based position, got {ref!r}")
        if isinstance(ref, int):
            if not 1 <= ref <= len(steps):
                raise InvalidValue(
                    f"{what}: there is no step {ref} (steps count from 1 to {len(steps)})"
                )
            ref = names[ref - 1]
        elif ref not in names:
            raise InvalidValue(f"{what}: no step named {ref!r}; the steps are {names}")
        if times is not None and (type(times) is not int or times < 0):
            raise InvalidValue(f"{what}: failing attempts for {ref!r} must be an int >= 0 or None")
        resolved[ref] = times
    return resolved


def _failing(function: Any, step: str, phase: str, times: int | None) -> Any:
    calls = 0

    def failing(ctx: SagaContext) -> Any:
        nonlocal calls
        calls += 1
        if times is None or calls <= times:
            raise InjectedFault(f"injected failure in the {phase} of {step!r} (call {calls})")
        return function(ctx)

    failing.__qualname__ = getattr(function, "__qualname__", step)
    return failing


def _crashing(function: Any, hard: bool) -> Any:
    def crashing(ctx: SagaContext) -> Any:
        function(ctx)  # the work happens, then the process dies before the saga writes it down
        die(f"the process crashed during step {ctx.step!r}", hard=hard)

    crashing.__qualname__ = getattr(function, "__qualname__", "crashing")
    return crashing


class CrashingStore:
    """An event store that "dies" at its ``at``-th append (counting from 1).

    Everything else is passed through to ``store``. ``when="before"``: the process dies
    before the append reaches the store (the transition is lost); ``"after"``: the append is
    stored, then the process dies (nothing after it is). ``appends`` counts the calls so far.
    """

    def __init__(
        self, store: EventStore, at: int, *, when: str = "after", hard_crash: bool = False
    ) -> None:
        if type(at) is not int or at < 1:
            raise InvalidValue(
                f"crash_on_write: at must be an int >= 1 (writes count from 1), got {at!r}"
            )
        if when not in ("before", "after"):
            raise InvalidValue(f"crash_on_write: when must be 'before' or 'after', got {when!r}")
        self.store = store
        self.at = at
        self.when = when
        self.hard_crash = hard_crash
        self.appends = 0

    def append(
        self, stream_id: str, events: Event | Sequence[Event], expected_version: Any = None
    ) -> int:
        from ..store import ANY

        self.appends += 1
        doomed = self.appends == self.at
        if doomed and self.when == "before":
            die(
                f"the process crashed before write {self.at} (to {stream_id!r})",
                hard=self.hard_crash,
            )
        version = self.store.append(
            stream_id, events, ANY if expected_version is None else expected_version
        )
        if doomed:
            die(
                f"the process crashed after write {self.at} (to {stream_id!r})",
                hard=self.hard_crash,
            )
        return version

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def __repr__(self) -> str:
        return f"<CrashingStore: dies {self.when} write {self.at} ({self.appends} so far)>"


def crash_on_write(
    store: EventStore, at: int, *, when: str = "after", hard_crash: bool = False
) -> EventStore:
    """``store``, wrapped to crash at its ``at``-th append (see :class:`CrashingStore`)."""
    return CrashingStore(store, at, when=when, hard_crash=hard_crash)
