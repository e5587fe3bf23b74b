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

**Retries are safe (idempotent append).** A writer whose append timed out can't know whether
it was stored. It retries with the *same* events (same ids) and the same ``expected_version``.
The store follows KurrentDB's rule: when every event id of the batch is already in the stream,
stored by one append right after ``expected_version``, the retry writes nothing and returns
what the first append returned (the version of its last event). Anything else with known ids
is refused with :class:`DuplicateEventId`, writing nothing: some ids stored and some not, the
ids stored at another place in the stream (or in another order), an id stored with another
type, data or metadata, or one id twice in a batch. With ``ANY`` and ``STREAM_EXISTS``
(no version to compare) a batch stored as a whole anywhere in the stream counts as the retry.
Ids are checked per stream: one id may appear in two streams (as in KurrentDB).

This module holds the words (``ANY``, ``NO_STREAM``, ``STREAM_EXISTS``), the errors, the
:class:`EventStore` protocol every store follows, :class:`Snapshot`, the rule above
(:func:`retried_append`), and the input checks the stores share, so that all refuse exactly the
same bad input with exactly the same message.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from ..errors import DuplicateEventId, InvalidType, InvalidValue, WrongExpectedVersion
from ..events import Event, RecordedEvent, build_recorded
from ..payloads import MAX_DEPTH, FrozenDict, check_storable_text, freeze_json, freeze_trusted

if TYPE_CHECKING:
    from .subscriptions import StoreSubscription

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "MAX_STREAM_ID_LENGTH",
    "MAX_SECONDS",
    "ExpectedVersion",
    "EventStore",
    "Snapshot",
    "TransactionalCheckpoint",
    "WrongExpectedVersion",
    "DuplicateEventId",
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
class TransactionalCheckpoint(Protocol):
    """A subscriber's position kept in the subscriber's own database, saved with its work.

    A checkpoint the *store* keeps (``subscribe(handler, checkpoint="emails")``) is saved after
    the handler's work, in another database: a crash in between delivers the event again. When
    the handler's work is itself a database change (a read model, an inbox table), the position
    can live in that database and be saved in the same transaction as the change. Then there is
    no "in between": after a crash either both happened or neither did, and the event is
    applied exactly once. ``store.subscribe(handler, checkpoint=<this>)`` does, for each event::

        with checkpoint.transaction() as unit:            # BEGIN (and take the write lock)
            if checkpoint.saved(unit) != previous:        # someone else moved it: roll back
                raise CheckpointConflict(...)
            handler(event, unit)                          # the handler's change, through `unit`
            checkpoint.save(unit, event.position)         # the position, same transaction
                                                          # COMMIT (ROLLBACK if anything raised)

    and, when it starts, resumes after ``checkpoint.load()``. ``SQLiteReadModel.checkpoint(name)``
    is one; a PostgreSQL read model implements the same five members with its own connection.

    - ``name``: the subscriber's name (one position per name).
    - ``load()``: the saved position (0 when none), read outside any transaction.
    - ``transaction()``: a context manager that commits on a normal exit and rolls back when
      the block raises; it yields the *unit of work* handed to the handler (a read model, a
      cursor...). It must hold the database's write lock for this checkpoint from the start
      (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE`` on its row), so that
      two subscribers with the same name take turns.
    - ``saved(unit)``: the saved position, read inside the transaction.
    - ``save(unit, position)``: store ``position``, inside the transaction.
    """

    name: str

    def load(self) -> int: ...

    def transaction(self) -> AbstractContextManager[Any]: ...

    def saved(self, unit: Any) -> int: ...

    def save(self, unit: Any, position: int) -> None: ...


@runtime_checkable
class EventStore(Protocol):
    """What the notebooks, ``Repository``, ``Projection`` and ``Saga`` rely on.

    ``InMemoryEventStore`` and ``SQLiteEventStore`` both follow it and pass the same
    conformance tests (``tests/unit/test_store_conformance.py``); code written against this
    protocol runs on either. A new store (PostgreSQL...) implements, besides the signatures:

    - ``append``: atomic, checked against ``expected_version`` (:func:`version_matches`) in the
      same step as the write; a retry of a stored append returns its result and writes nothing,
      other known ids raise ``DuplicateEventId`` (:func:`retried_append` is the rule).
    - ``subscribe``: see ``store/subscriptions.py`` (mix in ``Subscribable`` and call
      ``_notify_subscribers()`` after each commit); ``checkpoint`` is a name the store keeps, or
      a :class:`TransactionalCheckpoint` kept in the handler's own database.
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
        handler: Callable[..., Any],
        from_position: int = 1,
        *,
        checkpoint: str | TransactionalCheckpoint | None = None,
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
    if not stream_id.isascii():
        check_storable_text(stream_id, "stream id")
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
    """Turn one ``Event`` or a list/tuple of them into a tuple; refuse anything else.

    Also refuses a batch that holds one event id twice (it would name two events).
    """
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
    if len(events) > 1 and len({event.id for event in events}) < len(events):
        first: dict[str, int] = {}
        for index, event in enumerate(events):
            if event.id in first:
                raise InvalidValue(
                    f"events[{index}] has the same id as events[{first[event.id]}] "
                    f"({event.id!r}): each event of a batch needs its own id"
                )
            first[event.id] = index
    return tuple(events)


def retried_append(
    stream_id: str,
    expected: ExpectedVersion | int,
    batch: Sequence[Event],
    stored: dict[str, RecordedEvent],
) -> int | None:
    """Is this append a retry of one already stored? KurrentDB's idempotence rule, for every store.

    ``stored`` maps the batch's event ids that the stream already holds to those stored events
    (a store looks them up; it is empty for a fresh batch). Returns ``None`` when no id is
    stored (append as usual), the first append's result (the version of its last event) when
    the batch is that append again, and raises :class:`DuplicateEventId` otherwise.
    """
    if not stored:
        return None
    ids = [event.id for event in batch]
    missing = [event_id for event_id in ids if event_id not in stored]
    if missing:
        held = [event_id for event_id in ids if event_id in stored]
        raise DuplicateEventId(
            stream_id,
            held,
            f"{len(held)} of the {len(ids)} events of this append are already stored "
            f"({_where(held, stored)}) and {len(missing)} are not",
        )
    versions = [stored[event_id].version for event_id in ids]
    first = versions[0]
    if versions != list(range(first, first + len(ids))):
        raise DuplicateEventId(
            stream_id,
            ids,
            f"the events of this append are stored, but not together in this order "
            f"({_where(ids, stored)})",
        )
    for event in batch:
        held_event = stored[event.id]
        if (held_event.type, held_event.data, held_event.metadata) != (
            event.type,
            event.data,
            event.metadata,
        ):
            raise DuplicateEventId(
                stream_id,
                [event.id],
                f"event {event.id!r} is stored at version {held_event.version} as "
                f"{held_event.type} {dump_json(held_event.data)}, and this append has "
                f"{event.type} {dump_json(event.data)}"
                + ("" if held_event.metadata == event.metadata else " (or other metadata)"),
            )
    after = first - 1
    wanted = 0 if expected is NO_STREAM else expected
    if isinstance(wanted, int) and after != wanted:
        raise DuplicateEventId(
            stream_id,
            ids,
            f"the events of this append are stored at {_versions(first, len(ids))}, that is "
            f"after version {after}, and this append expects version {wanted}",
        )
    return first + len(ids) - 1


def _versions(first: int, count: int) -> str:
    return f"version {first}" if count == 1 else f"versions {first}-{first + count - 1}"


def _where(ids: list[str], stored: dict[str, RecordedEvent]) -> str:
    shown = ", ".join(f"{event_id!r} at version {stored[event_id].version}" for event_id in ids[:3])
    return shown + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """An int (not a bool) that is at least ``minimum``, else a clear error naming ``name``."""
    if type(value) is bool or not isinstance(value, int):
        raise InvalidType(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise InvalidValue(f"{name} must be >= {minimum}, not {value}")
    return int(value)


#: The longest wait the kit accepts, in seconds (one day): a longer timeout or polling interval
#: is a mistake (milliseconds given as seconds?), and beyond it some waits overflow.
MAX_SECONDS: Final = 24 * 60 * 60.0


def check_seconds(value: Any, name: str, *, positive: bool = False) -> float:
    """A finite number of seconds, ``0 <= value <= MAX_SECONDS`` (``> 0`` when ``positive``).

    Refused at once, naming ``name``: a bool, a non-number, NaN, infinity, a negative number
    or more than a day. (``float("inf")`` would pass a plain ``>= 0`` check and fail much later,
    deep inside SQLite or ``threading``.)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"{name} must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise InvalidValue(f"{name} must be a finite number of seconds, not {value!r}")
    if seconds < 0 or (positive and seconds == 0):
        bound = "> 0" if positive else ">= 0"
        raise InvalidValue(f"{name} must be a number of seconds {bound}, not {value!r}")
    if seconds > MAX_SECONDS:
        raise InvalidValue(
            f"{name} must be at most {MAX_SECONDS:.0f} seconds (one day), not {value!r}"
        )
    return seconds


def check_limit(limit: Any) -> int | None:
    """``None`` (no limit) or an int >= 0."""
    if limit is None:
        return None
    return check_positive_int(limit, "limit", minimum=0)


def check_name(name: Any, what: str = "checkpoint name") -> str:
    """A non-empty str used as a key (checkpoint names), that every store can keep."""
    if not isinstance(name, str):
        raise InvalidType(f"{what} must be a str, not {type(name).__name__}")
    if not name or name.isspace():
        raise InvalidValue(f"{what} must be a non-empty name")
    return check_storable_text(str.__str__(name), what)


def _not_json(value: Any) -> Any:
    raise InvalidType(f"object of type {type(value).__name__} is not JSON")


_json_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# json.JSONEncoder.encode builds a new C encoder on every call; building it once saves a
# third of the time per event (make bench: "Event store: SQLite", single appends). No
# circular-reference check: payloads are frozen JSON trees. The C encoder is private to the
# json module, hence the getattr: without it (other Pythons) dump_json falls back to the
# public encoder.
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
# all" rows (the SQLite and PostgreSQL event store sections).
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


def unreadable_rows(where: str, rows: Sequence[tuple[Any, ...]], error: Exception) -> Exception:
    """After ``events_from_rows`` failed: name the row that can't be read, in ``where``.

    Runs only after a failure. A payload nested deeper than ``payloads.MAX_DEPTH`` (which no
    ``Event`` can carry: something else wrote it) and corrupt JSON become an ``InvalidValue``
    naming the position, stream and version; a ``RecursionError`` from a payload within the
    limit is not the data's fault (the caller's stack was already deep) and is given back.
    """
    for position, stream_id, version, _type, data, metadata, _id, time_ in rows:
        event = f"the event at position {position} (stream {stream_id!r}, version {version})"
        for text in (data, metadata):
            depth = json_depth(text)
            if depth > MAX_DEPTH:
                return InvalidValue(
                    f"{event} in {where} can't be read: its payload is nested {depth} levels "
                    f"deep, and eda_kit writes at most {MAX_DEPTH}. Something else wrote it"
                )
        try:
            decode_stored_json(data)
            decode_stored_json(metadata)
            datetime.fromisoformat(time_)
        except ValueError as problem:
            return InvalidValue(
                f"{event} in {where} can't be read: {problem}. It was changed outside eda_kit"
            )
        except RecursionError:
            return error
    return error


def json_depth(text: str) -> int:
    """How deep the lists and objects of JSON ``text`` nest, found without recursing."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


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
