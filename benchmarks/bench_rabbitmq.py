"""RabbitMQBus.publish vs raw aio-pika publishing, both with publisher confirms.

What each side does per event, one after another (each waits for its confirm before the next):
encode the event as JSON, publish it persistent and ``mandatory`` to a durable topic exchange
bound to one durable queue, and wait for the broker's ``basic.ack``. Raw aio-pika does it in an
``async`` loop of its own; ``RabbitMQBus.publish`` is called from plain (synchronous) code and
hands each publish to the bus's event-loop thread. The ratio is eda_kit's time over raw
aio-pika's: the *overhead* of the bus (goal: at most 1.3x).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time

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


async def _raw_publish(url: str, exchange_name: str, count: int) -> float:
    """Seconds per confirmed publish with aio-pika alone (queue and binding made here)."""
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"{exchange_name}.sink", durable=True)
        await queue.bind(exchange, routing_key="#")
        ids = [secrets.token_hex(16) for _ in range(count)]
        started = time.perf_counter()
        for event_id in ids:
            body = json.dumps(
                {
                    "type": "order.updated",
                    "data": PAYLOAD,
                    "metadata": {},
                    "id": event_id,
                    "time": "2026-01-05T09:00:00+00:00",
                },
                separators=(",", ":"),
            ).encode()
            await exchange.publish(
                aio_pika.Message(
                    body,
                    content_type="application/json",
                    message_id=event_id,
                    type="order.updated",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="order.updated",
                mandatory=True,
            )
        elapsed = time.perf_counter() - started
        await queue.purge()
        await queue.delete()
        await exchange.delete()
    return elapsed / count


def publish_section(count: int, rounds: int) -> Section:
    url = _server()
    from eda_kit import Event
    from eda_kit.pubsub.rabbitmq import RabbitMQBus

    prefix = f"bench-{os.getpid()}-{secrets.token_hex(3)}"
    best = {"sync": float("inf"), "async": float("inf"), "raw": float("inf")}
    bus = RabbitMQBus(url, prefix=prefix)
    try:
        sub = bus.subscribe("#", print, name="sink")
        sub.unsubscribe()  # a bound queue, no consumer: the publish path alone is timed

        def ours_sync() -> float:
            events = [Event("order.updated", PAYLOAD) for _ in range(count)]
            started = time.perf_counter()
            for event in events:
                bus.publish(event)
            return (time.perf_counter() - started) / count

        async def ours_async() -> float:
            events = [Event("order.updated", PAYLOAD) for _ in range(count)]
            started = time.perf_counter()
            for event in events:
                await bus.publish_async(event)
            return (time.perf_counter() - started) / count

        for round_number in range(rounds):
            best["sync"] = min(best["sync"], ours_sync())
            best["async"] = min(best["async"], asyncio.run(ours_async()))
            best["raw"] = min(
                best["raw"], asyncio.run(_raw_publish(url, f"{prefix}.raw{round_number}", count))
            )
            bus.purge("sink")
        bus.remove("sink")
        bus.delete_exchanges()
    finally:
        bus.close()
    raw = best["raw"]
    rows = [
        Row("raw aio-pika (the floor)", raw * 1e6, "µs/publish", 1.0, ours=False),
        Row("eda_kit RabbitMQBus.publish", best["sync"] * 1e6, "µs/publish", best["sync"] / raw),
        Row(
            "eda_kit RabbitMQBus.publish_async",
            best["async"] * 1e6,
            "µs/publish",
            best["async"] / raw,
        ),
    ]
    return Section(
        "RabbitMQ: publish with confirms",
        f"{count} events published one at a time, persistent and mandatory, each waiting for "
        f"its confirm; one durable queue bound; best of {rounds} rounds",
        rows,
        goal="eda_kit at most 1.3x raw aio-pika",
        met=max(best["sync"], best["async"]) / raw <= 1.3,
        ratio_label="x raw aio-pika",
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
