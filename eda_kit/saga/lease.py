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

import math
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
    "LeaseKeeper",
    "KEEPER",
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

    Every ``ttl / 3`` seconds it looks at the lease and, if less than two thirds of it is
    left, calls ``renew()`` (which appends ``LeaseRenewed``). Quick sagas finish before the
    first renewal is due, so they write no renewals. If a renewal finds that the lease was
    lost, the heartbeat stops and remembers it; the owner's next write fails anyway. A store
    that is briefly locked does not stop it: it tries again on the next beat.

    The beats come from one thread per process (:class:`LeaseKeeper`), shared by every lease
    the process holds, so starting and stopping a heartbeat costs a set insert, not a thread:
    a saga that holds a lease runs about as fast as one that does not (``benchmarks``, the
    saga section). :meth:`stop` returns only once no renewal of this lease is in flight, so
    nothing is renewed after it (``SagaFinished`` is then the log's last word).
    """

    def __init__(self, ttl: float, due: Callable[[], bool], renew: Callable[[], None]) -> None:
        self.interval = ttl / 3
        self._due = due
        self._renew = renew
        self._lock = threading.Lock()  # held during a renewal; stop() waits for it
        self._stopped = False
        self.lost: LeaseLost | None = None

    def start(self) -> Heartbeat:
        KEEPER.add(self)
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        KEEPER.remove(self)

    def beat(self) -> None:
        """One beat: renew the lease if it is due (called by the keeper's thread)."""
        with self._lock:
            if self._stopped or not self._due():
                return
            try:
                self._renew()
            except LeaseLost as lost:
                self.lost = lost
                self._stopped = True
            except StorageError:  # locked or busy for a moment: the next beat tries again
                return
        if self._stopped:
            KEEPER.remove(self)


class LeaseKeeper:
    """The one thread of a process that beats every running :class:`Heartbeat`.

    It sleeps until the next heartbeat is due (or, with none, until one is added), beats the
    ones that are due, and goes back to sleep. It starts with the first heartbeat and then
    stays (a daemon thread: it never keeps Python alive). A renewal that is slow (the store is
    locked) delays the others' beats by as much; each beat comes every third of a lease, so
    a lease survives two late beats. After ``fork`` the child starts with an empty keeper of
    its own (the parent's thread does not exist there).
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._wake = threading.Condition()
        self._next: dict[Heartbeat, float] = {}  # heartbeat -> when to beat it (monotonic)
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the keeper's thread wakes up next by itself

    def add(self, heartbeat: Heartbeat) -> None:
        with self._wake:
            due = time.monotonic() + heartbeat.interval
            self._next[heartbeat] = due
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
            if due < self._wakes_at:  # sooner than the keeper would look: wake it up now
                self._wakes_at = due  # (otherwise let it sleep: a quick saga costs no wake-up)
                self._wake.notify()

    def remove(self, heartbeat: Heartbeat) -> None:
        with self._wake:
            self._next.pop(heartbeat, None)

    def __len__(self) -> int:
        with self._wake:
            return len(self._next)

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                due = [beat for beat, at in self._next.items() if at <= now]
                for beat in due:
                    self._next[beat] = now + beat.interval
                if not due:
                    self._wakes_at = min(self._next.values(), default=math.inf)
                    self._wake.wait(None if self._wakes_at == math.inf else self._wakes_at - now)
                    self._wakes_at = -math.inf  # awake: the next add need not notify
                    continue
            for beat in due:  # outside the keeper's lock: a renewal writes to the store
                beat.beat()


#: The process's lease keeper.
KEEPER = LeaseKeeper()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=KEEPER._reset)
