"""Subscriptions: follow the global log, first catching up, then live.

A read model (a projection, an email sender, a search index) needs every event exactly in
the order of the global log, including the ones stored before it started. That is a
*catch-up subscription*::

    sub = store.subscribe(update_dashboard, checkpoint="dashboard")
    # 1. catch-up: every stored event after the checkpoint goes to the handler, now, in order
    # 2. live:     each later append through this same store object is delivered right after
    #              it is stored (after the append has committed)
    sub.poll()     # appends by OTHER processes (or other store objects) arrive when you poll
    sub.start(0.5) # ... or let a background thread poll every 0.5 s; sub.stop() ends it
    sub.close()    # stop delivering

**Position and checkpoint.** ``sub.position`` is the position of the last event the handler
finished without raising. With ``checkpoint="name"`` that position is also saved in the store
(``store.load_checkpoint("name")``), so a restarted process that subscribes with the same name
resumes after it instead of starting from 1. The checkpoint is saved after each delivered
batch (``batch_size`` events) and whenever a handler fails; if the process dies in between,
the events after the last saved checkpoint are delivered again. So delivery is *at least
once*: make handlers idempotent (or keep the read model and its position in one transaction).

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

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AlreadyRunning, InvalidType, InvalidValue, describe_error
from ..events import RecordedEvent
from ..trace import Tracer, handler_name
from .base import check_name, check_positive_int

if TYPE_CHECKING:
    from .base import EventStore

__all__ = ["StoreSubscription", "Subscribable"]

Handler = Callable[[RecordedEvent], Any]


class StoreSubscription:
    """One handler following a store's global log. Made by ``store.subscribe(...)``."""

    def __init__(
        self,
        store: EventStore,
        handler: Handler,
        position: int,
        *,
        checkpoint: str | None,
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

    def _deliver_locked(self, *, raise_errors: bool) -> int:
        self._owner = threading.get_ident()
        handled = 0
        try:
            while True:
                self._again = False
                batch = self._store.read_all(self._position + 1, limit=self.batch_size)
                if not batch:
                    break
                handled += self._deliver_batch(batch, raise_errors)
                if self.error is not None or self._closed:
                    break
        finally:
            self._owner = None
        return handled

    def _deliver_batch(self, batch: Sequence[RecordedEvent], raise_errors: bool) -> int:
        handled = 0
        tracer = self._tracer
        for event in batch:
            if self._closed:
                break
            try:
                self.handler(event)
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

    def _save_checkpoint(self) -> None:
        if self.checkpoint is not None and not self._store_closed():
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
        if not interval > 0:
            raise InvalidValue(f"interval must be a positive number of seconds, not {interval!r}")
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
        self.stop()
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


class Subscribable:
    """The part of a store that keeps subscriptions and tells them about new appends.

    A store mixes this in and calls ``_notify_subscribers()`` after each append has been
    stored for good (never before: a handler must never see an event that could still vanish).
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
        checkpoint: str | None = None,
        name: str | None = None,
        live: bool = True,
        batch_size: int = 100,
    ) -> StoreSubscription:
        """Deliver stored events to ``handler`` (catch-up), then new ones (live).

        - ``from_position``: the first position to deliver (default 1: everything).
        - ``checkpoint``: a name under which the store keeps this subscriber's position; if
          a checkpoint of that name exists, delivery resumes right after it (and
          ``from_position`` is ignored).
        - ``name``: who the handler is in traces (default: the checkpoint name, else the
          handler's ``__qualname__``).
        - ``live``: ``False`` for a subscription that only moves when you call ``poll()``.
        - ``batch_size``: how many events are read (and checkpointed) at a time.

        Raises the handler's error if catch-up fails (see the module docs).
        """
        if not callable(handler):
            raise InvalidType(f"handler must be callable, not {type(handler).__name__}")
        from_position = check_positive_int(from_position, "from_position")
        batch_size = check_positive_int(batch_size, "batch_size")
        if checkpoint is not None:
            checkpoint = check_name(checkpoint)
            saved = self.load_checkpoint(checkpoint)  # type: ignore[attr-defined]
            position = saved if saved > 0 else from_position - 1
        else:
            position = from_position - 1
        if name is None:
            name = checkpoint if checkpoint is not None else handler_name(handler)
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
            with self._subscriptions_lock:
                self._subscriptions.append(subscription)
        try:
            subscription.poll()  # catch-up
        except Exception:
            subscription.close()
            raise
        return subscription

    def _notify_subscribers(self) -> None:
        with self._subscriptions_lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription._notify()

    def _forget_subscription(self, subscription: StoreSubscription) -> None:
        with self._subscriptions_lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def _close_subscriptions(self) -> None:
        with self._subscriptions_lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()
