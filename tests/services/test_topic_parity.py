"""The kit's topic matcher against RabbitMQ's own topic exchange, on generated patterns.

Notebook 02 says: whatever `eda_kit` accepts, it matches exactly as RabbitMQ does (it refuses
more: glued wildcards, empty words, wildcards in published keys). This test asks the broker
itself, with raw aio-pika and none of the kit's checks in between: a topic exchange, one queue
per pattern bound with it, every topic published once; the queues that receive a topic must be
exactly the patterns `eda_kit.pubsub.topics.matches` says match it. The patterns are generated
(seeded) from a small vocabulary with several `#` and `*`, so the hard cases (two `#`, `#` next
to `*`, `#` that must take zero words) come up many times.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from eda_kit.pubsub.topics import matches
from tests.services.support import unique_name

aio_pika = pytest.importorskip("aio_pika")

VOCABULARY = ["a", "b", "c"]


def generated(seed: int, patterns: int, topics: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    words = [*VOCABULARY, "*", "#", "#"]
    found_patterns = {"#", "#.#", "*.#.*", "#.b.#", "a.#.b.#.c", "#.b.c"}
    while len(found_patterns) < patterns:
        found_patterns.add(".".join(rng.choice(words) for _ in range(rng.randint(1, 5))))
    found_topics = {"a", "b.c", "a.b.b.c", "a.b.x.b.c"}
    while len(found_topics) < topics:
        found_topics.add(".".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 5))))
    return sorted(found_patterns), sorted(found_topics)


async def route_on_rabbitmq(url: str, patterns: list[str], topics: list[str]) -> dict[str, set]:
    """pattern -> the topics RabbitMQ delivered to the queue bound with it."""
    connection = await aio_pika.connect(url)
    received: dict[str, set[str]] = {pattern: set() for pattern in patterns}
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            unique_name("parity"), aio_pika.ExchangeType.TOPIC, auto_delete=True
        )
        queues = {}
        for pattern in patterns:
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, routing_key=pattern)
            queues[pattern] = queue
        for topic in topics:  # confirmed: routed to every matching queue before it returns
            await exchange.publish(aio_pika.Message(topic.encode()), routing_key=topic)
        for pattern, queue in queues.items():
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                received[pattern].add(message.body.decode())
        await exchange.delete()
    finally:
        await connection.close()
    return received


@pytest.mark.parametrize("seed", [17, 2026])
def test_the_kit_routes_generated_patterns_exactly_as_rabbitmq(amqp_url, seed):
    patterns, topics = generated(seed, patterns=60, topics=60)
    theirs = asyncio.run(route_on_rabbitmq(amqp_url, patterns, topics))
    ours = {pattern: {t for t in topics if matches(pattern, t)} for pattern in patterns}
    differences = [
        f"{pattern!r}: RabbitMQ {sorted(theirs[pattern])}, eda_kit {sorted(ours[pattern])}"
        for pattern in patterns
        if theirs[pattern] != ours[pattern]
    ]
    assert not differences, "\n".join(differences[:10])
    assert sum(map(len, ours.values())) > len(patterns)  # the table is not trivially empty
