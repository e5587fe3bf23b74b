"""PostgresEventStore vs the eventsourcing library's PostgresApplicationRecorder.

Same server, same durability (the server's own settings: ``synchronous_commit=on``, so every
commit waits for its WAL flush, on both sides), each side in a fresh schema per round, JSON
encoding and decoding timed on both sides. Both serialise appends the same way in spirit
(eventsourcing: ``LOCK TABLE ... IN EXCLUSIVE MODE``; eda_kit: the position counter's row lock),
so the comparison is about the work around the lock: round trips, statements, decoding.

Then the same with 8 writer *processes* appending at once, each to its own stream: that is
where serialised commits show, as one events/s figure per side. The ratio is eventsourcing's
time over eda_kit's: above 1.0 means eda_kit is faster. Within a round the two sides take
turns (``_alternating``), so a busy moment on a shared machine lands on both alike.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

from .harness import Row, Section, Skip

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
        f"on both sides; the two sides alternate in turns (25 single appends, one batch, one "
        f"read) and the median turn counts; best of {rounds} rounds in fresh schemas",
        rows,
        goal="eda_kit at least 1x eventsourcing on all four",
        met=met,
        ratio_label="speed-up vs eventsourcing",
    )


def _alternating(work: dict[str, Callable[[int], int]], times: int) -> dict[str, float]:
    """Median seconds per event of each side: ``times`` turns, the sides alternating.

    ``work[side](turn)`` does one turn's work and returns how many events it handled. On a
    shared machine the load swings; turns that alternate (and swap who goes first) land each
    busy moment on both sides alike, and the median turn ignores the worst of them.
    """
    per_event: dict[str, list[float]] = {side: [] for side in work}
    sides = list(work)
    for turn in range(times):
        for side in sides if turn % 2 == 0 else reversed(sides):
            started = time.perf_counter()
            handled = work[side](turn)
            per_event[side].append((time.perf_counter() - started) / handled)
    return {side: statistics.median(values) for side, values in per_event.items()}


def _one_round(ours: Any, theirs: Any, events: int, batch: int, block: int = 25):
    from eventsourcing.persistence import StoredEvent

    from eda_kit import Event
    from eda_kit.store import NO_STREAM

    block = min(block, events)
    updates = [Event("OrderUpdated", PAYLOAD) for _ in range(events)]
    blocks = max(1, events // block)

    def ours_single(turn: int) -> int:
        for version in range(turn * block, (turn + 1) * block):
            ours.append("order-1", updates[version], expected_version=version)
        return block

    def theirs_single(turn: int) -> int:
        for version in range(turn * block, (turn + 1) * block):
            theirs.insert_events(
                [StoredEvent("order-1", version + 1, "OrderUpdated", json.dumps(PAYLOAD).encode())]
            )
        return block

    single = _alternating({"eda_kit": ours_single, "eventsourcing": theirs_single}, blocks)
    for side, seconds in single.items():
        yield side, "single appends", seconds

    batches = max(1, events // batch)
    label = f"{batch}-event batches"
    prepared = [[Event("ItemAdded", PAYLOAD) for _ in range(batch)] for _ in range(batches)]

    def ours_batch(turn: int) -> int:
        ours.append(f"batch-{turn}", prepared[turn], expected_version=NO_STREAM)
        return batch

    def theirs_batch(turn: int) -> int:
        theirs.insert_events(
            [
                StoredEvent(f"batch-{turn}", version, "ItemAdded", json.dumps(PAYLOAD).encode())
                for version in range(1, batch + 1)
            ]
        )
        return batch

    for side, seconds in _alternating(
        {"eda_kit": ours_batch, "eventsourcing": theirs_batch}, batches
    ).items():
        yield side, label, seconds

    total = blocks * block + batches * batch

    def ours_read_all(turn: int) -> int:
        assert len(ours.read_all()) == total
        return total

    def theirs_read_all(turn: int) -> int:
        notifications = theirs.select_notifications(start=1, limit=total + 1)
        assert len([json.loads(n.state) for n in notifications]) == total
        return total

    for side, seconds in _alternating(
        {"eda_kit": ours_read_all, "eventsourcing": theirs_read_all}, 5
    ).items():
        yield side, "read all", seconds

    def ours_read_stream(turn: int) -> int:
        assert len(ours.read_stream("order-1")) == blocks * block
        return blocks * block

    def theirs_read_stream(turn: int) -> int:
        assert len([json.loads(s.state) for s in theirs.select_events("order-1")]) == blocks * block
        return blocks * block

    for side, seconds in _alternating(
        {"eda_kit": ours_read_stream, "eventsourcing": theirs_read_stream}, 5
    ).items():
        yield side, "read one stream", seconds


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
