"""Subscriptions: follow the global log, first catching up, then live.

A read model (a projection, an email sender, a search index) needs every event exactly in
the order of the global log, including the ones stored before it started. That is a
*catch-up subscription*::

    sub = store.subscribe(update_dashboard, checkpoint="dashboard")
    # 1. catch-up: every stored event after the checkpoint goes to the handler, now, in order
    # 2. live:     each later append through this same store object is delivered soon after
    #              it is stored (after the append has committed), on the subscription's own
    #              delivery thread: the append does not wait for the handler
    sub.poll()     # appends by OTHER processes (or other store objects) arrive when you poll
    sub.start(0.5) # ... or let a background thread poll every 0.5 s; sub.stop() ends it
    sub.close()    # stop delivering

**Position and checkpoint.** ``sub.position`` is the position of the last event the handler
finished without raising. A checkpoint keeps that position beyond the process, in one of two
places:

- ``checkpoint="name"``: in the store (``store.load_checkpoint("name")``), so a restarted
  process that subscribes with the same name resumes after it instead of starting from 1. It
  is saved after each delivered batch (``batch_size`` events) and whenever a handler fails; if
  the process dies in between, the events after the last saved checkpoint are delivered again.
  So delivery is *at least once*: make the handler idempotent.
- ``checkpoint=read_model.checkpoint("name")`` (a ``TransactionalCheckpoint``, see
  ``store/base.py``): in the handler's own database, saved **in the same transaction** as the
  handler's change. The handler takes a second argument, the unit of work to write through::

      db = SQLiteReadModel(SCHEMA, "dashboard.db")
      def count(event, db):                       # runs inside the transaction
          db.execute("UPDATE totals SET n = n + 1")
      store.subscribe(count, checkpoint=db.checkpoint("dashboard"))

  A crash can't fall between the change and the position: both commit or neither does, so
  each event's change is made exactly once, however often the process dies and restarts.
  (Effects outside that database, such as an email, are still at least once.)

**Off the writer's path.** A live delivery runs on a thread of the subscription's own (one
per subscription, started with its first live event), never inside ``append``: a slow
read model does not slow the writers, and one slow subscriber does not hold up the others.
The price is a moment of lag even in one process: ``sub.wait_until(position)`` (or
``store.wait_for_subscribers()``) waits for the handler to get there. (KurrentDB and Kafka do
the same: each subscriber reads the log at its own pace, on its own connection.) A thread
with nothing to do ends after ``IDLE_SECONDS``; at the end of the program, deliveries still
owed get up to ``EXIT_WAIT_SECONDS`` to finish, so a script that appends and ends at once
still delivers (a ``kill -9`` does not wait, of course: that is what checkpoints are for).

**A handler that raises.** The failed event is not skipped: ``position`` and the checkpoint
stay on the event before it, ``sub.error`` holds the exception and ``sub.failed_event`` the
event, and the next delivery starts again with that same event. Where the error goes depends
on who asked for the delivery:

- ``store.subscribe(...)`` and ``sub.poll()`` were asked for by you: they raise the error.
  (If the catch-up in ``subscribe`` fails, no subscription is kept; fix the handler and
  subscribe again: the checkpoint brings you back to the failed event.)
- live deliveries after someone's ``append`` and the background thread were not: they never
  raise into the appender, they keep the error on ``sub.error`` and try again next time.

A handler may itself append to the store: the new events are delivered after the current one
finishes, never in the middle of it.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    AlreadyRunning,
    CheckpointConflict,
    InvalidType,
    InvalidValue,
    WaitTimeout,
    describe_error,
)
from ..events import RecordedEvent
from ..trace import Tracer, handler_name
from .base import TransactionalCheckpoint, check_name, check_positive_int, check_seconds

if TYPE_CHECKING:
    from .base import EventStore

__all__ = ["StoreSubscription", "Subscribable"]

#: How long a live delivery thread waits for new events before it ends (the next append
#: starts another): an idle subscription costs no thread.
IDLE_SECONDS = 2.0
#: How long the end of the program waits for live deliveries still owed (a script that appends
#: and ends at once still delivers; a handler stuck for good does not hold the exit forever).
EXIT_WAIT_SECONDS = 10.0

#: ``handler(event)``, or ``handler(event, unit)`` with a ``TransactionalCheckpoint``.
Handler = Callable[..., Any]


class StoreSubscription:
    """One handler following a store's global log. Made by ``store.subscribe(...)``."""

    def __init__(
        self,
        store: EventStore,
        handler: Handler,
        position: int,
        *,
        checkpoint: str | TransactionalCheckpoint | None,
        name: str,
        batch_size: int,
        tracer: Tracer | None,
    ) -> None:
        self._store = store
        self.handler = handler
        self.name = name
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self._position = position
        self._tracer = tracer
        #: The exception of the last failed delivery (``None`` once a delivery succeeds).
        self.error: Exception | None = None
        #: The event whose handling failed (``None`` once it is handled).
        self.failed_event: RecordedEvent | None = None
        #: How many events the handler has finished so far.
        self.delivered = 0
        self._lock = threading.Lock()  # one delivery at a time
        self._owner: int | None = None  # the thread delivering now
        self._again = False  # "new events arrived while you were busy"
        self._closed = False
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: Does the store deliver its appends to this subscription (``subscribe(live=True)``)?
        self.live = False
        self._wakeup = threading.Event()  # "the store has new events": set by every append
        self._deliverer: threading.Thread | None = None  # the live delivery thread
        self._delivering = False  # the delivery thread is between a wake-up and its delivery
        self._start_lock = threading.Lock()
        self._wakes = itertools.count(1)  # wake-ups so far (next() is atomic)
        self._last_wake = 0
        self._failed_at_wake = -1  # the wake-up during which the live delivery last failed
        self._progress = threading.Condition()  # notified whenever the position or error moves

    @property
    def position(self) -> int:
        """Position of the last event the handler finished (0 before the first)."""
        return self._position

    @property
    def closed(self) -> bool:
        return self._closed

    def lag(self) -> int:
        """How many stored events this subscription has not handled yet."""
        return self._store.last_position() - self._position

    # --- delivering ------------------------------------------------------------------

    def poll(self) -> int:
        """Deliver every event stored after ``position``; return how many were handled.

        Reads the store, so it also finds events appended by other processes. Raises the
        handler's error (after keeping the position on the event before it).
        """
        if self._closed:
            raise InvalidValue(f"subscription {self.name!r} is closed")
        if self._owner == threading.get_ident():
            return 0  # called from inside our own handler: the running delivery continues
        handled = 0
        while True:
            with self._lock:
                handled += self._deliver_locked(raise_errors=True)
            # An append that notified us while we held the lock left a note: look again.
            if not self._again or self._closed:
                return handled

    def _notify(self) -> None:
        """Deliver new events after an append (never raises: see the module docs)."""
        if self._closed:
            return
        while True:
            if not self._lock.acquire(blocking=False):
                self._again = True  # whoever is delivering will look again before leaving
                return
            try:
                self._deliver_locked(raise_errors=False)
            finally:
                self._lock.release()
            if not self._again or self._closed:
                return

    def _wake(self) -> None:
        """After an append: tell the delivery thread (started when needed), return at once."""
        if self._closed:
            return
        self._last_wake = next(self._wakes)
        self._wakeup.set()
        with self._start_lock:  # the same lock an idle thread takes to leave: no lost wake-up
            if self._deliverer is None and not self._closed:
                self._deliverer = threading.Thread(
                    target=self._deliver_live, name=f"eda_kit deliver {self.name}", daemon=True
                )
                _DELIVERING.add(self)
                self._deliverer.start()

    def _deliver_live(self) -> None:
        """The delivery thread: wait for a wake-up, deliver what is new; leave when idle."""
        while True:
            if not self._wakeup.wait(IDLE_SECONDS):
                with self._start_lock:
                    if not self._wakeup.is_set():  # idle: the next wake-up starts a new one
                        self._deliverer = None
                        return
            if self._closed:
                return
            self._delivering = True
            self._wakeup.clear()  # cleared before reading: a later append wakes us again
            try:
                if self.failed_event is not None and self._last_wake == self._failed_at_wake:
                    continue  # stuck on a failed event and nothing appended since: next time
                self._notify()
                if self.failed_event is not None:  # retry when something new is appended
                    self._failed_at_wake = self._last_wake
            except Exception as error:  # the store itself failed: keep it, try next time
                self.error = error
                if self._store_closed():
                    return
            finally:
                self._delivering = False
                self._moved()

    def _owes_deliveries(self) -> bool:
        """Has an append woken this subscription for events it has not finished yet?"""
        return not self._closed and (self._wakeup.is_set() or self._delivering)

    def _deliver_locked(self, *, raise_errors: bool) -> int:
        self._owner = threading.get_ident()
        handled = 0
        try:
            while True:
                self._again = False
                batch = self._store.read_all(self._position + 1, limit=self.batch_size)
                if not batch:
                    break
                try:
                    handled += self._deliver_batch(batch, raise_errors)
                finally:
                    self._moved()
                if self.error is not None or self._closed:
                    break
        finally:
            self._owner = None
            self._moved()
        return handled

    def _moved(self) -> None:
        """Wake whoever waits in ``wait_until``."""
        with self._progress:
            self._progress.notify_all()

    # --- waiting for deliveries -------------------------------------------------------

    def wait_until(self, position: int | None = None, timeout: float = 30.0) -> bool:
        """Block until the handler has finished every event up to ``position``.

        ``position`` defaults to the store's last position now (everything appended so far).
        Returns ``True`` when the subscription got there, ``False`` when it stopped at a
        failing event before it (``error`` and ``failed_event`` say which) or was closed.
        Raises ``WaitTimeout`` after ``timeout`` seconds. Appends by other processes reach a
        subscription only when it polls (``start(interval)``).

        Live deliveries run on the subscription's delivery thread, so code that wants to see
        their effect waits for them first: ``store.wait_for_subscribers()`` for all.
        """
        timeout = check_seconds(timeout, "timeout")
        if position is None:
            target = self._store.last_position()
        else:
            target = check_positive_int(position, "position", 0)
        if self._position >= target:
            return True
        if not self.live and self._thread is None:
            raise InvalidValue(
                f"subscription {self.name!r} is not live and not polling, so nothing will move "
                "it: call poll() (or start(interval) for a background poller)"
            )
        deadline = time.monotonic() + timeout
        with self._progress:
            while True:
                if self._position >= target:
                    return True
                if self._closed:
                    return False
                failed = self.failed_event
                if (
                    failed is not None
                    and failed.position <= target
                    and self._owner is None
                    and not self._delivering
                    and not self._wakeup.is_set()  # no retry on its way
                ):
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(
                        f"subscription {self.name!r} is at position {self._position}, not "
                        f"{target}, after {timeout} s (a slow handler? events appended by "
                        "another process arrive only when it polls: start(interval))"
                    )
                self._progress.wait(remaining)

    def _deliver_batch(self, batch: Sequence[RecordedEvent], raise_errors: bool) -> int:
        handled = 0
        tracer = self._tracer
        checkpoint = self.checkpoint
        transactional = checkpoint is not None and not isinstance(checkpoint, str)
        for event in batch:
            if self._closed:
                break
            if event.position <= self._position:
                continue  # applied by another subscriber with the same checkpoint
            try:
                if transactional:
                    self._deliver_in_transaction(event)
                else:
                    self.handler(event)
            except CheckpointConflict:
                # Another subscriber with this checkpoint applied the event (our change was
                # rolled back with the transaction): continue from where it got to.
                self._position = checkpoint.load()  # type: ignore[union-attr]
                continue
            except Exception as error:
                self.error = error
                self.failed_event = event
                if tracer is not None:
                    tracer.record(
                        event.stream_id,
                        event.type,
                        self.name,
                        "failed",
                        detail=describe_error(error),
                        event_id=event.id,
                    )
                self._save_checkpoint()
                if raise_errors:
                    raise
                return handled
            self._position = event.position
            self.delivered += 1
            handled += 1
            if tracer is not None:
                tracer.record(
                    event.stream_id, event.type, self.name, "delivered", event_id=event.id
                )
        self.error = None
        self.failed_event = None
        self._save_checkpoint()
        return handled

    def _deliver_in_transaction(self, event: RecordedEvent) -> None:
        """Check, apply, save: the handler's change and the position in one transaction."""
        checkpoint: TransactionalCheckpoint = self.checkpoint  # type: ignore[assignment]
        with checkpoint.transaction() as unit:
            saved = checkpoint.saved(unit)
            if saved != self._position:
                raise CheckpointConflict(checkpoint.name, self._position, saved)
            self.handler(event, unit)
            checkpoint.save(unit, event.position)

    def _save_checkpoint(self) -> None:
        if isinstance(self.checkpoint, str) and not self._store_closed():
            self._store.save_checkpoint(self.checkpoint, self._position)

    def _store_closed(self) -> bool:
        return bool(getattr(self._store, "closed", False))

    # --- a background poller (for appends made by other processes) ----------------------

    def start(self, interval: float = 0.5) -> StoreSubscription:
        """Poll in a background thread every ``interval`` seconds until ``stop()``/``close()``.

        Errors stay on ``sub.error`` (the thread retries the same event next time).
        Returns the subscription, so ``sub = store.subscribe(h).start()`` works.
        """
        if self._closed:
            raise InvalidValue(f"subscription {self.name!r} is closed")
        interval = check_seconds(interval, "interval", positive=True)
        if self._thread is not None:
            raise AlreadyRunning(f"subscription {self.name!r} is already polling")
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name=f"eda_kit poll {self.name}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self, interval: float) -> None:
        while not self._stopping.is_set():
            try:
                self._notify()
            except Exception as error:  # the store itself failed (e.g. closed): stop polling
                self.error = error
                return
            self._stopping.wait(interval)

    def stop(self) -> None:
        """Stop the background poller (if any) and wait for it to finish."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            if thread is not threading.current_thread():
                thread.join()

    @property
    def polling(self) -> bool:
        """Is a background thread polling for this subscription?"""
        return self._thread is not None

    def close(self) -> None:
        """Stop delivering: no more live events, no poller. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()  # the delivery thread sees it is closed and ends
        self._moved()
        self.stop()
        deliverer = self._deliverer
        if deliverer is not None and deliverer is not threading.current_thread():
            deliverer.join()  # its current event first: then nothing reads a closed store
        forget = getattr(self._store, "_forget_subscription", None)
        if forget is not None:
            forget(self)

    def __enter__(self) -> StoreSubscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("failed" if self.error else "live")
        return f"<StoreSubscription {self.name!r} at position {self._position}: {state}>"


#: Subscriptions that have (or had) a live delivery thread, for the wait at exit.
_DELIVERING: weakref.WeakSet[StoreSubscription] = weakref.WeakSet()


@atexit.register
def _deliver_before_exit() -> None:
    """At the end of the program, let the delivery threads finish what appends woke them for.

    They are daemon threads (a stuck handler must not hang the exit), so without this wait a
    script that appends and ends at once would end before its subscribers saw the events.
    """
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    for subscription in list(_DELIVERING):
        with subscription._progress:
            while subscription._owes_deliveries():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                subscription._progress.wait(min(remaining, 0.1))


def _forget_threads_after_fork() -> None:
    """In a forked child the parent's delivery threads don't exist (and may have left their
    locks held): forget them, so the child's next append starts threads of its own."""
    for subscription in list(_DELIVERING):
        subscription._deliverer = None
        subscription._delivering = False
        subscription._owner = None
        subscription._start_lock = threading.Lock()
        subscription._lock = threading.Lock()
        subscription._progress = threading.Condition()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_threads_after_fork)


class Subscribable:
    """The part of a store that keeps subscriptions and tells them about new appends.

    A store mixes this in and calls ``_notify_subscribers()`` after each append has been
    stored for good (never before: a handler must never see an event that could still vanish).
    That only wakes each live subscription's delivery thread: the append returns at once.
    """

    _tracer: Tracer | None

    def __init__(self, tracer: Tracer | None = None) -> None:
        self._tracer = tracer
        self._subscriptions: list[StoreSubscription] = []
        self._subscriptions_lock = threading.Lock()

    def subscribe(
        self,
        handler: Handler,
        from_position: int = 1,
        *,
        checkpoint: str | TransactionalCheckpoint | None = None,
        name: str | None = None,
        live: bool = True,
        batch_size: int = 100,
    ) -> StoreSubscription:
        """Deliver stored events to ``handler`` (catch-up), then new ones (live).

        - ``from_position``: the first position to deliver (default 1: everything).
        - ``checkpoint``: where this subscriber's position is kept (see the module docs): a
          name, kept by the store; or a ``TransactionalCheckpoint`` such as
          ``read_model.checkpoint("name")``, kept in the handler's own database and saved in
          the same transaction as its change (the handler is then called as
          ``handler(event, unit)``). If a saved position exists, delivery resumes right after
          it (and ``from_position`` is ignored).
        - ``name``: who the handler is in traces (default: the checkpoint's name, else the
          handler's ``__qualname__``).
        - ``live``: ``False`` for a subscription that only moves when you call ``poll()``.
        - ``batch_size``: how many events are read (and checkpointed) at a time.

        Raises the handler's error if catch-up fails (see the module docs).
        """
        if not callable(handler):
            raise InvalidType(f"handler must be callable, not {type(handler).__name__}")
        from_position = check_positive_int(from_position, "from_position")
        batch_size = check_positive_int(batch_size, "batch_size")
        if checkpoint is None:
            position = from_position - 1
        else:
            if isinstance(checkpoint, str):
                checkpoint = check_name(checkpoint)
                saved = self.load_checkpoint(checkpoint)  # type: ignore[attr-defined]
            elif isinstance(checkpoint, TransactionalCheckpoint):
                saved = checkpoint.load()
            else:
                raise InvalidType(
                    "checkpoint must be a name (str) or a TransactionalCheckpoint such as "
                    f"read_model.checkpoint('name'), not {type(checkpoint).__name__}"
                )
            position = saved if saved > 0 else from_position - 1
        if name is None:
            if checkpoint is None:
                name = handler_name(handler)
            else:
                name = checkpoint if isinstance(checkpoint, str) else checkpoint.name
        subscription = StoreSubscription(
            self,  # type: ignore[arg-type]
            handler,
            position,
            checkpoint=checkpoint,
            name=check_name(name, "subscription name"),
            batch_size=batch_size,
            tracer=self._tracer,
        )
        if live:
            subscription.live = True
            with self._subscriptions_lock:
                self._subscriptions.append(subscription)
        try:
            subscription.poll()  # catch-up
        except Exception:
            subscription.close()
            raise
        return subscription

    def wait_for_subscribers(self, timeout: float = 30.0) -> None:
        """Wait until every live subscription has handled everything appended so far.

        (Or stopped at a failing event: its ``error`` says why.) Raises ``WaitTimeout`` after
        ``timeout`` seconds. Live deliveries run off the writer's path, so notebooks and tests
        call this before looking at what the subscribers did.
        """
        timeout = check_seconds(timeout, "timeout")
        target = self.last_position()  # type: ignore[attr-defined]
        deadline = time.monotonic() + timeout
        with self._subscriptions_lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            left = max(0.0, deadline - time.monotonic())
            subscription.wait_until(target, timeout=left)

    def _notify_subscribers(self) -> None:
        with self._subscriptions_lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription._wake()

    def _forget_subscription(self, subscription: StoreSubscription) -> None:
        with self._subscriptions_lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def _close_subscriptions(self) -> None:
        with self._subscriptions_lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()
