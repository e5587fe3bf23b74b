"""Projections: read models kept up to date by folding the store's events into them.

The event store is great for writing (append a fact) and terrible for asking ("how many orders
did asha place?" means reading every event). A projection answers one kind of question fast:
it reads the store's global log in order, hands each event to the handler for its type, and
the handler changes a *read model* shaped for that question::

    orders = Projection("order_details", store)            # read model: a dict

    @orders.on("OrderPlaced")
    def placed(view, event):
        view[event.data["order_id"]] = {"customer": event.data["customer"], "status": "placed"}

    @orders.on("OrderPaid")
    def paid(view, event):
        view[event.data["order_id"]]["status"] = "paid"

    orders.lag          # events in the store this projection has not applied yet
    orders.catch_up()   # apply them; returns how many events it moved past
    orders.read_model   # {"A1": {"customer": "asha", "status": "paid"}}

A projection remembers how far it got (``position``: the global position of the last event it
processed). ``lag`` is ``store.last_position() - position``: while it is above 0, queries see the
past. That is eventual consistency, as a number.

Four promises:

- **In order, once.** Events are applied in log order, each exactly once, whether they come
  from ``catch_up()`` or live from a store subscription (``start()``).
- **All or nothing per event.** A handler that raises half-way leaves no half-applied change:
  a ``SQLiteReadModel`` rolls its transaction back, and a dict read model is restored from an
  undo log (the handler gets a view of the dict that copies each key's old value before its
  first change). Other read models (a list, your own object) can't be rolled back unless they
  offer ``transaction()``: write their handlers "check everything first, then change".
  (``eda_kit/cqrs/transactions.py`` has the table.)
- **A failure stops, it does not skip.** If a handler raises, the projection stops *at* that
  event: ``position`` stays before it, ``status`` becomes ``"stalled"`` and ``error`` keeps
  what went wrong. Skipping would leave a read model that is quietly wrong forever. Fix the
  handler (``on(..., replace=True)``) and ``catch_up()`` carries on from the failing event.
- **Restartable, rebuildable.** A read model kept in a file
  (``SQLiteReadModel(schema, "orders.db")``) keeps its position in the same file, saved in the
  same transaction as each event's change, so a new projection over it (after a restart, a
  crash, ``kill -9``) starts where the file got to: nothing applied twice, nothing skipped.
  ``rebuild()`` empties the read model and replays the whole log into it, e.g. after you
  changed its shape. The events are the truth; read models are disposable.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..causation import call_with_cause, cause_of
from ..errors import (
    CheckpointConflict,
    InvalidType,
    InvalidValue,
    ProjectionStalled,
    describe_error,
)
from ..events import RecordedEvent
from ..store.base import check_seconds
from ..trace import Tracer
from .transactions import keeper_for

__all__ = ["Projection", "ProjectionStalled"]

if TYPE_CHECKING:
    from ..store import EventStore

EventHandler = Callable[[Any, RecordedEvent], None]
#: A handler's own type: ``on`` hands it back unchanged, as a decorator should.
H = TypeVar("H", bound=EventHandler)


class Projection:
    """Folds the events of a store into a read model, and knows how far it got.

    - ``name``: how the projection is named in traces and errors.
    - ``store``: an event store (``read_all``, ``last_position``, ``subscribe``).
    - ``read_model``: a *factory* for the read model: ``dict`` (the default), ``list``,
      ``lambda: SQLiteReadModel(SCHEMA)``, ``lambda: SQLiteReadModel(SCHEMA, "orders.db")``.
      A read model that keeps a position (a file) is resumed from it; called again by
      ``rebuild()``, which then empties it.
    - ``tracer``: if given, each applied event is traced (``event store --OrderPlaced--> name``).
    - ``batch_size``: how many events ``catch_up()`` reads from the store at a time.
    """

    def __init__(
        self,
        name: str,
        store: EventStore,
        *,
        read_model: Callable[[], Any] = dict,
        tracer: Tracer | None = None,
        batch_size: int = 500,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"a projection needs a non-empty name, not {name!r}")
        if not callable(read_model):
            raise InvalidType(
                "read_model must be a factory that makes an empty read model, such as dict or "
                f"lambda: SQLiteReadModel(SCHEMA); got a {type(read_model).__name__} instance"
            )
        for method in ("read_all", "last_position"):
            if not callable(getattr(store, method, None)):
                raise InvalidType(
                    f"a projection reads an event store, and {type(store).__name__} has no "
                    f"{method}() (pass an InMemoryEventStore or SQLiteEventStore)"
                )
        if type(batch_size) is not int or batch_size < 1:
            raise InvalidValue(f"batch_size must be a positive int, not {batch_size!r}")
        self.name = name
        self.store = store
        self._factory = read_model
        self._tracer = tracer
        self._batch_size = batch_size
        self._handlers: dict[str, EventHandler] = {}
        self._subscription: Any = None
        self._busy = False  # inside catch_up: live notifications wait for the loop
        self._lock = threading.RLock()  # one thread applies events at a time
        self.read_model: Any = read_model()
        self._keeper = keeper_for(self.read_model, name)
        #: Global position of the last event processed (0: nothing yet). A read model that
        #: keeps its position (a file) starts where it got to.
        self.position = self._saved = self._resume_position()
        #: Why the projection stopped (a ``ProjectionStalled``), or ``None`` while healthy.
        self.error: ProjectionStalled | None = None

    def _resume_position(self) -> int:
        position = self._keeper.load()
        if position:
            last = self.store.last_position()
            if position > last:
                raise InvalidValue(
                    f"the read model of projection {self.name!r} is at position {position}, "
                    f"but the store ends at {last}: was it built from another store? Give "
                    "this store's projection a read model of its own"
                )
        return position

    # -- handlers ---------------------------------------------------------------------------

    @overload
    def on(
        self, event_type: str, handler: None = None, *, replace: bool = False
    ) -> Callable[[H], H]: ...
    @overload
    def on(self, event_type: str, handler: H, *, replace: bool = False) -> H: ...
    def on(
        self,
        event_type: str,
        handler: EventHandler | None = None,
        *,
        replace: bool = False,
    ) -> Any:
        """Register ``handler(read_model, event)`` for ``event_type``; works as a decorator.

        One handler per event type. Registering a second one is refused unless
        ``replace=True`` (that is how you install a fix for a stalled projection).
        Events of types with no handler are passed over (the position still moves on).
        """
        if not isinstance(event_type, str) or not event_type.strip():
            raise InvalidValue(f"event type must be a non-empty name, not {event_type!r}")

        def register(fn: EventHandler) -> EventHandler:
            if not callable(fn):
                raise InvalidType(f"a projection handler must be callable, not {fn!r}")
            if event_type in self._handlers and not replace:
                raise InvalidValue(
                    f"projection {self.name!r} already handles {event_type!r} "
                    f"(with {self._handlers[event_type].__qualname__}); "
                    "pass replace=True to swap in a new handler"
                )
            self._handlers[event_type] = fn
            return fn

        return register if handler is None else register(handler)

    @property
    def handles(self) -> list[str]:
        """The event types this projection has handlers for, in registration order."""
        return list(self._handlers)

    # -- progress ---------------------------------------------------------------------------

    @property
    def lag(self) -> int:
        """How many events the store holds that this projection has not processed yet."""
        return self.store.last_position() - self.position

    @property
    def status(self) -> str:
        """``"stalled"`` (a handler failed), ``"behind"`` (lag > 0) or ``"up to date"``."""
        if self.error is not None:
            return "stalled"
        return "behind" if self.lag > 0 else "up to date"

    @property
    def live(self) -> bool:
        """True while the projection follows the store through a subscription."""
        return self._subscription is not None

    def catch_up(self, to_position: int | None = None) -> int:
        """Apply the events after ``position`` (up to ``to_position`` if given, else all).

        Returns how many events the projection moved past. If a handler raises, the projection
        stops at that event, keeps the error in ``error`` and raises ``ProjectionStalled``;
        calling ``catch_up()`` again retries that same event (after you fixed the cause).
        """
        if to_position is not None and (not isinstance(to_position, int) or to_position < 0):
            raise InvalidValue(f"to_position must be an int >= 0, not {to_position!r}")
        moved = 0
        with self._lock:
            self.error = None  # a new attempt: the failing event is tried again
            self._busy = True
            try:
                while to_position is None or self.position < to_position:
                    limit = self._batch_size
                    if to_position is not None:
                        limit = min(limit, to_position - self.position)
                    batch = self.store.read_all(from_position=self.position + 1, limit=limit)
                    if not batch:
                        break
                    for event in batch:
                        if event.position <= self.position:
                            continue  # another process applied it (see _apply)
                        before = self.position
                        self._apply(event)  # raises ProjectionStalled, position unmoved
                        moved += self.position - before
                    self._save_position()
            finally:
                self._busy = False
        return moved

    def rebuild(self) -> int:
        """Empty the read model and replay every event into it.

        Use it after changing a projection's handlers or read-model shape, or to repair a read
        model. A read model in memory is replaced by a fresh one from the factory; one that
        keeps its data (a file) is emptied in one transaction (``reset()``) and refilled, so a
        crash during the rebuild resumes it on restart. Returns how many events were replayed
        (it raises ``ProjectionStalled`` like ``catch_up()`` if a handler fails on the way).
        """
        with self._lock:
            old, fresh = self.read_model, self._factory()
            keeper = keeper_for(fresh, self.name)
            if callable(getattr(fresh, "reset", None)) and keeper.load():
                others = sorted(set(getattr(fresh, "checkpoints", dict)()) - {self.name})
                if others:
                    if fresh is not old and hasattr(fresh, "close"):
                        fresh.close()
                    raise InvalidValue(
                        f"the read model of projection {self.name!r} also keeps the positions "
                        f"of {', '.join(others)}: rebuilding would empty their tables too. "
                        "Give each projection a read model (file) of its own"
                    )
                fresh.reset()
            if old is not fresh and hasattr(old, "close"):
                old.close()
            self.read_model, self._keeper = fresh, keeper
            self.position = self._saved = 0
            self.error = None
            return self.catch_up()

    def _save_position(self) -> None:
        """Save a position moved by events without a handler (they need no transaction)."""
        if self.position > self._saved:
            try:
                with self._keeper.transaction() as unit:
                    self._check_saved(unit)
                    self._keeper.save(unit, self.position)
            except CheckpointConflict:
                self._resync()
                return
            self._saved = self.position

    def _check_saved(self, unit: Any) -> None:
        """Inside the transaction: is the read model still where this projection left it?"""
        saved = self._keeper.saved(unit)
        if saved != self._saved:
            raise CheckpointConflict(self.name, self._saved, saved)

    def _resync(self) -> None:
        """Another process applied events to the same read model: continue after them."""
        self.position = self._saved = max(self._keeper.load(), self.position)

    def _apply(self, event: RecordedEvent) -> None:
        """Apply one event (the next in the log) and move ``position`` onto it.

        The handler's change and the new position are one transaction of the read model
        (see ``transactions.py``): both happen, or neither does.
        """
        handler = self._handlers.get(event.type)
        if handler is not None:
            keeper = self._keeper
            try:
                with keeper.transaction() as unit:
                    self._check_saved(unit)
                    # events the handler creates are caused by this one, recorded by us
                    call_with_cause(cause_of(event, self.name), handler, unit, event)
                    keeper.save(unit, event.position)
            except CheckpointConflict:
                self._resync()  # someone else applied it; our change was rolled back
                return
            except Exception as error:
                self.error = ProjectionStalled(self.name, event, error)
                if self._tracer is not None:
                    self._tracer.record(
                        "event store",
                        event.type,
                        self.name,
                        "failed",
                        detail=describe_error(error),
                        event_id=event.id,
                        via=event.stream_id,
                    )
                raise self.error from error
            if self._tracer is not None:
                self._tracer.record(
                    "event store",
                    event.type,
                    self.name,
                    "delivered",
                    event_id=event.id,
                    via=event.stream_id,
                )
            self._saved = event.position
        self.position = event.position

    # -- live mode --------------------------------------------------------------------------

    def start(self, poll_every: float | None = None) -> Projection:
        """Follow the store live: catch up, then apply each new event as it is appended.

        Appends made through the same store object are applied a moment later, on the store
        subscription's delivery thread: the append does not wait for the projection, so a read
        right after a write may not see it yet (``wait_until(position)`` waits for it). Appends
        made by other processes (a shared ``SQLiteEventStore`` file) arrive when the store is
        polled: pass ``poll_every=0.5`` to poll from a background thread every half second.

        A failing handler stalls the projection (``status == "stalled"``) without disturbing
        the writer whose append delivered the event; ``catch_up()`` resumes it after a fix.
        """
        if poll_every is not None:
            poll_every = check_seconds(poll_every, "poll_every", positive=True)
        if self._subscription is None:
            self._subscription = self.store.subscribe(
                self._on_live_event, from_position=self.position + 1
            )
            if poll_every is not None:
                self._subscription.start(poll_every)
        return self

    def wait_until(self, position: int | None = None, timeout: float = 30.0) -> bool:
        """Block until the live projection has applied every event up to ``position``.

        ``position`` defaults to the store's last position now. Returns ``True`` when the
        projection got there, ``False`` when it stalled before (``error`` says why); raises
        ``WaitTimeout`` after ``timeout`` seconds. This is "wait for your own write": append,
        then ``wait_until(position_of_the_write)`` before answering the query.
        """
        if self._subscription is None:
            raise InvalidValue(
                f"projection {self.name!r} is not live: call catch_up() (or start() first)"
            )
        if position is None:
            position = self.store.last_position()
        self._subscription.wait_until(position, timeout=timeout)
        return self.position >= position

    def stop(self) -> None:
        """Stop following the store (the read model and position stay as they are)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()

    def _on_live_event(self, event: RecordedEvent) -> None:
        with self._lock:
            if self.error is not None or self._busy or event.position <= self.position:
                return  # stalled (wait for a fix), already reading, or already applied
            try:
                if event.position == self.position + 1:
                    self._apply(event)
                else:  # we missed some: read them from the store, in order
                    self.catch_up(to_position=event.position)
            except ProjectionStalled:
                pass  # kept in self.error; the writer's append must not fail because of us

    # -- helpers ----------------------------------------------------------------------------

    def next_state(self, state: Any, event: RecordedEvent) -> Any:
        """One step as a pure function: a copy of ``state`` with ``event`` applied.

        Leaves ``state`` and the projection untouched, so it suits replays, e.g.
        ``ReplayPlayer(store.read_all(), projection.next_state, {})``. Read models that
        ``copy.deepcopy`` can copy only (a dict or list, not a database connection).
        """
        new = copy.deepcopy(state)
        handler = self._handlers.get(event.type)
        if handler is not None:
            handler(new, event)
        return new

    def __repr__(self) -> str:
        return (
            f"<Projection {self.name!r}: position {self.position}, lag {self.lag}, {self.status}>"
        )
