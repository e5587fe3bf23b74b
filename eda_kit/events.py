"""Events: facts about something that happened, named in the past tense.

An ``Event`` has a ``type`` ("OrderPlaced", "order.created"), a JSON ``data`` payload, JSON
``metadata`` (who caused it, correlation ids), an ``id`` and a ``time``. It is immutable: what
happened, happened. ::

    >>> Event("order.created", {"order_id": "A1"}, metadata={"correlation_id": "c-1"})

A ``RecordedEvent`` is an event as an event store gives it back: the same fields plus the
``stream_id`` it belongs to, its ``version`` in that stream (1, 2, 3, ...) and its ``position``
in the store's global log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from .clock import new_id, now
from .payloads import freeze_json, freeze_trusted

__all__ = ["Event", "RecordedEvent", "build_recorded", "recorded_from_storage"]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened. ``data`` and ``metadata`` must be JSON (checked here)."""

    type: str
    data: Any = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    time: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.type, str):
            raise TypeError(f"event type must be a str, not {type(self.type).__name__}")
        if not self.type.strip():
            raise ValueError("event type must be a non-empty name, e.g. 'OrderPlaced'")
        if not isinstance(self.metadata, dict):
            raise TypeError(
                f"metadata must be a dict of JSON values, not {type(self.metadata).__name__}"
            )
        # A frozen dataclass can still set its own fields through object.__setattr__.
        object.__setattr__(self, "data", freeze_json(self.data, "data"))
        object.__setattr__(self, "metadata", freeze_json(self.metadata, "metadata"))
        if not self.id:
            object.__setattr__(self, "id", new_id())
        elif not isinstance(self.id, str):
            raise TypeError(f"event id must be a str, not {type(self.id).__name__}")
        if self.time is None:
            object.__setattr__(self, "time", now())
        elif not isinstance(self.time, datetime):
            raise TypeError(f"event time must be a datetime, not {type(self.time).__name__}")

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


@dataclass(frozen=True, slots=True)
class RecordedEvent(Event):
    """An event read back from a store: where it sits in its stream and in the global log."""

    stream_id: str = ""
    version: int = 0
    position: int = 0

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
