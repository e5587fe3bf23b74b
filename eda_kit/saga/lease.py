"""Leases: one worker runs a saga at a time, and a dead worker's saga can be taken over.

"Resume it, in any process" has a catch: what if the first process is not dead, only slow?
Two workers would run the same steps. So running or resuming a saga first takes a **lease**
in its log: an event naming the owner and an expiry time::

    SagaStarted / LeaseTaken   {owner: "worker-1", lease: "<id>", at: t, expires_at: t + ttl}
    LeaseRenewed               {owner: "worker-1", lease: "<id>", at: t2, expires_at: t2 + ttl}
    LeaseReleased              {owner: "worker-1", lease: "<id>", at: t3}   (or SagaFinished)

- Another worker that finds a live lease gets :class:`~eda_kit.errors.SagaBusy` (naming the
  owner and the expiry) and runs nothing; or it waits, if asked to.
- While the owner runs a step, a **heartbeat** thread renews the lease, so a long step does
  not lose it.
- If the owner dies, nobody renews: the lease expires and another worker may take the saga
  over (``LeaseTaken`` with ``previous`` = the dead owner).
- Every log write checks the stream's exact version. If the owner was only *paused* (a long
  garbage collection, a laptop lid) and someone took over meanwhile, its next write fails and
  it stops with :class:`~eda_kit.errors.LeaseLost`: the version is the fencing token. What
  it may have been doing outside (a charge) is guarded by the step's idempotency key: a lease
  alone can never promise that a paused process does nothing, which is why both are needed.

Leases compare times across processes, so they use the wall clock (``time.time``); a
:class:`ManualClock` replaces it in tests and notebooks, where time should move only when told.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..errors import LeaseLost, StorageError

__all__ = [
    "Clock",
    "SystemClock",
    "ManualClock",
    "SYSTEM_CLOCK",
    "DEFAULT_LEASE_TTL",
    "default_owner",
    "Heartbeat",
]

#: How long a lease lasts without renewal, in seconds, unless the saga says otherwise.
DEFAULT_LEASE_TTL = 30.0


class Clock(Protocol):
    """What a saga needs from a clock: the time in seconds, and a way to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: ``time.time()`` and ``time.sleep()``."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told: ``advance(seconds)``, or a saga's own ``sleep``.

    ``sleep`` advances the clock instead of waiting, so backoffs and lease expiries happen at
    once and always the same way. It starts at 2026-01-05 09:00 UTC, like reproducible mode.
    """

    def __init__(self, start: float = 1767603600.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, float(seconds))

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now})"


def default_owner() -> str:
    """A worker name for this process: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """Renews a lease in the background while its owner works.

    Every ``ttl / 3`` seconds it wakes up and, if less than two thirds of the lease is left,
    calls ``renew()`` (which appends ``LeaseRenewed``). Quick sagas finish before the first
    renewal is due, so they pay only for starting the thread. If a renewal finds that the
    lease was lost, the heartbeat stops and remembers it; the owner's next write fails anyway.
    A store that is briefly locked does not stop it: it tries again on the next beat.
    """

    def __init__(self, ttl: float, due: Callable[[], bool], renew: Callable[[], None]) -> None:
        self._interval = ttl / 3
        self._due = due
        self._renew = renew
        self._stop = threading.Event()
        self.lost: LeaseLost | None = None
        self._thread = threading.Thread(target=self._beat, name="saga-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._due():
                continue
            try:
                self._renew()
            except LeaseLost as lost:
                self.lost = lost
                return
            except StorageError:  # locked or busy for a moment: the next beat tries again
                continue
