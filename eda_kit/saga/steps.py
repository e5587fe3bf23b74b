"""Steps: what a saga does, how to undo it, and how hard to try.

A :class:`Step` names an action and (optionally) the compensation that undoes it, plus the
rules for trying: how many retries, how long to wait between them (:class:`Backoff`), how long
one attempt may take (``timeout``). It also says what *kind* of step it is, because not every
step can be undone (the step kinds of Chris Richardson's *Microservices Patterns*, ch. 4; the
saga itself is Garcia-Molina and Salem's, 1987):

===============  ==========================================================================
kind             meaning
===============  ==========================================================================
compensatable    can be undone by its compensation (cancel the order, release the stock).
                 A failure here or later turns the saga back. The default.
pivot            the point of no return (charge the card, ship the parcel). If it succeeds
                 the saga only goes forward; if it fails, the steps before it are undone.
retriable        comes after the pivot and is never undone: it is retried until it works
                 (confirm the order, send the receipt). A failure here retries *forward*.
===============  ==========================================================================

In a saga the kinds come in that order: compensatable steps, at most one pivot, then
retriable steps. That is also the answer to "which steps go first?": the steps most likely to
fail go early (while everything is still cheap to undo), what cannot be undone goes last.

Compensations must be **safe when the action did not happen**. A step whose outcome is
unknown (it timed out, or the process died during it) is compensated too, so a refund must
cope with a charge that never went through (and stop a late one from landing: see the
idempotency key).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidType, InvalidValue

__all__ = [
    "Step",
    "Backoff",
    "SagaContext",
    "KINDS",
    "COMPENSATABLE",
    "PIVOT",
    "RETRIABLE",
    "MAX_TIMEOUT",
    "check_seconds",
]

COMPENSATABLE: Final = "compensatable"
PIVOT: Final = "pivot"
RETRIABLE: Final = "retriable"
#: The kinds of step, in the order they may appear in a saga.
KINDS: Final = (COMPENSATABLE, PIVOT, RETRIABLE)

#: The longest timeout or backoff delay a step accepts, in seconds (one day). A saga step that
#: may legitimately take longer is not one call: split it, or make it a saga of its own.
MAX_TIMEOUT: Final = 24 * 60 * 60.0

Action = Callable[["SagaContext"], "Mapping[str, Any] | None"]


def check_seconds(value: Any, what: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float number of seconds, or a clear error: no bools, NaN, infinity,
    negatives (or zero, unless ``allow_zero``), or more than :data:`MAX_TIMEOUT`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise InvalidValue(f"{what} must be a finite number of seconds, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        limit = ">= 0" if allow_zero else "> 0"
        raise InvalidValue(f"{what} must be {limit} seconds, got {value!r}")
    if seconds > MAX_TIMEOUT:
        raise InvalidValue(
            f"{what} must be at most {MAX_TIMEOUT:.0f} seconds (one day), got {value!r}"
        )
    return seconds


@dataclass(frozen=True)
class Backoff:
    """How long to wait before each retry: fixed, or growing exponentially up to a cap.

    ``delay(n)`` is the wait before retry ``n`` (1 = the first retry)::

        Backoff.fixed(0.5)                            # 0.5, 0.5, 0.5, ...
        Backoff.exponential(0.1, factor=2, cap=1.0)   # 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, ...

    ``jitter`` (0 to 1) takes up to that fraction off each delay at random, so that many
    sagas failing together do not all retry at the same instant (in reproducible mode the
    random draws are seeded, so runs repeat).
    """

    initial: float
    factor: float = 1.0
    cap: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "initial", check_seconds(self.initial, "backoff initial delay", allow_zero=True)
        )
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)):
            raise InvalidType(f"backoff factor must be a number >= 1, got {self.factor!r}")
        if not (math.isfinite(self.factor) and 1 <= self.factor <= 100):
            raise InvalidValue(f"backoff factor must be between 1 and 100, got {self.factor!r}")
        if self.cap is not None:
            cap = check_seconds(self.cap, "backoff cap", allow_zero=True)
            if cap < self.initial:
                raise InvalidValue(
                    f"backoff cap ({cap}) must not be below the initial delay ({self.initial})"
                )
            object.__setattr__(self, "cap", cap)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float)):
            raise InvalidType(f"backoff jitter must be a number from 0 to 1, got {self.jitter!r}")
        if not 0 <= self.jitter <= 1:
            raise InvalidValue(f"backoff jitter must be from 0 to 1, got {self.jitter!r}")

    @classmethod
    def fixed(cls, delay: float) -> Backoff:
        """The same wait before every retry."""
        return cls(delay)

    @classmethod
    def exponential(
        cls, initial: float, *, factor: float = 2.0, cap: float = 30.0, jitter: float = 0.0
    ) -> Backoff:
        """``initial``, then ``factor`` times longer each retry, never more than ``cap``."""
        return cls(initial, factor, cap, jitter)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        if type(retry) is not int or retry < 1:
            raise InvalidValue(f"retry must be an int >= 1, got {retry!r}")
        limit = MAX_TIMEOUT if self.cap is None else self.cap
        # factor ** (retry - 1) grows without bound; stop multiplying once past the limit
        seconds = self.initial
        for _ in range(retry - 1):
            if seconds >= limit:
                break
            seconds *= self.factor
        seconds = min(seconds, limit)
        if self.jitter:
            seconds *= 1 - self.jitter * random.random()
        return seconds


@dataclass(frozen=True)
class Step:
    """One step of a saga: an action, and (optionally) the compensation that undoes it.

    - ``action(ctx)`` and ``compensation(ctx)`` get a :class:`SagaContext`; they may change it
      or return a dict to merge into it. An action raises when it failed (nothing happened),
      or :class:`~eda_kit.errors.OutcomeUnknown` when it cannot tell.
    - ``retries``: how many more times to try a failing action (default 0).
    - ``compensation_retries``: the same for the compensation (default 2).
    - ``timeout``: seconds an action attempt may take; an attempt that overruns has an
      *unknown* outcome (default: no limit). ``compensation_timeout``: the same for each
      compensation attempt. Both: finite, > 0, at most :data:`MAX_TIMEOUT`.
    - ``service``: who does the work, shown as the target in traces (default: the step name).
    - ``kind``: ``"compensatable"`` (default), ``"pivot"`` or ``"retriable"`` (see the module).
    - ``backoff``: a :class:`Backoff` between retries of the action and of the compensation
      (default: retry at once).
    """

    name: str
    action: Action
    compensation: Action | None = None
    retries: int = 0
    compensation_retries: int = 2
    timeout: float | None = None
    service: str | None = None
    kind: str = COMPENSATABLE
    backoff: Backoff | None = None
    compensation_timeout: float | None = None

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
        for what in ("timeout", "compensation_timeout"):
            value = getattr(self, what)
            if value is not None:
                object.__setattr__(self, what, check_seconds(value, f"step {self.name!r}: {what}"))
        if self.kind not in KINDS:
            raise InvalidValue(
                f"step {self.name!r}: kind must be one of {list(KINDS)}, got {self.kind!r}"
            )
        if self.kind == RETRIABLE and self.compensation is not None:
            raise InvalidValue(
                f"step {self.name!r}: a retriable step comes after the pivot and is never "
                "undone, so it takes no compensation (make it compensatable instead)"
            )
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise InvalidType(
                f"step {self.name!r}: backoff must be a Backoff (Backoff.fixed(0.5), "
                f"Backoff.exponential(0.1, cap=5)) or None, got {self.backoff!r}"
            )

    @property
    def who(self) -> str:
        """The name traces use for the party doing this step."""
        return self.service or self.name

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry ``retry`` of this step (0 without a backoff)."""
        return 0.0 if self.backoff is None else self.backoff.delay(retry)


class SagaContext(dict):
    """The context dict an action or compensation receives, plus where it is running.

    It is an ordinary dict (read it, change it, return it) with read-only extras: ``saga_id``,
    ``step``, ``attempt`` (1 for the first try), ``phase`` (``"action"`` or
    ``"compensation"``), ``maybe_done`` (in a compensation: True when the action's outcome is
    unknown, so it may never have happened) and ``idempotency_key``, the same text for every
    attempt of this step of this saga, including attempts after a resume and by another worker.
    """

    __slots__ = ("saga_id", "step", "attempt", "phase", "maybe_done")

    def __init__(
        self,
        values: Mapping[str, Any],
        saga_id: str,
        step: str,
        attempt: int,
        phase: str = "action",
        maybe_done: bool = False,
    ) -> None:
        super().__init__(values)
        self.saga_id = saga_id
        self.step = step
        self.attempt = attempt
        self.phase = phase
        self.maybe_done = maybe_done

    @property
    def idempotency_key(self) -> str:
        """``<saga_id>/<step>`` for an action, ``<saga_id>/<step>/compensation`` for an undo."""
        key = self.action_key
        return key if self.phase == "action" else f"{key}/compensation"

    @property
    def action_key(self) -> str:
        """The action's key, also in a compensation: what a refund names to undo a charge."""
        from ..messaging.idempotency import idempotency_key

        return idempotency_key(self.saga_id, self.step)
