"""Events: facts about something that happened, named in the past tense.

An ``Event`` has a ``type`` ("OrderPlaced", "order.created"), a JSON ``data`` payload, JSON
``metadata`` (who caused it, correlation ids: an event created while another is being handled
gets them by itself, see :mod:`eda_kit.causation`), an ``id`` and a ``time``. It is immutable:
what happened, happened. ::

    >>> from eda_kit import reproducible
    >>> with reproducible():            # fixed ids and clock, so this example prints the same
    ...     placed = Event("order.created", {"order_id": "A1"}, metadata={"correlation_id": "c-1"})
    >>> placed
    Event('order.created', {'order_id': 'A1'}, metadata={'correlation_id': 'c-1'}, id='evt-0001')
    >>> placed.time.isoformat()
    '2026-01-05T09:00:00+00:00'
    >>> placed.data["order_id"] = "B2"  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    eda_kit.errors.InvalidType: event payloads are read-only: copy it first ...

A ``RecordedEvent`` is an event as an event store gives it back: the same fields plus the
``stream_id`` it belongs to, its ``version`` in that stream (1, 2, 3, ...) and its ``position``
in the store's global log.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from .causation import current_cause_object
from .causation import stamp as stamp_cause
from .clock import id_from, new_id, now, stamp
from .errors import InvalidType, InvalidValue
from .payloads import EMPTY, check_storable_text, freeze_json, freeze_trusted

__all__ = ["Event", "RecordedEvent", "build_recorded", "recorded_from_storage"]

_type = type  # the builtin: inside Event.__init__, `type` is the event's type


class _Stamped:
    """Where an event keeps its id and time until they are first read (see ``Event``)."""

    __slots__ = ("_stamp",)


@dataclass(frozen=True, slots=True, init=False)
class Event(_Stamped):
    """Something that happened. ``data`` and ``metadata`` must be JSON (checked here).

    ``Event(type, data={}, metadata={}, id="", time=None)``: an empty ``id`` gets a fresh one,
    a missing ``time`` the current time (both fixed in reproducible mode).
    """

    type: str
    data: Any
    metadata: dict[str, Any]
    id: str
    time: datetime

    #: Whether a new event of this class takes correlation and causation from what is being
    #: handled when it is created (a recorded event read back from a store does not).
    caused_by_handling: ClassVar[bool] = True

    # Every event goes through here, so it is written for speed (make bench: "Event
    # construction" and "Build + publish"). Instead of the dataclass's generated __init__,
    # each slot is set once, directly. A fresh id and time are taken as a cheap stamp (a
    # counter and a float) and written out as text and datetime by __getattr__ the first
    # time someone reads them: most events are read far less often than they are built.
    def __init__(
        self,
        type: str,
        data: Any = EMPTY,
        metadata: dict[str, Any] = EMPTY,
        id: str = "",
        time: datetime | None = None,
    ) -> None:
        if _type(type) is not str and not isinstance(type, str):
            raise InvalidType(f"event type must be a str, not {_type(type).__name__}")
        if not type or type.isspace():
            raise InvalidValue("event type must be a non-empty name, e.g. 'OrderPlaced'")
        if not type.isascii() or "\x00" in type:
            check_storable_text(type, "event type")
        if metadata is not EMPTY and not isinstance(metadata, dict):
            raise InvalidType(
                f"metadata must be a dict of JSON values, not {_type(metadata).__name__}"
            )
        # An event created while another is being handled is caused by it (eda_kit.causation):
        # one C-level read of a context variable when nothing is being handled.
        cause = current_cause_object()
        if cause is not None and _type(self).caused_by_handling:
            metadata = stamp_cause(metadata, cause)
        _set_type(self, type)
        _set_data(self, EMPTY if data is EMPTY else freeze_json(data, "data"))
        _set_metadata(self, freeze_json(metadata, "metadata") if metadata else EMPTY)
        if id:
            if _type(id) is not str:
                raise InvalidType(f"event id must be a str, not {_type(id).__name__}")
            if not id.isascii() or "\x00" in id:
                check_storable_text(id, "event id")
            _set_id(self, id)
        if time is not None:
            if not isinstance(time, datetime):
                raise InvalidType(f"event time must be a datetime, not {_type(time).__name__}")
            _set_time(self, time)
        if not id or time is None:
            fresh = stamp()
            if fresh is None:  # reproducible mode: fixed ids and clock, in order of creation
                if not id:
                    _set_id(self, new_id())
                if time is None:
                    _set_time(self, now())
            else:
                _set_stamp(self, fresh)

    def __getattr__(self, name: str) -> Any:
        # Python calls this only for an attribute that is not set: an id or a time not yet
        # written out from the stamp. Writing one out always gives the same value, so two
        # threads reading it at once agree.
        if name == "id" or name == "time":
            prefix, serial, seconds = _get_stamp(self)
            if name == "id":
                value: Any = id_from(prefix, serial)
                _set_id(self, value)
            else:
                value = datetime.fromtimestamp(seconds, UTC)
                _set_time(self, value)
            return value
        raise AttributeError(f"{_type(self).__name__!r} object has no attribute {name!r}")

    def __hash__(self) -> int:  # payloads are dicts (unhashable); the id identifies an event
        return hash(self.id)

    def __repr__(self) -> str:
        parts = [repr(self.type)]
        if self.data:
            parts.append(repr(self.data))
        if self.metadata:
            parts.append(f"metadata={self.metadata!r}")
        parts.append(f"id={self.id!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict of this event (time as ISO 8601 text)."""
        return {
            "type": self.type,
            "data": self.data,
            "metadata": self.metadata,
            "id": self.id,
            "time": self.time.isoformat() if self.time else None,
        }


@dataclass(frozen=True, slots=True, init=False)
class RecordedEvent(Event):
    """An event read back from a store: where it sits in its stream and in the global log."""

    stream_id: str
    version: int
    position: int

    caused_by_handling: ClassVar[bool] = False

    def __init__(
        self,
        type: str,
        data: Any = EMPTY,
        metadata: dict[str, Any] = EMPTY,
        id: str = "",
        time: datetime | None = None,
        stream_id: str = "",
        version: int = 0,
        position: int = 0,
    ) -> None:
        Event.__init__(self, type, data, metadata, id, time)
        _set_stream_id(self, stream_id)
        _set_version(self, version)
        _set_position(self, position)

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        data = f", {self.data!r}" if self.data else ""
        return (
            f"RecordedEvent({self.stream_id!r} v{self.version} @{self.position}: "
            f"{self.type!r}{data})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **Event.to_dict(self),
            "stream_id": self.stream_id,
            "version": self.version,
            "position": self.position,
        }


# --- building RecordedEvents fast (the read path of every store) ----------------------------
#
# A store builds one RecordedEvent per event it reads, so this is the hottest code in the
# package. Going through __init__ would check and copy payloads that the store checked when it
# wrote them, so the builders below set the slots directly (the slot descriptors are fetched
# once). The field list is checked at import time, so a new field can't be silently left unset.

_FIELDS = ("type", "data", "metadata", "id", "time", "stream_id", "version", "position")
if tuple(f.name for f in fields(RecordedEvent)) != _FIELDS:  # pragma: no cover
    raise ImportError("RecordedEvent's fields changed: update eda_kit.events._FIELDS")
(
    _set_type,
    _set_data,
    _set_metadata,
    _set_id,
    _set_time,
    _set_stream_id,
    _set_version,
    _set_position,
) = (getattr(RecordedEvent, name).__set__ for name in _FIELDS)
_set_stamp = _Stamped._stamp.__set__  # type: ignore[attr-defined]
_get_stamp = _Stamped._stamp.__get__  # type: ignore[attr-defined]


def build_recorded(
    type: str,
    data: Any,
    metadata: Any,
    id: str,
    time: datetime | None,
    stream_id: str,
    version: int,
    position: int,
    _new: Any = object.__new__,
) -> RecordedEvent:
    """A ``RecordedEvent`` from values that are already checked and read-only (no copying).

    For stores only: ``data`` and ``metadata`` must already be frozen JSON (an ``Event``'s own
    payloads, or ``freeze_trusted`` output). Not for user input.
    """
    event = _new(RecordedEvent)
    _set_type(event, type)
    _set_data(event, data)
    _set_metadata(event, metadata)
    _set_id(event, id)
    _set_time(event, time)
    _set_stream_id(event, stream_id)
    _set_version(event, version)
    _set_position(event, position)
    return event


def recorded_from_storage(
    type: str,
    data: Any,
    metadata: dict[str, Any],
    id: str,
    time: datetime,
    stream_id: str,
    version: int,
    position: int,
) -> RecordedEvent:
    """Build a ``RecordedEvent`` from plain values a store wrote itself (already JSON-checked).

    Like :func:`build_recorded`, but makes the payloads read-only first (``freeze_trusted``):
    the right call for values straight out of ``json.loads``. Not for user input.
    """
    return build_recorded(
        type, freeze_trusted(data), freeze_trusted(metadata), id, time, stream_id, version, position
    )
