"""Recovery: find the sagas that never finished, and finish them.

A worker that dies mid-saga leaves a log with no ``SagaFinished`` and a lease nobody renews.
Somebody has to notice. :func:`find_unfinished` (also ``Saga.unfinished(store)``) lists every
such saga with who holds it, how old it is and where it stopped::

    for s in Saga.unfinished(store):
        print(s.saga_id, s.state, s.owner, f"{s.age:.0f} s", s.last_step)
    # order-A7  abandoned  worker-3  95 s  charge_payment    <- lease expired: owner died
    # order-A9  running    worker-1  2 s   reserve_inventory <- lease held: leave it alone
    # order-B2  waiting    -         40 s  confirm_order     <- stopped unfinished on purpose

A :class:`RecoveryWorker` resumes the ones nobody holds (``abandoned`` and ``waiting``), under
its own lease, so it never races a live worker: if one comes back to life, one of the two gets
``SagaBusy`` or ``LeaseLost`` and stops before writing anything. Production systems do the same
with more machinery: Temporal's workflow workers keep history in the server and any worker can
pick a workflow up; hand-written saga tables keep ``owner`` and ``locked_until`` columns and a
sweeper query finds the stale rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import EdaKitError, InvalidType, InvalidValue, SagaBusy, describe_error
from .lease import SYSTEM_CLOCK, Clock
from .log import LogState, read_log, saga_id_of
from .steps import check_seconds

if TYPE_CHECKING:
    from ..store import EventStore
    from .orchestrator import Saga, SagaResult

__all__ = ["UnfinishedSaga", "find_unfinished", "RecoveryWorker", "Recovered"]


@dataclass(frozen=True)
class UnfinishedSaga:
    """A saga with a log but no ``SagaFinished``.

    - ``state``: ``"running"`` (someone holds a live lease), ``"abandoned"`` (the lease
      expired: its owner stopped renewing, presumably dead) or ``"waiting"`` (no lease: the
      last run stopped unfinished on purpose, or the log predates leases).
    - ``owner`` and ``expires_at``: the lease holder, if any.
    - ``age``: seconds since the saga started, on the saga's clock (``None`` if unknown).
    - ``last_step``: the step the log last mentions; ``last_event`` the log's last event type.
    - ``compensating``: whether it was already turning back.
    """

    saga_id: str
    name: str
    state: str
    owner: str | None
    expires_at: float | None
    age: float | None
    last_step: str | None
    last_event: str
    compensating: bool
    version: int


def describe(saga_id: str, log: LogState, now: float) -> UnfinishedSaga:
    """One unfinished saga's row, from its folded log."""
    if log.lease_held(now):
        state = "running"
    elif log.expires_at is not None:
        state = "abandoned"
    else:
        state = "waiting"
    return UnfinishedSaga(
        saga_id=saga_id,
        name=log.saga,
        state=state,
        owner=log.owner,
        expires_at=log.expires_at,
        age=None if log.started_at is None else max(0.0, now - log.started_at),
        last_step=log.last_step,
        last_event=log.last_event,
        compensating=log.compensating,
        version=log.version,
    )


def find_unfinished(store: EventStore, *, clock: Clock = SYSTEM_CLOCK) -> list[UnfinishedSaga]:
    """Every saga log in ``store`` without a ``SagaFinished``, oldest first (then by id).

    A finished saga costs one read of its last event; an unfinished one a read of its log.
    Streams named ``saga-...`` that do not start with ``SagaStarted`` are not saga logs: skipped.
    """
    now = clock.now()
    found = []
    for stream in store.streams():
        saga_id = saga_id_of(stream)
        if saga_id is None:
            continue
        version = store.stream_version(stream)
        last = store.read_stream(stream, from_version=version)
        if not last or last[0].type == "SagaFinished":
            continue
        events = store.read_stream(stream)
        if events[0].type != "SagaStarted":  # named like a saga log, but none of ours
            continue
        found.append(describe(saga_id, read_log(events), now))
    return sorted(found, key=lambda s: (-(s.age or 0.0), s.saga_id))


@dataclass(frozen=True)
class Recovered:
    """What a recovery pass did with one saga: its new status, or why it was left alone."""

    saga_id: str
    outcome: str  # a SagaResult status, "busy" (someone else holds it), "unknown saga", "error"
    result: SagaResult | None = None
    detail: str = ""


class RecoveryWorker:
    """Resumes sagas that nobody is running: the ones whose owner died, or that stopped
    unfinished. Give it the sagas it knows how to run (by name), built with its own ``owner``::

        worker = RecoveryWorker([Saga("place-order", steps, store=store, owner="recovery-1")])
        worker.run_once()          # one pass: [Recovered("order-A7", "completed"), ...]
        worker.start(every=5.0)    # or keep sweeping in a background thread; worker.stop()

    A saga whose lease is live is left alone (``running``); if two recovery workers race for
    the same saga, the lease decides and the loser reports ``busy``.
    """

    def __init__(self, sagas: Iterable[Saga]) -> None:
        from .orchestrator import Saga

        self.sagas: dict[str, Saga] = {}
        for saga in sagas:
            if not isinstance(saga, Saga):
                raise InvalidType(f"RecoveryWorker takes Saga objects, got {saga!r}")
            if saga.store is None:
                raise InvalidValue(f"saga {saga.name!r} has no store: there is nothing to recover")
            self.sagas[saga.name] = saga
        if not self.sagas:
            raise InvalidValue("RecoveryWorker needs at least one Saga to run")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def run_once(self) -> list[Recovered]:
        """One sweep: resume every unfinished saga nobody holds; report what happened."""
        report = []
        stores = {id(s.store): s for s in self.sagas.values()}  # each store swept once
        for saga in stores.values():
            assert saga.store is not None
            for found in find_unfinished(saga.store, clock=saga.clock):
                if found.state == "running":
                    continue
                known = self.sagas.get(found.name)
                if known is None or known.store is not saga.store:
                    report.append(Recovered(found.saga_id, "unknown saga"))
                    continue
                try:
                    result = known.resume(found.saga_id)
                except SagaBusy:  # taken since we looked (or a live worker came back)
                    report.append(Recovered(found.saga_id, "busy"))
                    continue
                except EdaKitError as error:  # e.g. the store is locked: next pass retries
                    report.append(Recovered(found.saga_id, "error", detail=describe_error(error)))
                    continue
                report.append(Recovered(found.saga_id, result.status, result))
        self.passes += 1
        return report

    def start(self, every: float = 5.0) -> RecoveryWorker:
        """Sweep every ``every`` seconds in a daemon thread until :meth:`stop`."""
        interval = check_seconds(every, "every")
        if self._thread is not None:
            from ..errors import AlreadyRunning

            raise AlreadyRunning("this RecoveryWorker is already sweeping: stop() it first")
        self._stop.clear()

        def sweep() -> None:
            while not self._stop.is_set():
                self.run_once()
                self._stop.wait(interval)

        self._thread = threading.Thread(target=sweep, name="saga-recovery", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sweeping (waits for the current pass to end)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
