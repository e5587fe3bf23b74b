"""Correlation and causation: which conversation an event belongs to, and what caused it.

One click on "Place order" becomes a command, which records ``OrderPlaced``, which the
inventory service turns into ``StockReserved``, which the payment service turns into
``PaymentCharged``... Weeks later someone asks *why was this card charged?* Every event
answers with three metadata keys:

==================  ===========================================================
``correlation_id``  the whole conversation: the same on every event that one
                    request set off (copied from cause to effect)
``causation_id``    the id of the event (or command) that directly caused this one
``actor``           who recorded this event: the user at the edge, or the service
                    that reacted (optional; *not* copied from the cause)
==================  ===========================================================

Nobody has to copy them by hand. While something is being *handled*, it is the current
**cause**, and every ``Event`` created meanwhile is stamped with the cause's keys (keys the
event sets itself win)::

    >>> from eda_kit import Event, reproducible
    >>> with reproducible():
    ...     placed = Event("OrderPlaced", {"order_id": "A1"}, metadata={"actor": "asha"})
    ...     with caused_by(placed, actor="InventoryService"):   # reacting to OrderPlaced
    ...         reserved = Event("StockReserved", {"order_id": "A1"})
    >>> dict(reserved.metadata)
    {'correlation_id': 'evt-0001', 'causation_id': 'evt-0001', 'actor': 'InventoryService'}

The kit sets the cause for you where one thing leads to another: ``EventBus.publish`` while
its handlers run (a handler's own events are caused by the event it handles, and their actor
is the subscriber's name), ``CommandBus.dispatch`` while a command handler runs (the command
gets an id, ``cmd-...``, and starts a conversation unless one is already going on; the actor
is whoever is acting around the dispatch), a saga while a step's action or compensation runs
(the cause is the step, ``<saga_id>/<step>``, in the conversation the saga belongs to, else
one named after the saga; the actor is the step's service, else the saga), and a projection
while its handler applies an event (the actor is the projection's name). Start a
conversation yourself, with a request id and a user, around anything::

    with caused_by(correlation_id="req-7", actor="asha"):
        commands.dispatch("PlaceOrder", order_id="A1", total=30)

:func:`follow_up` gives the same keys without a ``with`` block (for code that builds the
metadata itself), :func:`chain` walks an event list back along ``causation_id``, and
:func:`causation_trace` turns a list of events into who sent what to whom, the ``Tracer``
that ``viz.flow_graph`` and ``viz.draw_flow`` draw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from .errors import InvalidType, InvalidValue
from .trace import Tracer

__all__ = [
    "CORRELATION_ID",
    "CAUSATION_ID",
    "ACTOR",
    "COMMAND",
    "Cause",
    "caused_by",
    "current_cause",
    "handling",
    "done_handling",
    "joining",
    "call_with_cause",
    "follow_up",
    "chain",
    "causation_trace",
]

CORRELATION_ID: Final = "correlation_id"
CAUSATION_ID: Final = "causation_id"
ACTOR: Final = "actor"
#: Set on events a command caused directly: the command's type ("PlaceOrder").
COMMAND: Final = "command"

T = TypeVar("T")


class _HasIdAndMetadata(Protocol):
    """An event, as far as causation cares (``Event`` itself lives in ``events.py``)."""

    @property
    def id(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


class Cause(NamedTuple):
    """What events created now are stamped with: ``Cause.metadata()`` is the dict."""

    correlation_id: str
    causation_id: str
    actor: str | None = None
    command: str | None = None

    def metadata(self) -> dict[str, str]:
        keys = {CORRELATION_ID: self.correlation_id, CAUSATION_ID: self.causation_id}
        if self.actor is not None:
            keys[ACTOR] = self.actor
        if self.command is not None:
            keys[COMMAND] = self.command
        return keys


# The current cause: an Event-like object while it is being handled (turned into a Cause
# only if an event is created meanwhile, so setting it costs a publish almost nothing), or a
# Cause. None when nothing is being handled.
_current: ContextVar[Any] = ContextVar("eda_kit_cause", default=None)
#: ``current_cause_object()``: what ``Event.__init__`` reads (one C call per event).
current_cause_object = _current.get
#: For components that deliver events (the bus, projections): ``token = handling(event)``
#: before calling handlers, ``done_handling(token)`` after. Two C calls, about 150 ns
#: together (``set`` allocates a token and a new context): the price every publish pays
#: for causation ids (make bench: "Bus: publish to 3 matching subscribers").
handling = _current.set
done_handling = _current.reset


def cause_of(event: _HasIdAndMetadata, actor: str | None = None) -> Cause:
    """The cause an event is for the events it leads to: its conversation, and itself.

    ``actor`` is who reacts (the cause's own actor is *not* copied: whoever records the
    effect is its actor).
    """
    correlation = event.metadata.get(CORRELATION_ID) or event.id
    return Cause(str(correlation), event.id, actor)


def _as_cause(value: Any) -> Cause:
    if isinstance(value, Cause):
        return value
    cause_now = getattr(value, "cause_now", None)
    if cause_now is not None:  # a component that knows more (the bus: who is handling)
        return cause_now()
    return cause_of(value)


def current_cause() -> Cause | None:
    """The cause new events are stamped with right now (None outside any handling)."""
    value = _current.get()
    return None if value is None else _as_cause(value)


def follow_up(cause: _HasIdAndMetadata, *, actor: str | None = None) -> dict[str, str]:
    """The metadata of an event directly caused by ``cause``, recorded by ``actor``."""
    return cause_of(cause, None if actor is None else _checked(actor, "actor")).metadata()


def stamp(metadata: Mapping[str, Any], cause: Any) -> dict[str, Any]:
    """``metadata`` plus ``cause``'s keys that it does not set itself (used by ``Event``)."""
    keys = _as_cause(cause).metadata()
    if not metadata:
        return keys
    return {**keys, **metadata}


@contextmanager
def caused_by(
    cause: _HasIdAndMetadata | None = None,
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor: str | None = None,
    command: str | None = None,
) -> Iterator[Cause]:
    """Inside the block, events created are caused by ``cause`` (an event being handled).

    Without an event, say it in ids: ``correlation_id`` (default: the one already going on,
    else ``causation_id``), ``causation_id`` (default: the correlation id). ``actor``: who
    records the events (default: whoever is acting already, if anyone). ``command`` names a
    command being handled.
    """
    outer = current_cause()
    if actor is not None:
        _checked(actor, "actor")
    if cause is not None:
        if not hasattr(cause, "id") or not hasattr(cause, "metadata"):
            raise InvalidType(f"caused_by takes an event (or ids as keywords), not {cause!r}")
        found = cause_of(cause, actor if actor is not None else (outer.actor if outer else None))
    else:
        for name, value in (
            ("correlation_id", correlation_id),
            ("causation_id", causation_id),
            ("actor", actor),
            ("command", command),
        ):
            if value is not None:
                _checked(value, name)
        correlation = correlation_id or (outer.correlation_id if outer else None) or causation_id
        if correlation is None:
            raise InvalidValue("caused_by needs an event, a correlation_id or a causation_id")
        found = Cause(
            correlation,
            causation_id or correlation,
            actor if actor is not None else (outer.actor if outer else None),
            command,
        )
    token = _current.set(found)
    try:
        yield found
    finally:
        _current.reset(token)


def joining(
    causation_id: str, *, conversation: str | None = None, actor: str | None = None
) -> Cause:
    """A cause named ``causation_id`` in the conversation going on (else in ``conversation``).

    For work that is not an event but causes events, such as a saga step: the saga calls each
    action with ``call_with_cause(joining(f"{saga_id}/{step}", conversation=saga_id,
    actor=service), ...)``. ``actor`` defaults to whoever is acting already.
    """
    outer = current_cause()
    correlation = outer.correlation_id if outer else (conversation or causation_id)
    return Cause(
        _checked(correlation, "conversation"),
        _checked(causation_id, "causation_id"),
        _checked(actor, "actor") if actor is not None else (outer.actor if outer else None),
    )


def call_with_cause(cause: Cause, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with ``cause`` as the current cause, in whatever thread runs it.

    (A new thread does not inherit context variables, so code that hands work to a thread
    passes this call instead of ``fn``.)
    """
    token = _current.set(cause)
    try:
        return fn(*args, **kwargs)
    finally:
        _current.reset(token)


def _checked(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"{name} must be a non-empty str, not {value!r}")
    return value


def chain(events: Sequence[_HasIdAndMetadata], last: _HasIdAndMetadata) -> list[Any]:
    """``last`` and its causes, oldest first, found in ``events`` by ``causation_id``.

    The walk stops where a cause is not among ``events`` (a command, or an event elsewhere).
    """
    by_id = {event.id: event for event in events}
    found = [last]
    seen = {last.id}
    cause = last.metadata.get(CAUSATION_ID)
    while cause in by_id and cause not in seen:
        event = by_id[cause]
        found.append(event)
        seen.add(cause)
        cause = event.metadata.get(CAUSATION_ID)
    return found[::-1]


def causation_trace(events: Iterable[_HasIdAndMetadata]) -> Tracer:
    """Who sent what to whom, read back from the events' ``actor`` and ``causation_id``.

    Each event becomes a *send* by its actor and, when its cause is among ``events``, a
    *delivery* of the cause to that actor just before it (``OrderPlaced`` recorded by asha
    caused ``PaymentTaken`` recorded by Payments: Payments received ``OrderPlaced``). An event
    without an actor is sent by ``"unknown"``. So a conversation read from the store draws like
    any trace: ``viz.draw_flow(causation_trace(store.read_all()))``.
    """
    tracer = Tracer()
    by_id: dict[str, Any] = {}
    listed: list[Any] = []
    for event in events:
        if not isinstance(getattr(event, "metadata", None), Mapping) or not hasattr(event, "id"):
            raise InvalidType(
                "causation_trace reads events with an id and metadata (Event, RecordedEvent), "
                f"not {type(event).__name__}"
            )
        by_id[event.id] = event
        listed.append(event)
    for event in listed:
        actor = event.metadata.get(ACTOR) or "unknown"
        cause = by_id.get(event.metadata.get(CAUSATION_ID, ""))
        if cause is not None and cause is not event:
            sender = cause.metadata.get(ACTOR) or "unknown"
            tracer.record(sender, cause.type, actor, "delivered", event_id=cause.id)
        tracer.record(actor, event.type, None, "sent", event_id=event.id)
    return tracer
