"""Exercises for notebook 02, Pub/Sub: topic matching, routing, isolation, idempotency."""

from __future__ import annotations

import fnmatch
import re

from ..events import Event
from ..pubsub import EventBus
from .framework import Checker, Exercise

__all__ = [
    "pattern_matcher",
    "topic_matches",
    "routing_table",
    "route_topics",
    "ROUTING_SUBSCRIPTIONS",
    "ROUTING_TOPICS",
    "isolated_publish",
    "publish_isolated",
    "idempotent_handler",
    "apply_payment",
]


# --- 1. the pattern matcher -----------------------------------------------------------------


def topic_matches(pattern, topic):
    def match(p, t):  # p: pattern words left, t: topic words left
        if not p:
            return not t  # pattern used up: the topic must be too
        if p[0] == "#":  # '#' takes no word, or takes one and stays
            return match(p[1:], t) or (bool(t) and match(p, t[1:]))
        return bool(t) and p[0] in ("*", t[0]) and match(p[1:], t[1:])

    return match(pattern.split("."), topic.split("."))


def _fnmatch_style(pattern, topic):
    return fnmatch.fnmatchcase(topic, pattern.replace("#", "*"))


def _hash_needs_a_word(pattern, topic):
    words = [
        r"[^.]+" if w == "*" else r"[^.]+(\.[^.]+)*" if w == "#" else re.escape(w)
        for w in pattern.split(".")
    ]
    return re.fullmatch(r"\.".join(words), topic) is not None


def _hash_only_at_the_end(pattern, topic):
    p, t = pattern.split("."), topic.split(".")
    for i, word in enumerate(p):
        if word == "#":
            return True
        if i >= len(t) or (word != "*" and word != t[i]):
            return False
    return len(p) == len(t)


_MATCHER_CASES = [
    ("order.created", "order.created", True),
    ("order.created", "order.created.eu", False),
    ("*.orange.*", "quick.orange.rabbit", True),
    ("*.orange.*", "quick.orange.new.rabbit", False),
    ("*.*.rabbit", "lazy.pink.rabbit", True),
    ("*.*.rabbit", "quick.orange.new.rabbit", False),
    ("lazy.#", "lazy.orange.new.rabbit", True),
    ("lazy.#", "lazy", True),
    ("lazy.#", "lazybones", False),
    ("#", "anything.at.all", True),
    ("#.eu", "order.created.eu", True),
    ("#.eu", "order.created", False),
    ("order.#.eu", "order.eu", True),
    ("order.#.eu", "order.created.paid.eu", True),
    ("order.#.eu", "order.created.us", False),
    ("*", "order.created", False),
]


def _test_matcher(matches, check: Checker) -> None:
    for pattern, topic, expected in _MATCHER_CASES:
        with check.case(f"pattern {pattern!r}, topic {topic!r}"):
            check.expect(matches(pattern, topic), expected)


pattern_matcher = Exercise(
    "Write the AMQP topic matcher",
    test=_test_matcher,
    reference=topic_matches,
    hints=[
        "Split both on '.', then compare word by word. A literal word must be equal; '*' "
        "takes exactly one topic word, whatever it is.",
        "'#' is the hard one: it may take zero words, or one word and then still be '#' "
        "(so it can take more). Try both, recursively: match(rest_of_pattern, topic) or "
        "match(pattern, rest_of_topic).",
        "The base case: when the pattern is used up, it matches only if the topic is used up "
        "too. 'lazy.#' matches 'lazy' because '#' may take zero words.",
    ],
    common_mistakes=[_fnmatch_style, _hash_needs_a_word, _hash_only_at_the_end],
    explanation=(
        "Words, not characters: '*' is one whole word and '#' any number of whole words, zero "
        "included. fnmatch-style globbing lets '*' run across dots, and a regex that writes '#' "
        "as '.+' forgets that '#' may be empty. The recursion tries both choices for '#'. It can "
        "take exponential time on patterns full of '#'; eda_kit.pubsub.topics walks the words once "
        "instead, remembering only the last '#', the classic wildcard-matching trick."
    ),
)


# --- 2. route a set of topics ---------------------------------------------------------------

#: The subscriptions of exercise 2, in subscription order: (subscriber, pattern).
ROUTING_SUBSCRIPTIONS = [
    ("EmailService", "order.created"),
    ("InventoryService", "order.*"),
    ("EuWarehouse", "order.*.eu"),
    ("AuditLog", "order.#"),
    ("ShippingService", "*.shipped"),
    ("Analytics", "#"),
]
#: The topics of exercise 2.
ROUTING_TOPICS = [
    "order.created",
    "order.created.eu",
    "order",
    "order.shipped",
    "invoice.shipped",
    "payment.failed.eu",
]


class RoutingTable(dict):
    """A plain dict of topic -> subscriber names that prints one topic per line."""

    def __repr__(self) -> str:
        lines = "".join(f"\n    {topic!r}: {names!r}," for topic, names in self.items())
        return "{" + lines + "\n}"


route_topics = RoutingTable(
    {
        "order.created": ["EmailService", "InventoryService", "AuditLog", "Analytics"],
        "order.created.eu": ["EuWarehouse", "AuditLog", "Analytics"],
        "order": ["AuditLog", "Analytics"],
        "order.shipped": ["InventoryService", "AuditLog", "ShippingService", "Analytics"],
        "invoice.shipped": ["ShippingService", "Analytics"],
        "payment.failed.eu": ["Analytics"],
    }
)
_ROUTING_ANSWER = route_topics  # (the name the mistakes below are built from)


def _routing_by_the_bus() -> dict[str, list[str]]:
    bus = EventBus()
    for name, pattern in ROUTING_SUBSCRIPTIONS:
        bus.subscribe(pattern, print, name=name)
    return {topic: [s.name for s in bus.route(topic)] for topic in ROUTING_TOPICS}


def _test_routing(answer, check: Checker) -> None:
    expected = _routing_by_the_bus()
    with check.case("the answer"):
        check.require(
            isinstance(answer, dict),
            f"expected a dict of topic -> list of subscribers, got {type(answer).__name__}",
        )
        missing = [topic for topic in ROUTING_TOPICS if topic not in answer]
        check.require(not missing, f"no entry for the topic(s) {missing}")
    for topic in ROUTING_TOPICS:
        with check.case(f"topic {topic!r}"):
            given = answer[topic]
            check.require(
                isinstance(given, list | tuple | set),
                f"expected a list of subscriber names, got {given!r}",
            )
            # Any order is fine: compare as sorted lists.
            check.expect(sorted(given), sorted(expected[topic]), "sorted")


_routing_mistakes = [
    {  # '#' read as "one or more": AuditLog misses the bare 'order'
        **_ROUTING_ANSWER,
        "order": ["Analytics"],
    },
    {  # '*' read as "any number of words": InventoryService gets order.created.eu
        **_ROUTING_ANSWER,
        "order.created.eu": ["InventoryService", "EuWarehouse", "AuditLog", "Analytics"],
    },
    {  # forgot that '#' alone matches everything
        topic: [name for name in names if name != "Analytics"]
        for topic, names in _ROUTING_ANSWER.items()
    },
]

routing_table = Exercise(
    "Route six topics through six subscriptions by hand",
    test=_test_routing,
    reference=route_topics,
    hints=[
        "Take one topic at a time and go down the subscription list, asking: does this "
        "pattern match this topic, word for word?",
        "'order.*' needs exactly two words, the first being 'order'. 'order.#' needs 'order' "
        "and then any number of words, none included.",
        "'#' on its own matches every topic, so Analytics is in every list.",
    ],
    common_mistakes=_routing_mistakes,
    explanation=(
        "Count words. 'order.created.eu' has three, so 'order.*' (two words) misses it while "
        "'order.*.eu' and 'order.#' take it. The bare topic 'order' is matched by 'order.#' "
        "because '#' may stand for zero words, and by '#' alone, which matches everything."
    ),
)


# --- 3. an isolated publish -----------------------------------------------------------------


def publish_isolated(handlers, event):
    delivered, failed = [], []
    for name, handler in handlers.items():
        try:
            handler(event)
        except Exception as error:
            failed.append((name, f"{type(error).__name__}: {error}"))
        else:
            delivered.append(name)
    return {"delivered": delivered, "failed": failed}


def _stops_at_the_first_failure(handlers, event):
    delivered, failed = [], []
    try:
        for name, handler in handlers.items():
            handler(event)
            delivered.append(name)
    except Exception as error:
        failed.append((name, f"{type(error).__name__}: {error}"))
    return {"delivered": delivered, "failed": failed}


def _lets_the_error_escape(handlers, event):
    delivered = []
    for name, handler in handlers.items():
        handler(event)
        delivered.append(name)
    return {"delivered": delivered, "failed": []}


def _swallows_errors_silently(handlers, event):
    delivered = []
    for name, handler in handlers.items():
        try:
            handler(event)
        except Exception:
            pass
        delivered.append(name)
    return {"delivered": delivered, "failed": []}


def _test_isolated(publish, check: Checker) -> None:
    event = Event("order.created", {"order_id": "A1"})
    log: list[str] = []

    def email(e):
        log.append("email")

    def inventory(e):
        raise KeyError("sku")

    def audit(e):
        log.append("audit")

    def plain(result):  # lists or tuples, either is fine
        check.require(
            isinstance(result, dict) and set(result) == {"delivered", "failed"},
            f"expected a dict with keys 'delivered' and 'failed', got {result!r}",
        )
        return {
            "delivered": list(result["delivered"]),
            "failed": [tuple(failure) for failure in result["failed"]],
        }

    with check.case("two handlers that both work"):
        log.clear()
        result = plain(publish({"email": email, "audit": audit}, event))
        check.expect(result, {"delivered": ["email", "audit"], "failed": []})
    with check.case("email, a broken inventory handler, then audit"):
        log.clear()
        result = plain(publish({"email": email, "inventory": inventory, "audit": audit}, event))
        check.expect(log, ["email", "audit"], "which handlers ran")
        check.expect(
            result, {"delivered": ["email", "audit"], "failed": [("inventory", "KeyError: 'sku'")]}
        )
    with check.case("no handlers at all"):
        check.expect(plain(publish({}, event)), {"delivered": [], "failed": []})


isolated_publish = Exercise(
    "Publish to every handler, even when one fails",
    test=_test_isolated,
    reference=publish_isolated,
    hints=[
        "The source notes' Promise.all fails the whole publish when one handler throws. Here, one "
        "handler's exception must be caught for that handler only.",
        "Put the try/except *inside* the loop, around the single handler call, so the loop "
        "goes on to the next handler.",
        "Record failures as (name, 'ErrorType: message'): f\"{type(error).__name__}: {error}\".",
    ],
    common_mistakes=[
        _stops_at_the_first_failure,
        _lets_the_error_escape,
        _swallows_errors_silently,
    ],
    explanation=(
        "Isolation means the try/except wraps each handler call, not the loop: a failure is "
        "recorded for that subscriber and the next one still runs. Swallowing the error is the "
        "opposite mistake: the publish 'succeeds' and nobody ever learns inventory was not "
        "updated. EventBus does both halves: it isolates, and it reports and dead-letters."
    ),
)


# --- 4. an idempotent handler ---------------------------------------------------------------


def apply_payment(account, event):
    payment_id = event.data["payment_id"]
    if payment_id in account["processed"]:
        return  # seen it: at-least-once delivery sent it again
    account["balance"] += event.data["amount"]
    account["processed"].append(payment_id)


def _not_idempotent(account, event):
    account["balance"] += event.data["amount"]


def _dedupes_by_event_id(account, event):
    if event.id in account["processed"]:
        return
    account["balance"] += event.data["amount"]
    account["processed"].append(event.id)


def _dedupes_by_amount(account, event):
    if event.data["amount"] in account["processed"]:
        return
    account["balance"] += event.data["amount"]
    account["processed"].append(event.data["amount"])


def _test_idempotent(handler, check: Checker) -> None:
    def fresh():
        return {"balance": 0, "processed": []}

    def paid(payment_id, amount):
        return Event("payment.received", {"payment_id": payment_id, "amount": amount})

    def run(events):
        account = fresh()
        for event in events:
            handler(account, event)
        return account["balance"]

    p1 = paid("p1", 30)
    with check.case("one payment p1 of 30"):
        check.expect(run([p1]), 30, "balance")
    with check.case("payments p1 (30) and p2 (12)"):
        check.expect(run([p1, paid("p2", 12)]), 42, "balance")
    with check.case("the same event for p1 delivered twice"):
        check.expect(run([p1, p1]), 30, "balance")
    with check.case("p1 published twice by a retrying publisher (two events, one payment)"):
        check.expect(run([paid("p1", 30), paid("p1", 30)]), 30, "balance")
    with check.case("two different payments of the same amount, p1 and p3, 30 each"):
        check.expect(run([p1, paid("p3", 30)]), 60, "balance")
    with check.case("through an EventBus whose first delivery crashes after the work"):
        account, crashes = fresh(), ["once"]

        def crashing_after_work(event):
            handler(account, event)
            if crashes:
                crashes.pop()
                raise TimeoutError("ack lost")  # the work happened; the bus retries

        bus = EventBus()
        bus.subscribe("payment.*", crashing_after_work, name="payments", max_attempts=2)
        bus.publish(paid("p9", 50))
        check.expect(account["balance"], 50, "balance")


idempotent_handler = Exercise(
    "Make a payment handler idempotent",
    test=_test_idempotent,
    reference=apply_payment,
    hints=[
        "The bus delivers at least once: the same payment can arrive twice. Before changing "
        "the balance, ask: have I applied this payment already?",
        "Keep the ids you applied in account['processed'] and skip an event whose id is there.",
        "Which id? A retrying publisher sends a *new* event (new event.id) for the *same* "
        "payment: dedupe on the business key, event.data['payment_id'].",
    ],
    common_mistakes=[_not_idempotent, _dedupes_by_event_id, _dedupes_by_amount],
    explanation=(
        "An idempotent consumer gives the same result however many times it sees a message. "
        "The trick is an idempotency key: something that identifies the *fact* (this payment), "
        "not the message carrying it. event.id catches redeliveries of one message but not a "
        "publisher that retries with a new message; the amount is not an identity at all. In "
        "a real system the key is stored in the same transaction as the balance change."
    ),
)
