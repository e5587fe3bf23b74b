"""What every event store promises: the contract, its words, and the checks at the door.

An event store keeps events in two orders at once:

- **streams**: one per thing that changes (``"order-A1"``, ``"account-7"``). Inside a stream
  each event has a ``version``: 1, 2, 3, ... with no gaps. Rebuilding an order means reading
  its stream from version 1.
- **the global log**: every event of every stream, in the order they were stored. Each event
  has a ``position``: 1, 2, 3, ... A read model ("all orders shipped today") follows the
  global log and remembers the last position it handled.

Writers say what they believe the stream's version is (``expected_version``). If the store
disagrees, nothing is written and :class:`WrongExpectedVersion` says who was wrong by how
much. That one check is *optimistic concurrency*: no locks held while a user thinks, and two
writers that both read version 3 can't both append version 4.

=================  ===========================================================
expected_version   the append succeeds when ...
=================  ===========================================================
``ANY``            always (no check: last writer wins, use with care)
``NO_STREAM``      the stream does not exist yet (version 0)
``STREAM_EXISTS``  the stream has at least one event
``n`` (int >= 0)   the stream's version is exactly ``n``; ``0`` means "no stream
                   yet", the same as ``NO_STREAM`` (a new aggregate was loaded at
                   version 0, so it saves with ``expected_version=0``)
=================  ===========================================================

This module holds the words (``ANY``, ``NO_STREAM``, ``STREAM_EXISTS``), the error, the
:class:`EventStore` protocol both stores follow, :class:`Snapshot`, and the input checks the
stores share, so that both refuse exactly the same bad input with exactly the same message.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from ..errors import InvalidType, InvalidValue, WrongExpectedVersion
from ..events import Event, RecordedEvent, build_recorded
from ..payloads import FrozenDict, freeze_json, freeze_trusted

if TYPE_CHECKING:
    from .subscriptions import StoreSubscription

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "MAX_STREAM_ID_LENGTH",
    "ExpectedVersion",
    "EventStore",
    "Snapshot",
    "WrongExpectedVersion",
]

#: Longest stream id a store accepts (ids are names like "order-A1", not documents).
MAX_STREAM_ID_LENGTH: Final = 200


class ExpectedVersion:
    """The type of the three named expectations. There are exactly three instances."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:  # pickling (e.g. to another process) keeps the singleton
        return self._name


#: No check at all: append whatever the stream's version is.
ANY: Final = ExpectedVersion("ANY")
#: The stream must not exist yet (its version is 0).
NO_STREAM: Final = ExpectedVersion("NO_STREAM")
#: The stream must already have at least one event.
STREAM_EXISTS: Final = ExpectedVersion("STREAM_EXISTS")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A saved state of a stream's aggregate, as of ``version`` (kept outside the streams).

    ``state`` is a fresh, ordinary (mutable) JSON value on every load: changing it changes
    nothing in the store.
    """

    stream_id: str
    version: int
    state: Any


@runtime_checkable
class EventStore(Protocol):
    """What the notebooks, ``Repository``, ``Projection`` and ``Saga`` rely on.

    ``InMemoryEventStore`` and ``SQLiteEventStore`` both follow it and pass the same
    conformance tests; code written against this protocol runs on either.
    """

    def append(
        self,
        stream_id: str,
        events: Event | Sequence[Event],
        expected_version: ExpectedVersion | int = ANY,
    ) -> int: ...

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]: ...

    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]: ...

    def stream_version(self, stream_id: str) -> int: ...

    def last_position(self) -> int: ...

    def streams(self) -> list[str]: ...

    def replay(self, stream_id: str, handler: Callable[[RecordedEvent], Any]) -> int: ...

    def subscribe(
        self,
        handler: Callable[[RecordedEvent], Any],
        from_position: int = 1,
        *,
        checkpoint: str | None = None,
    ) -> StoreSubscription: ...

    def save_snapshot(self, stream_id: str, version: int, state: Any) -> None: ...

    def load_snapshot(self, stream_id: str, max_version: int | None = None) -> Snapshot | None: ...

    def load_checkpoint(self, name: str) -> int: ...

    def save_checkpoint(self, name: str, position: int) -> None: ...

    def close(self) -> None: ...


# --- checks at the door (shared by both stores, so both refuse the same things) -----------


def check_stream_id(stream_id: Any) -> str:
    """Return ``stream_id`` if it is a usable stream name, else raise a clear error."""
    if type(stream_id) is not str:
        if not isinstance(stream_id, str):
            raise InvalidType(f"stream id must be a str, not {type(stream_id).__name__}")
        stream_id = str.__str__(stream_id)  # a str subclass: keep just the text
    if not stream_id or stream_id.isspace():
        raise InvalidValue("stream id must be a non-empty name, e.g. 'order-A1'")
    if len(stream_id) > MAX_STREAM_ID_LENGTH:
        raise InvalidValue(
            f"stream id is {len(stream_id)} characters long; the limit is {MAX_STREAM_ID_LENGTH}"
        )
    if "\x00" in stream_id:
        raise InvalidValue("stream id must not contain NUL characters ('\\x00')")
    return stream_id


def check_expected_version(expected: Any) -> ExpectedVersion | int:
    """Return ``expected`` if it is ANY, NO_STREAM, STREAM_EXISTS or an int >= 0."""
    if isinstance(expected, ExpectedVersion):
        return expected
    if type(expected) is bool or not isinstance(expected, int):
        raise InvalidType(
            "expected_version must be ANY, NO_STREAM, STREAM_EXISTS or an int version, "
            f"not {type(expected).__name__} {expected!r}"
        )
    if expected < 0:
        raise InvalidValue(
            f"expected_version must be >= 0 (0 means 'no stream yet'), not {expected}"
        )
    return int(expected)


def version_matches(expected: ExpectedVersion | int, actual: int) -> bool:
    """Does a stream at version ``actual`` satisfy ``expected``?"""
    if expected is ANY:
        return True
    if expected is NO_STREAM:
        return actual == 0
    if expected is STREAM_EXISTS:
        return actual > 0
    return actual == expected


def check_events(events: Any) -> tuple[Event, ...]:
    """Turn one ``Event`` or a list/tuple of them into a tuple; refuse anything else."""
    if isinstance(events, Event):
        return (events,)
    if not isinstance(events, (list, tuple)):
        raise InvalidType(f"append takes an Event or a list of Events, not {type(events).__name__}")
    for index, event in enumerate(events):
        if not isinstance(event, Event):
            raise InvalidType(
                f"events[{index}] is a {type(event).__name__}, not an Event "
                "(build it with Event(type, data))"
            )
    return tuple(events)


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """An int (not a bool) that is at least ``minimum``, else a clear error naming ``name``."""
    if type(value) is bool or not isinstance(value, int):
        raise InvalidType(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise InvalidValue(f"{name} must be >= {minimum}, not {value}")
    return int(value)


def check_limit(limit: Any) -> int | None:
    """``None`` (no limit) or an int >= 0."""
    if limit is None:
        return None
    return check_positive_int(limit, "limit", minimum=0)


def check_name(name: Any, what: str = "checkpoint name") -> str:
    """A non-empty str used as a key (checkpoint names)."""
    if not isinstance(name, str):
        raise InvalidType(f"{what} must be a str, not {type(name).__name__}")
    if not name or name.isspace():
        raise InvalidValue(f"{what} must be a non-empty name")
    return str.__str__(name)


def _not_json(value: Any) -> Any:
    raise InvalidType(f"object of type {type(value).__name__} is not JSON")


_json_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# json.JSONEncoder.encode builds a new C encoder on every call; building it once saves a
# third of the time per event (make bench: "SQLiteEventStore append"). No circular-reference
# check: payloads are frozen JSON trees. The C encoder is private to the json module, hence
# the getattr: without it (other Pythons) dump_json falls back to the public encoder.
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_c_encoder = _make_c_encoder and _make_c_encoder(
    None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
)


def dump_json(value: Any) -> str:
    """Compact JSON text (no NaN/infinity: they are not JSON)."""
    if _c_encoder is None:  # pragma: no cover  (Pythons without the C accelerator)
        return _json_encoder.encode(value)
    return "".join(_c_encoder(value, 0))


def encode_state(state: Any) -> str:
    """Check a snapshot's state is JSON (TypeError naming the path) and return its text."""
    return dump_json(freeze_json(state, "state"))


def record_event(event: Event, stream_id: str, version: int, position: int) -> RecordedEvent:
    """The ``RecordedEvent`` for ``event`` stored at ``version`` / ``position``.

    The event's payloads are already checked and read-only, so they are shared, not copied.
    """
    return build_recorded(
        event.type, event.data, event.metadata, event.id, event.time, stream_id, version, position
    )


# --- reading stored events back fast (shared by the SQL stores) ------------------------------
# json.loads spends a third of its time in Python-level checks (str or bytes? leading
# whitespace?) that text a store wrote itself never needs. The C scanner behind it parses one
# JSON value starting at an index and returns (value, end). Justified by make bench's "read
# all" rows (SQLiteEventStore and PostgresEventStore).
_scan: Any = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_CONTAINERS = frozenset({dict, list})
_EMPTY = FrozenDict()  # read-only, so one shared instance serves every empty payload


def decode_stored_json(text: str) -> Any:
    """JSON text a store wrote itself -> a read-only value (``InvalidValue`` if corrupt)."""
    if text == "{}":
        return _EMPTY
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        raise InvalidValue(f"corrupt JSON in the event store: {text[:80]!r}")
    return freeze_trusted(value) if type(value) in _CONTAINERS else value


def events_from_rows(rows: Sequence[tuple[Any, ...]]) -> list[RecordedEvent]:
    """Rows of (position, stream_id, version, type, data, metadata, id, time) -> events.

    Payloads are JSON text and times ISO 8601 text, as both SQL stores keep them. The same
    result as ``eda_kit.events.recorded_from_storage`` for each row; the payloads are decoded
    straight into read-only containers, so ``build_recorded`` needs no copy.
    """
    decode = decode_stored_json
    parse_time = datetime.fromisoformat
    make = build_recorded
    return [
        make(
            type_,
            decode(data),
            decode(metadata),
            id_,
            parse_time(time_),
            stream_id,
            version,
            position,
        )
        for position, stream_id, version, type_, data, metadata, id_, time_ in rows
    ]
