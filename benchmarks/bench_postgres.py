"""PostgresEventStore vs the eventsourcing library's PostgresApplicationRecorder.

Same server, same durability (the server's own settings: ``synchronous_commit=on``, so every
commit waits for its WAL flush, on both sides), each side in a fresh schema per round, JSON
encoding and decoding timed on both sides. Both serialise appends the same way in spirit
(eventsourcing: ``LOCK TABLE ... IN EXCLUSIVE MODE``; eda_kit: the position counter's row lock),
so the comparison is about the work around the lock: round trips, statements, decoding.

Then the same with 8 writer *processes* appending at once, each to its own stream: that is
where serialised commits show, as one events/s figure per side. The ratio is eventsourcing's
time over eda_kit's: above 1.0 means eda_kit is faster.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import time
from typing import Any

from .harness import Row, Section, Skip, timed

PAYLOAD = {"order_id": "A1", "amount": 30, "items": ["book", "pen"]}


def _server() -> str:
    from eda_kit import services

    try:
        import psycopg  # noqa: F401
        from eventsourcing.postgres import PostgresDatastore  # noqa: F401
    except ImportError as error:
        raise Skip(f"psycopg or eventsourcing[postgres] missing ({error})") from None
    url = services.find("postgres")
    if url is None:
        raise Skip("no PostgreSQL answers (run `make services`, or set EDA_POSTGRES_URL)")
    return url


def _schema() -> str:
    return f"bench_{os.getpid()}_{secrets.token_hex(3)}"


def _drop(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _their_recorder(url: str, schema: str, create: bool) -> tuple[Any, Any]:
    """eventsourcing's recorder on ``url``, in ``schema`` (created with its table if asked)."""
    import psycopg
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    params = psycopg.conninfo.conninfo_to_dict(url)
    if create:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    datastore = PostgresDatastore(
        dbname=str(params.get("dbname", "postgres")),
        host=str(params.get("host", "127.0.0.1")),
        port=str(params.get("port", 5432)),
        user=str(params.get("user", "postgres")),
        password=str(params.get("password", "")),
        schema=schema,
        originator_id_type="text",
    )
    recorder = PostgresApplicationRecorder(datastore)
    if create:
        recorder.create_table()
    return recorder, datastore


# --- single process: the four operations ------------------------------------------------------


def store_section(events: int, batch: int, rounds: int) -> Section:
    url = _server()
    from eda_kit.store.postgres import PostgresEventStore

    results: dict[str, dict[str, float]] = {"eda_kit": {}, "eventsourcing": {}}
    for _ in range(rounds):
        ours_schema, theirs_schema = _schema(), _schema()
        ours = PostgresEventStore(url, schema=ours_schema)
        theirs, datastore = _their_recorder(url, theirs_schema, create=True)
        try:
            for side, operation, seconds in _one_round(ours, theirs, events, batch):
                results[side][operation] = min(results[side].get(operation, float("inf")), seconds)
        finally:
            ours.close()
            datastore.close()
            _drop(url, ours_schema)
            _drop(url, theirs_schema)

    rows = []
    for operation, seconds in results["eda_kit"].items():
        peer = results["eventsourcing"][operation]
        rows.append(Row(f"{operation}: eda_kit", seconds * 1e6, "µs/event", peer / seconds))
        rows.append(Row(f"{operation}: eventsourcing", peer * 1e6, "µs/event", 1.0))
    met = all(row.ratio >= 1.0 for row in rows if row.name.endswith("eda_kit"))
    return Section(
        "Event store: PostgreSQL, synchronous_commit=on",
        f"{events} single appends with expected version, {events // batch or 1} batches of "
        f"{batch}, then read-all and read-one-stream, against one local PostgreSQL; JSON timed "
        f"on both sides; best of {rounds} rounds in fresh schemas",
        rows,
        goal="eda_kit at least 1x eventsourcing on all four",
        met=met,
        ratio_label="speed-up vs eventsourcing",
    )


def _one_round(ours: Any, theirs: Any, events: int, batch: int):
    from eventsourcing.persistence import StoredEvent

    from eda_kit import Event
    from eda_kit.store import NO_STREAM

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

    total = events + batches * batch

    def ours_read_all() -> None:
        assert len(ours.read_all()) == total

    def theirs_read_all() -> None:
        notifications = theirs.select_notifications(start=1, limit=total + 1)
        assert len([json.loads(n.state) for n in notifications]) == total

    yield "eda_kit", "read all", timed(ours_read_all) / total
    yield "eventsourcing", "read all", timed(theirs_read_all) / total

    def ours_read_stream() -> None:
        assert len(ours.read_stream("order-1")) == events

    def theirs_read_stream() -> None:
        assert len([json.loads(s.state) for s in theirs.select_events("order-1")]) == events

    yield "eda_kit", "read one stream", timed(ours_read_stream) / events
    yield "eventsourcing", "read one stream", timed(theirs_read_stream) / events


# --- 8 writer processes at once ----------------------------------------------------------------


def _writer(
    side: str, url: str, schema: str, stream: str, count: int, barrier: Any, results: Any
) -> None:
    """One writer process: wait for the others, then ``count`` single appends to ``stream``."""
    from eda_kit import Event

    if side == "eda_kit":
        from eda_kit.store.postgres import PostgresEventStore

        store = PostgresEventStore(url, schema=schema)
        events = [Event("OrderUpdated", PAYLOAD) for _ in range(count)]
        barrier.wait()
        started = time.monotonic()
        for version, event in enumerate(events):
            store.append(stream, event, expected_version=version)
        results.put((started, time.monotonic()))
        store.close()
    else:
        from eventsourcing.persistence import StoredEvent

        recorder, datastore = _their_recorder(url, schema, create=False)
        barrier.wait()
        started = time.monotonic()
        for version in range(count):
            recorder.insert_events(
                [StoredEvent(stream, version + 1, "OrderUpdated", json.dumps(PAYLOAD).encode())]
            )
        results.put((started, time.monotonic()))
        datastore.close()


def _concurrent_round(side: str, url: str, writers: int, count: int) -> float:
    """Events per second of ``writers`` processes appending ``count`` events each."""
    schema = _schema()
    if side == "eda_kit":
        from eda_kit.store.postgres import PostgresEventStore

        PostgresEventStore(url, schema=schema).close()  # the tables, once
    else:
        _their_recorder(url, schema, create=True)[1].close()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(writers), context.Queue()
    processes = [
        context.Process(
            target=_writer, args=(side, url, schema, f"writer-{n}", count, barrier, results)
        )
        for n in range(writers)
    ]
    try:
        for process in processes:
            process.start()
        spans = [results.get(timeout=300) for _ in processes]
        for process in processes:
            process.join(timeout=60)
    finally:
        _drop(url, schema)
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return writers * count / elapsed


def concurrent_section(writers: int, count: int, rounds: int) -> Section:
    url = _server()
    best = {"eda_kit": 0.0, "eventsourcing": 0.0}
    for _ in range(rounds):
        for side in best:  # interleaved: a busy moment lands on both
            best[side] = max(best[side], _concurrent_round(side, url, writers, count))
    ours, theirs = best["eda_kit"], best["eventsourcing"]
    rows = [
        Row(f"{writers} writers: eda_kit", 1e6 / ours, "µs/event", ours / theirs),
        Row(f"{writers} writers: eventsourcing", 1e6 / theirs, "µs/event", 1.0),
    ]
    return Section(
        f"Event store: PostgreSQL, {writers} writer processes at once",
        f"{writers} processes, each {count} single appends with expected version to its own "
        f"stream, started together; time per event = wall time / all events; best of {rounds}",
        rows,
        goal="eda_kit at least 1x eventsourcing",
        met=ours >= theirs,
        ratio_label="speed-up vs eventsourcing",
        notes=[f"eda_kit {ours:,.0f} events/s, eventsourcing {theirs:,.0f} events/s"],
    )
