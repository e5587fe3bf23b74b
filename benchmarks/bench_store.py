"""SQLiteEventStore vs the eventsourcing library's SQLiteApplicationRecorder.

Same durability on both sides (WAL, synchronous=FULL: SQLite's default, which eventsourcing
keeps), and JSON encoding/decoding timed on both sides, since eda_kit's store does it for you.
Both sides start from events that already exist (eda_kit ``Event`` objects, built before the
clock starts, as an aggregate would have built them; for eventsourcing, the payload dicts) and
the timed part is what a store does: encode, check the version, write, commit; or read, decode.
The ratio is eventsourcing's time over eda_kit's: above 1.0 means eda_kit is faster.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .harness import Row, Section, Skip, timed


def store_section(events: int, batch: int, rounds: int) -> Section:
    try:
        from eda_kit.store import SQLiteEventStore
    except ImportError as error:
        raise Skip(f"eda_kit.store is missing ({error})") from None
    try:
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
    except ImportError as error:
        raise Skip(
            f"the eventsourcing library is missing ({error}): the bench extra has it"
        ) from None

    results: dict[str, dict[str, float]] = {"eda_kit": {}, "eventsourcing": {}}

    def record(side: str, operation: str, seconds: float) -> None:
        results[side][operation] = min(results[side].get(operation, float("inf")), seconds)

    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(rounds):
            ours = SQLiteEventStore(str(Path(folder) / f"eda-{round_number}.db"))
            datastore = SQLiteDatastore(
                str(Path(folder) / f"es-{round_number}.db"), originator_id_type="text"
            )
            theirs = SQLiteApplicationRecorder(datastore)
            theirs.create_table()
            for side, operation, seconds in _one_round(ours, theirs, events, batch):
                record(side, operation, seconds)
            ours.close()
            datastore.close()

    rows = []
    for operation, seconds in results["eda_kit"].items():
        peer = results["eventsourcing"][operation]
        rows.append(Row(f"{operation}: eda_kit", seconds * 1e6, "µs/event", peer / seconds))
        rows.append(Row(f"{operation}: eventsourcing", peer * 1e6, "µs/event", 1.0))
    met = all(row.ratio >= 1.0 for row in rows if row.name.endswith("eda_kit"))
    return Section(
        "Event store: SQLite, synchronous=FULL",
        f"{events} single appends with expected version, {events // batch or 1} batches of "
        f"{batch}, then read-all and read-one-stream; JSON timed on both sides; best of "
        f"{rounds} rounds in fresh files",
        rows,
        goal="eda_kit at least 1x eventsourcing on all four",
        met=met,
        ratio_label="speed-up vs eventsourcing",
    )


PAYLOAD = {"order_id": "A1", "amount": 30, "items": ["book", "pen"]}


def _one_round(ours, theirs, events: int, batch: int):
    """Time the four operations once on each side, in fresh files; yields (side, op, s/event)."""
    from eventsourcing.persistence import StoredEvent

    from eda_kit import Event
    from eda_kit.store import NO_STREAM

    # 1. single appends, each with the expected version
    updates = [Event("OrderUpdated", PAYLOAD) for _ in range(events)]

    def ours_single() -> None:
        for version, event in enumerate(updates):
            ours.append("order-1", event, expected_version=version)

    def theirs_single() -> None:
        for version in range(events):
            theirs.insert_events(
                [StoredEvent("order-1", version + 1, "OrderUpdated", json.dumps(PAYLOAD).encode())]
            )

    yield "eda_kit", "single appends", timed(ours_single) / events
    yield "eventsourcing", "single appends", timed(theirs_single) / events

    # 2. batches of `batch` events, one new stream per batch
    batches = max(1, events // batch)
    label = f"{batch}-event batches"
    prepared = [[Event("ItemAdded", PAYLOAD) for _ in range(batch)] for _ in range(batches)]

    def ours_batches() -> None:
        for number, items in enumerate(prepared):
            ours.append(f"batch-{number}", items, expected_version=NO_STREAM)

    def theirs_batches() -> None:
        for number in range(batches):
            theirs.insert_events(
                [
                    StoredEvent(
                        f"batch-{number}", version, "ItemAdded", json.dumps(PAYLOAD).encode()
                    )
                    for version in range(1, batch + 1)
                ]
            )

    yield "eda_kit", label, timed(ours_batches) / (batches * batch)
    yield "eventsourcing", label, timed(theirs_batches) / (batches * batch)

    # 3. read everything, in global order, decoded
    total = events + batches * batch

    def ours_read_all() -> None:
        assert len(ours.read_all()) == total

    def theirs_read_all() -> None:
        notifications = theirs.select_notifications(start=1, limit=total + 1)
        assert len([json.loads(n.state) for n in notifications]) == total

    yield "eda_kit", "read all", timed(ours_read_all) / total
    yield "eventsourcing", "read all", timed(theirs_read_all) / total

    # 4. read one stream, decoded
    def ours_read_stream() -> None:
        assert len(ours.read_stream("order-1")) == events

    def theirs_read_stream() -> None:
        assert len([json.loads(s.state) for s in theirs.select_events("order-1")]) == events

    yield "eda_kit", "read one stream", timed(ours_read_stream) / events
    yield "eventsourcing", "read one stream", timed(theirs_read_stream) / events
