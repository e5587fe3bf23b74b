"""RabbitMQBus.publish vs raw aio-pika publishing, both with publisher confirms.

What each side does per event, one after another (each waits for its confirm before the next):
encode the event as JSON, publish it persistent and ``mandatory`` to a durable topic exchange
bound to one durable queue, and wait for the broker's ``basic.ack``. Raw aio-pika does it in an
``async`` loop of its own; ``RabbitMQBus.publish`` is called from plain (synchronous) code and
hands each publish to the bus's event-loop thread. The ratio is eda_kit's time over raw
aio-pika's: the *overhead* of the bus (goal: at most 1.3x). Contenders run in interleaved
blocks and the median block is compared (see ``publish_section``).
"""

from __future__ import annotations

import asyncio
import json
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
        import aio_pika  # noqa: F401
    except ImportError as error:
        raise Skip(f"aio-pika missing ({error})") from None
    url = services.find("rabbitmq")
    if url is None:
        raise Skip("no RabbitMQ answers (run `make services`, or set EDA_AMQP_URL)")
    return url


def _raw_body(event_id: str) -> bytes:
    return json.dumps(
        {
            "type": "order.updated",
            "data": PAYLOAD,
            "metadata": {},
            "id": event_id,
            "time": "2026-01-05T09:00:00+00:00",
        },
        separators=(",", ":"),
    ).encode()


def publish_section(count: int, block: int = 50) -> Section:
    """``count`` confirmed publishes per contender, in interleaved blocks of ``block``.

    The broker shares the machine's cores with everything else, so a publish's time swings with
    the load. Interleaving small blocks (raw, sync, async, raw, sync, async, ...) lands each
    busy moment on every contender alike, and the *median* block, not the best one, is
    compared. CPU time per publish (this process, all threads) is shown too: it is what the
    bus adds, whatever the broker's own delay.
    """
    url = _server()
    import aio_pika

    from eda_kit import Event
    from eda_kit.pubsub.rabbitmq import RabbitMQBus

    prefix = f"bench-{os.getpid()}-{secrets.token_hex(3)}"
    bus = RabbitMQBus(url, prefix=prefix)
    loop = asyncio.new_event_loop()  # raw aio-pika's loop, and the async caller's

    async def open_raw() -> tuple[Any, Any, Any]:
        connection = await aio_pika.connect(url)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(
            f"{prefix}.raw", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"{prefix}.raw.sink", durable=True)
        await queue.bind(exchange, routing_key="#")
        return connection, exchange, queue

    async def raw(number: int) -> None:
        """What a hand-written aio-pika publisher does per event: encode, publish, confirm."""
        for _ in range(number):
            event_id = secrets.token_hex(16)
            await exchange.publish(
                aio_pika.Message(
                    _raw_body(event_id),
                    content_type="application/json",
                    message_id=event_id,
                    type="order.updated",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="order.updated",
                mandatory=True,
            )

    def ours_sync(number: int) -> None:
        for _ in range(number):
            bus.publish(Event("order.updated", PAYLOAD))

    async def ours_async(number: int) -> None:
        for _ in range(number):
            await bus.publish_async(Event("order.updated", PAYLOAD))

    contenders: dict[str, Callable[[int], object]] = {
        "raw": lambda n: loop.run_until_complete(raw(n)),
        "sync": ours_sync,
        "async": lambda n: loop.run_until_complete(ours_async(n)),
    }
    blocks: dict[str, list[float]] = {name: [] for name in contenders}
    cpu = dict.fromkeys(contenders, 0.0)
    connection, exchange, queue = loop.run_until_complete(open_raw())
    try:
        sub = bus.subscribe("#", print, name="sink")
        sub.unsubscribe()  # a bound queue, no consumer: the publish path alone is timed
        for publish in contenders.values():
            publish(min(block, 10))  # warm up: first publishes, caches
        for _ in range(max(1, count // block)):
            for name, publish in contenders.items():
                cpu_started, started = time.process_time(), time.perf_counter()
                publish(block)
                blocks[name].append((time.perf_counter() - started) / block)
                cpu[name] += time.process_time() - cpu_started
        bus.purge("sink")
        bus.remove("sink")
        bus.delete_exchanges()
        loop.run_until_complete(queue.delete(if_unused=False, if_empty=False))
        loop.run_until_complete(exchange.delete())
    finally:
        loop.run_until_complete(connection.close())
        loop.close()
        bus.close()
    done = max(1, count // block) * block
    median = {name: statistics.median(times) for name, times in blocks.items()}
    per_cpu = {name: seconds / done for name, seconds in cpu.items()}
    raw_time = median["raw"]
    rows = [
        Row("raw aio-pika (the floor)", raw_time * 1e6, "µs/publish", 1.0, ours=False),
        Row("eda_kit RabbitMQBus.publish", median["sync"] * 1e6, "µs/publish",
            median["sync"] / raw_time),
        Row("eda_kit RabbitMQBus.publish_async", median["async"] * 1e6, "µs/publish",
            median["async"] / raw_time),
    ]  # fmt: skip
    return Section(
        "RabbitMQ: publish with confirms",
        f"{done} events per contender published one at a time, persistent and mandatory, each "
        f"waiting for its confirm; one durable queue bound; interleaved blocks of {block}, "
        "median block",
        rows,
        goal="eda_kit at most 1.3x raw aio-pika",
        met=max(median["sync"], median["async"]) / raw_time <= 1.3,
        ratio_label="x raw aio-pika",
        notes=[
            "CPU time per publish, this process: "
            + ", ".join(
                f"{label} {per_cpu[name] * 1e6:,.0f} µs"
                for name, label in (("raw", "raw"), ("sync", "publish"), ("async", "publish_async"))
            ),
            "publish hands each event to the bus's event-loop thread and waits for its result "
            "(two thread wake-ups per event that raw aio-pika, on one loop, does not need); "
            "publish_async from another event loop does the same hand-off, awaited",
        ],
    )


def latency_section(events: int) -> Section:
    """Append -> PostgresRelay (woken by LISTEN/NOTIFY) -> RabbitMQ -> a consumer's handler."""
    url = _server()
    from .bench_postgres import _drop, _schema
    from .bench_postgres import _server as postgres_server

    pg = postgres_server()
    import threading

    from eda_kit import Event
    from eda_kit.messaging.postgres import PostgresRelay
    from eda_kit.pubsub.rabbitmq import RabbitMQBus
    from eda_kit.store.postgres import PostgresEventStore

    schema = _schema()
    prefix = f"bench-{os.getpid()}-{secrets.token_hex(3)}"
    store = PostgresEventStore(pg, schema=schema)
    bus = RabbitMQBus(url, prefix=prefix)
    latencies: list[float] = []
    sent: dict[str, float] = {}
    arrived = threading.Event()

    def consume(event: Event) -> None:
        latencies.append(time.perf_counter() - sent[event.id])
        if len(latencies) == events:
            arrived.set()

    bus.subscribe("order.placed", consume, name="latency")
    relay = PostgresRelay(store, bus, name="latency")
    wake, stop = threading.Event(), threading.Event()
    store.subscribe(lambda event: wake.set(), from_position=1)  # LISTEN/NOTIFY wakes the relay

    def relay_loop() -> None:
        while not stop.is_set():
            wake.wait(0.5)
            wake.clear()
            relay.run()

    worker = threading.Thread(target=relay_loop, daemon=True)
    worker.start()
    try:
        for number in range(events):
            event = Event("order.placed", {"n": number})
            sent[event.id] = time.perf_counter()
            store.append(f"order-{number}", event)
            time.sleep(0.01)  # one order every 10 ms: latency, not throughput
        arrived.wait(60)
    finally:
        stop.set()
        wake.set()
        worker.join(5)
        relay.close()
        bus.remove("latency")
        bus.delete_exchanges()
        bus.close()
        store.close()
        _drop(pg, schema)
    ordered = sorted(latencies)
    if not ordered:
        raise Skip("no event arrived")

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    rows = [
        Row("p50: append -> handler", percentile(50) * 1e3, "ms", ours=True),
        Row("p99: append -> handler", percentile(99) * 1e3, "ms", ours=True),
    ]
    return Section(
        "End to end: PostgreSQL -> outbox relay -> RabbitMQ -> consumer",
        f"{events} orders appended 10 ms apart; PostgresRelay woken by LISTEN/NOTIFY publishes "
        "with confirms; a RabbitMQBus consumer records when each handler ran",
        rows,
        notes=[f"{len(ordered)} of {events} events arrived"],
    )
