"""A crash switch: make a process "die" at a named point, on purpose.

"What if the process dies right *here*?" is the question every reliable-messaging design has
to answer, for every *here*. Components of this package name their dangerous points (the
relay: ``before_publish``, ``after_publish``, ``after_checkpoint``; the inbox:
``before_handler``, ``after_handler``, ``after_commit``) and ask their switch at each one::

    switch = CrashSwitch("after_publish")      # die after publishing, before saving position
    switch.reached("before_publish")           # not armed for this point: nothing happens
    switch.reached("after_publish")            # raises SimulatedCrash

By default a crash raises :class:`~eda_kit.errors.SimulatedCrash`, a ``BaseException`` that
``except Exception`` does not catch, so the code stops exactly where a dying process would
and a notebook's kernel survives. ``hard=True`` is the real thing: the process sends itself
``SIGKILL`` (``kill -9``: no ``finally``, no flush, no goodbye). The tests use it in child
processes.

``skip=n`` lets the point pass ``n`` times before the crash (die on the third event, not the
first). A switch fires once; after that it is spent, like the process it killed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

from ..errors import InvalidType, InvalidValue, SimulatedCrash

__all__ = ["CrashSwitch"]


class CrashSwitch:
    """Crash at point ``at`` (after letting it pass ``skip`` times); ``None``: never crash."""

    def __init__(self, at: str | None = None, *, skip: int = 0, hard: bool = False) -> None:
        if at is not None and (not isinstance(at, str) or not at):
            raise InvalidValue(f"a crash point is a non-empty name, not {at!r}")
        if type(skip) is not int or skip < 0:
            raise InvalidValue(f"skip must be an int >= 0, not {skip!r}")
        if not isinstance(hard, bool):
            raise InvalidType(f"hard must be True or False, not {hard!r}")
        self.at = at
        self.skip = skip
        self.hard = hard
        self.fired = False
        self._passes = 0

    def check_points(self, points: Iterable[str], owner: str) -> None:
        """Refuse a switch armed for a point ``owner`` does not have (a typo would never fire)."""
        known = tuple(points)
        if self.at is not None and self.at not in known:
            raise InvalidValue(
                f"{owner} has no crash point {self.at!r}; its points are {', '.join(known)}"
            )

    def reached(self, point: str) -> None:
        """Called by a component at ``point``: crash here if armed for it."""
        if self.at != point or self.fired:
            return
        if self._passes < self.skip:
            self._passes += 1
            return
        self.fired = True
        if self.hard:  # pragma: no cover - the process is gone; the tests see it from outside
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
            os._exit(137)
        raise SimulatedCrash(f"the process crashed at {point!r}")

    def __repr__(self) -> str:
        if self.at is None:
            return "CrashSwitch(off)"
        state = "fired" if self.fired else "armed"
        return f"CrashSwitch({self.at!r}, {state})"
