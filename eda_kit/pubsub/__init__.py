"""Publish/subscribe: publishers name a topic, subscribers name the topics they want.

    topics    AMQP topic patterns: "order.*" (exactly one word), "order.#" (zero or more)
    bus       EventBus: routing, subscription order, retries, events published by handlers
    delivery  what a publish reports, and the dead-letter queue for deliveries that gave up

::

    from eda_kit.pubsub import EventBus
    bus = EventBus()
    bus.subscribe("order.*", send_confirmation, name="email", max_attempts=3)
    report = bus.publish(Event("order.created", {"order_id": "A1"}))
    bus.dead_letters          # deliveries that failed every attempt, ready to redeliver
"""

from .bus import EventBus, Subscription
from .delivery import DeadLetter, DeadLetterQueue, PublishReport, RedeliveryReport
from .topics import ANY_WORDS, ONE_WORD, TopicPattern, matches, parse_pattern, parse_topic

__all__ = [
    "EventBus",
    "Subscription",
    "DeadLetter",
    "DeadLetterQueue",
    "PublishReport",
    "RedeliveryReport",
    "TopicPattern",
    "parse_pattern",
    "parse_topic",
    "matches",
    "ONE_WORD",
    "ANY_WORDS",
]
