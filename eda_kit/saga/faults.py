"""Fault injection: make chosen saga steps fail, on purpose, to watch the saga cope.

Testing only the happy path of a saga tests the part that needs no saga. :func:`inject_faults`
takes a list of steps and returns a copy whose actions or compensations misbehave::

    inject_faults(steps, fail="charge_payment")           # the step fails every attempt
    inject_faults(steps, fail={"reserve_inventory": 1})   # fails once, then works (a blip)
    inject_faults(steps, fail=3)                          # steps count from 1: the 3rd step
    inject_faults(steps, fail_compensation="create_order")
    inject_faults(steps, crash_at="charge_payment")       # the process "dies" in that step

A step is named by its name or its position (1 = the first step). In a mapping, the value is
how many attempts fail before one succeeds (``None``: every attempt fails).

A *crash* is not a failure: a failure is an exception the saga catches and handles; a crash
is the process vanishing. ``crash_at`` runs the real action (its work happens!) and then, by
default, raises :class:`SimulatedCrash`, a ``BaseException`` the saga does not catch, so the
saga stops exactly where a dying process would: ``StepStarted`` written, ``StepDone`` not.
That is safe in a notebook. With ``hard_crash=True`` it calls ``os._exit`` instead, a real
death with no cleanup at all (for tests that run the saga in a child process).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InjectedFault, InvalidType, InvalidValue, SimulatedCrash
from .steps import SagaContext, Step

__all__ = ["inject_faults", "InjectedFault", "SimulatedCrash", "CRASH_EXIT_CODE"]

#: The exit status of a process killed by ``inject_faults(..., hard_crash=True)``.
CRASH_EXIT_CODE = 70

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
        function(ctx)  # the work happens...
        if hard:  # ...and the process dies before the saga can write it down
            os._exit(CRASH_EXIT_CODE)
        raise SimulatedCrash(f"the process crashed during step {ctx.step!r}")

    crashing.__qualname__ = getattr(function, "__qualname__", "crashing")
    return crashing
