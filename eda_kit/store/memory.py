"""``InMemoryEventStore``: the whole event store contract in a few Python lists.

Good for tests, notebooks and learning: everything lives in this process and is gone when
it ends. It keeps exactly the promises the SQLite store keeps (the same conformance tests
run against both), so code written against it moves to ``SQLiteEventStore`` unchanged.

Inside:

- ``_log``: every ``RecordedEvent`` in order; the event at position ``p`` is ``_log[p - 1]``.
- ``_streams``: stream id -> its events; the event at version ``v`` is ``stream[v - 1]``.
  A dict keeps insertion order, so ``streams()`` lists streams in order of first append.
- ``_ids``: stream id -> {event id: stored event}, so a retried append is recognised
  (``base.retried_append``) without scanning the stream.
- ``_snapshots`` and ``_checkpoints``: kept beside the log, never in it.

One lock makes "check the expected version, then append" a single step, so two threads
can't both append version 4 of the same stream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InvalidValue, StoreClosed
from ..events import Event, RecordedEvent
from ..trace import Tracer
from .base import (
    ANY,
    ExpectedVersion,
    Snapshot,
    WrongExpectedVersion,
    check_events,
    check_expected_version,
    check_limit,
    check_name,
    check_positive_int,
    check_stream_id,
    encode_state,
    record_event,
    retried_append,
    version_matches,
)
from .subscriptions import Subscribable

__all__ = ["InMemoryEventStore"]


class InMemoryEventStore(Subscribable):
    """An event store in memory: streams, a global log, snapshots, subscriptions.

    Give it a ``tracer`` to record each appended event ("sent", source = the stream id) and
    each delivery to a subscription ("delivered"/"failed", target = the subscription name).
    """

    def __init__(self, *, tracer: Tracer | None = None) -> None:
        super().__init__(tracer)
        self._lock = threading.RLock()
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._ids: dict[str, dict[str, RecordedEvent]] = {}
        self._snapshots: dict[str, dict[int, str]] = {}
        self._checkpoints: dict[str, int] = {}
        self._closed = False

    # --- writing -------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        events: Event | Sequence[Event],
        expected_version: ExpectedVersion | int = ANY,
    ) -> int:
        """Append one event or a batch to ``stream_id``; return the stream's new version.

        All or nothing: on a bad argument, a ``WrongExpectedVersion`` or a ``DuplicateEventId``
        nothing is stored. The same events appended again at the same expected version (a
        retry) store nothing and return the first append's result (see ``store/base.py``).
        An empty batch stores nothing and returns the current version (after the check).
        """
        stream_id = check_stream_id(stream_id)
        expected = check_expected_version(expected_version)
        batch = check_events(events)
        with self._lock:
            self._check_open()
            stream = self._streams.get(stream_id)
            actual = len(stream) if stream is not None else 0
            ids = self._ids.get(stream_id)
            if ids:
                held = {event.id: ids[event.id] for event in batch if event.id in ids}
                retried = retried_append(stream_id, expected, batch, held)
                if retried is not None:
                    return retried
            if not version_matches(expected, actual):
                raise WrongExpectedVersion(stream_id, expected, actual)
            if not batch:
                return actual
            start = len(self._log)
            recorded = [
                record_event(event, stream_id, actual + i, start + i)
                for i, event in enumerate(batch, start=1)
            ]
            # Nothing above can half-fail after this point: two list extends.
            if stream is None:
                stream = self._streams[stream_id] = []
                ids = self._ids[stream_id] = {}
            elif ids is None:
                ids = self._ids[stream_id] = {}
            stream.extend(recorded)
            self._log.extend(recorded)
            ids.update((event.id, event) for event in recorded)
        if self._tracer is not None:
            for event in recorded:
                self._tracer.record(stream_id, event.type, None, "sent", event_id=event.id)
        self._notify_subscribers()
        return actual + len(batch)

    # --- reading -------------------------------------------------------------------------

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with ``from_version <= version <= to_version``, oldest first."""
        stream_id = check_stream_id(stream_id)
        start = check_positive_int(from_version, "from_version")
        end = None if to_version is None else check_positive_int(to_version, "to_version", 0)
        with self._lock:
            self._check_open()
            stream = self._streams.get(stream_id)
            if stream is None:
                return []
            return stream[start - 1 : end]

    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]:
        """Events of all streams in global-log order, from ``from_position`` (at most ``limit``)."""
        start = check_positive_int(from_position, "from_position") - 1
        limit = check_limit(limit)
        with self._lock:
            self._check_open()
            return self._log[start : None if limit is None else start + limit]

    def stream_version(self, stream_id: str) -> int:
        """The stream's current version: the number of events in it (0 when absent)."""
        stream_id = check_stream_id(stream_id)
        with self._lock:
            self._check_open()
            stream = self._streams.get(stream_id)
            return len(stream) if stream is not None else 0

    def last_position(self) -> int:
        """Position of the newest event in the store (0 when empty)."""
        with self._lock:
            self._check_open()
            return len(self._log)

    def streams(self) -> list[str]:
        """All stream ids, in order of their first append."""
        with self._lock:
            self._check_open()
            return list(self._streams)

    def replay(self, stream_id: str, handler: Callable[[RecordedEvent], Any]) -> int:
        """Call ``handler(event)`` for each event of the stream, in order; return the count."""
        events = self.read_stream(stream_id)
        for event in events:
            handler(event)
        return len(events)

    # --- snapshots and checkpoints (beside the log, never in it) --------------------------

    def save_snapshot(self, stream_id: str, version: int, state: Any) -> None:
        """Keep ``state`` (JSON) as the stream's state at ``version`` (1..current version).

        Saving again at the same version replaces it. Streams and positions don't change.
        """
        stream_id = check_stream_id(stream_id)
        version = check_positive_int(version, "snapshot version")
        text = encode_state(state)
        with self._lock:
            self._check_open()
            current = self.stream_version(stream_id)
            if version > current:
                raise InvalidValue(
                    f"snapshot version {version} is ahead of stream {stream_id!r}, "
                    f"which is at version {current}"
                )
            self._snapshots.setdefault(stream_id, {})[version] = text

    def load_snapshot(self, stream_id: str, max_version: int | None = None) -> Snapshot | None:
        """The newest snapshot with ``version <= max_version`` (any version if None), or None."""
        stream_id = check_stream_id(stream_id)
        if max_version is not None:
            max_version = check_positive_int(max_version, "max_version", 0)
        with self._lock:
            self._check_open()
            saved = self._snapshots.get(stream_id, {})
            versions = [v for v in saved if max_version is None or v <= max_version]
            if not versions:
                return None
            version = max(versions)
            return Snapshot(stream_id, version, json.loads(saved[version]))

    def load_checkpoint(self, name: str) -> int:
        """The position saved under ``name`` (0 if none)."""
        name = check_name(name)
        with self._lock:
            self._check_open()
            return self._checkpoints.get(name, 0)

    def save_checkpoint(self, name: str, position: int) -> None:
        """Save ``position`` (0..last position) under ``name``, replacing any earlier value."""
        name = check_name(name)
        position = check_positive_int(position, "checkpoint position", 0)
        with self._lock:
            self._check_open()
            last = len(self._log)
            if position > last:
                raise InvalidValue(
                    f"checkpoint position {position} is beyond the end of the log ({last})"
                )
            self._checkpoints[name] = position

    # --- lifetime ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the store: subscriptions stop; later calls raise ``ValueError``."""
        self._close_subscriptions()
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the event store is closed")

    def __enter__(self) -> InMemoryEventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<InMemoryEventStore: {len(self._streams)} streams, {len(self._log)} events>"
