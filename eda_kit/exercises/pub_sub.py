"""Exercises for notebook 02, Pub/Sub: topic matching, routing, isolation, out-of-order deliveries.

The matcher is compared with the reference on patterns with several ``#`` (a greedy ``#`` that
never backtracks fails there); the routing table is a new shop, not the one the notebook
routes; the publish must isolate any mix of failing handlers; and the consumer must survive
duplicated and reordered deliveries of versioned events.
"""

from __future__ import annotations

import copy
import fnmatch
import re

from ..events import Event
from ..pubsub import EventBus
from .framework import Checker, Exercise, Probe

__all__ = [
    "pattern_matcher",
    "topic_matches",
    "routing_table",
    "route_topics",
    "ROUTING_SUBSCRIPTIONS",
    "ROUTING_TOPICS",
    "isolated_publish",
    "publish_isolated",
    "out_of_order",
    "apply_price",
]


# ======================================================================================
# 1. the pattern matcher


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


def _greedy_hash(pattern, topic):  # '#' skips to the first word that fits, and never reconsiders
    p, t = pattern.split("."), topic.split(".")
    i = j = 0
    while i < len(p):
        if p[i] == "#":
            if i + 1 == len(p):
                return True
            following = p[i + 1]
            while j < len(t) and following not in ("*", t[j]):
                j += 1
            i += 1
        elif j < len(t) and p[i] in ("*", t[j]):
            i, j = i + 1, j + 1
        else:
            return False
    return j == len(t)


def _with_a_regex(pattern, topic):  # right: every word brings its own leading dot
    parts = {"*": r"\.[^.]+", "#": r"(?:\.[^.]+)*"}
    regex = "".join(parts.get(word, r"\." + re.escape(word)) for word in pattern.split("."))
    return re.fullmatch(regex, "." + topic) is not None


def _by_table(pattern, topic):  # right: a table of which prefixes match which
    p, t = pattern.split("."), topic.split(".")
    # can[i][j]: do the first i pattern words match the first j topic words?
    can = [[False] * (len(t) + 1) for _ in range(len(p) + 1)]
    can[0][0] = True
    for i in range(1, len(p) + 1):
        for j in range(len(t) + 1):
            if p[i - 1] == "#":
                can[i][j] = can[i - 1][j] or (j > 0 and can[i][j - 1])
            elif j > 0 and p[i - 1] in ("*", t[j - 1]):
                can[i][j] = can[i - 1][j - 1]
    return can[len(p)][len(t)]


def _run_matcher(matches, words):
    pattern_words, topic_words = words
    return matches(".".join(pattern_words), ".".join(topic_words))


def _describe_matcher(words):
    return f"pattern {'.'.join(words[0])!r}, topic {'.'.join(words[1])!r}"


def _generate_matcher(rng, size):
    vocabulary = ["a", "b", "c"]
    topic = [rng.choice(vocabulary) for _ in range(rng.randint(1, 2 + size // 2))]
    if rng.random() < 0.5:  # a pattern made from the topic: often a match, or nearly
        pattern = []
        for word in topic:
            roll = rng.random()
            if roll < 0.25:
                pattern.append("*")
            elif roll < 0.45:
                pattern.append("#")
            elif roll < 0.55:
                continue
            else:
                pattern.append(word)
        if rng.random() < 0.3:
            pattern.insert(rng.randint(0, len(pattern)), "#")
        pattern = pattern or ["#"]
    else:
        pattern = [
            rng.choice([*vocabulary, "*", "#", "#"]) for _ in range(rng.randint(1, 2 + size // 2))
        ]
    return [pattern, topic]


def _words(pattern, topic):
    return Probe(f"pattern {pattern!r}, topic {topic!r}", [pattern.split("."), topic.split(".")])


pattern_matcher = Exercise(
    "Write the AMQP topic matcher",
    reference=topic_matches,
    run=_run_matcher,
    describe=_describe_matcher,
    probes=[
        _words("order.created", "order.created"),
        _words("order.created", "order.created.eu"),
        _words("*.orange.*", "quick.orange.rabbit"),
        _words("*.orange.*", "quick.orange.new.rabbit"),
        _words("*.*.rabbit", "lazy.pink.rabbit"),
        _words("*.*.rabbit", "quick.orange.new.rabbit"),
        _words("lazy.#", "lazy.orange.new.rabbit"),
        _words("lazy.#", "lazy"),
        _words("lazy.#", "lazybones"),
        _words("#", "anything.at.all"),
        _words("#.eu", "order.created.eu"),
        _words("#.eu", "order.created"),
        _words("order.#.eu", "order.eu"),
        _words("order.#.eu", "order.created.paid.eu"),
        _words("order.#.eu", "order.created.us"),
        _words("*", "order.created"),
        _words("#.b.#", "a.b.c"),
        _words("#.b.c", "a.b.b.c"),  # a greedy '#' stops at the first b and fails
        _words("a.#.b.#.c", "a.b.x.b.c"),
        _words("#.#", "a"),
        _words("*.#.*", "a"),
    ],
    generate=_generate_matcher,
    examples=200,
    hints=[
        "Split both on '.', then compare word by word. A literal word must be equal; '*' "
        "takes exactly one topic word, whatever it is.",
        "'#' is the hard one: it may take zero words, or one word and then still be '#' "
        "(so it can take more). Don't decide greedily how many: try both choices, "
        "recursively, and accept if either works.",
        "match(p, t) on word lists: if p is empty, the topic must be empty too; if p[0] is '#', "
        "return match(p[1:], t) or (t and match(p, t[1:])); otherwise t must be non-empty, "
        "p[0] must be '*' or t[0], and match(p[1:], t[1:]).",
    ],
    common_mistakes=[_fnmatch_style, _hash_needs_a_word, _hash_only_at_the_end, _greedy_hash],
    also_correct=[_by_table, _with_a_regex],
    explanation=(
        "Words, not characters: '*' is one whole word and '#' any number of whole words, zero "
        "included. fnmatch-style globbing lets '*' run across dots, a regex that writes '#' "
        "as '.+' forgets that '#' may be empty, and a '#' that greedily jumps to the first word "
        "that fits gets 'a.b.b.c' against '#.b.c' wrong. The recursion tries both choices for "
        "'#'; it can take exponential time on patterns full of '#', which is why "
        "eda_kit.pubsub.topics uses the table-free classic instead: walk the words once, "
        "remembering only where the last '#' was."
    ),
)


# ======================================================================================
# 2. route a new shop's topics by hand

#: The subscriptions of exercise 2, in subscription order: (subscriber, pattern).
ROUTING_SUBSCRIPTIONS = [
    ("GrillStation", "kitchen.grill.*"),
    ("ColdStation", "kitchen.*.cold"),
    ("Expo", "kitchen.#.ready"),
    ("Pager", "*.*.ready"),
    ("VeganBoard", "#.vegan.#"),
    ("Manager", "kitchen.#"),
    ("Bar", "bar.*"),
]
#: The topics of exercise 2.
ROUTING_TOPICS = [
    "kitchen.grill.ready",
    "kitchen.grill",
    "kitchen.ready",
    "kitchen.salad.cold",
    "kitchen.grill.vegan.ready",
    "bar.mojito.ready",
    "vegan",
    "kitchen.salad.cold.ready",
]


class RoutingTable(dict):
    """A plain dict of topic -> subscriber names that prints one topic per line."""

    def __repr__(self) -> str:
        lines = "".join(f"\n    {topic!r}: {names!r}," for topic, names in self.items())
        return "{" + lines + "\n}"


route_topics = RoutingTable(
    {
        "kitchen.grill.ready": ["GrillStation", "Expo", "Pager", "Manager"],
        "kitchen.grill": ["Manager"],
        "kitchen.ready": ["Expo", "Manager"],
        "kitchen.salad.cold": ["ColdStation", "Manager"],
        "kitchen.grill.vegan.ready": ["Expo", "VeganBoard", "Manager"],
        "bar.mojito.ready": ["Pager"],
        "vegan": ["VeganBoard"],
        "kitchen.salad.cold.ready": ["Expo", "Manager"],
    }
)


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


def _sorted_routes(answer, _):
    return {topic: sorted(names) for topic, names in answer.items()}


_routing_mistakes = [
    {**route_topics, "kitchen.ready": ["Manager"]},  # '#' read as "one or more words"
    {**route_topics, "kitchen.grill": ["GrillStation", "Manager"]},  # '*' read as "zero or one"
    {**route_topics, "bar.mojito.ready": ["Pager", "Bar"]},  # '*' read as "any number"
    {**route_topics, "vegan": []},  # '#.vegan.#' thought to need words around 'vegan'
]

routing_table = Exercise(
    "Route eight topics through seven subscriptions by hand",
    reference=route_topics,
    test=_test_routing,
    run=_sorted_routes,
    probes=[Probe("your routing table", None)],
    hints=[
        "Take one topic at a time and go down the subscription list, asking: does this "
        "pattern match this topic, word for word? Count the words first.",
        "'kitchen.grill.*' needs exactly three words. 'kitchen.#.ready' needs 'kitchen' first, "
        "'ready' last, and any number of words (none included) in between.",
        "'#.vegan.#' matches the one-word topic 'vegan': both '#' take zero words. "
        "'bar.*' has two words, so 'bar.mojito.ready' (three) is only for the Pager.",
    ],
    common_mistakes=_routing_mistakes,
    also_correct=[
        {topic: sorted(names) for topic, names in route_topics.items()},
        {topic: set(names) for topic, names in route_topics.items()},
    ],
    explanation=(
        "Count words. '*' is exactly one word, so 'kitchen.grill.*' misses the two-word "
        "'kitchen.grill' and 'bar.*' misses 'bar.mojito.ready'. '#' is any number of words, "
        "zero included: 'kitchen.#.ready' takes 'kitchen.ready', and '#.vegan.#' takes the bare "
        "'vegan'. The Manager's 'kitchen.#' takes everything that starts with 'kitchen'."
    ),
)


# ======================================================================================
# 3. an isolated publish


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


def _keeps_only_the_last_failure(handlers, event):
    delivered, failure = [], None
    for name, handler in handlers.items():
        try:
            handler(event)
            delivered.append(name)
        except Exception as error:
            failure = (name, f"{type(error).__name__}: {error}")
    return {"delivered": delivered, "failed": [failure] if failure else []}


def _settled(name, handler, event):
    try:
        handler(event)
        return name, None
    except Exception as error:
        return name, f"{type(error).__name__}: {error}"


def _like_all_settled(handlers, event):  # right: settle each, then sort the outcomes
    results = [_settled(name, handler, event) for name, handler in handlers.items()]
    return {
        "delivered": [name for name, error in results if error is None],
        "failed": [(name, error) for name, error in results if error is not None],
    }


def _with_tuples(handlers, event):  # right: tuples instead of lists, built by a generator
    outcomes = tuple(
        (name, _settled(name, handler, event)[1]) for name, handler in handlers.items()
    )
    return {
        "delivered": tuple(name for name, error in outcomes if error is None),
        "failed": tuple((name, error) for name, error in outcomes if error is not None),
    }


def _run_publish(publish, handlers_spec):
    """``handlers_spec``: [(name, behaviour)], behaviour "ok", "returns" (a value) or an
    exception as (type name, message). Observes who was called with which event, and the
    report (lists or tuples, either is fine)."""
    event = Event("order.created", {"order_id": "A1"})
    calls = []

    def make(name, behaviour):
        def handler(received):
            calls.append((name, received is event))
            if behaviour == "returns":
                return {"handled": name}
            if behaviour != "ok":
                kind, message = behaviour
                raise {"KeyError": KeyError, "ValueError": ValueError}.get(kind, TimeoutError)(
                    message
                )
            return None

        return handler

    handlers = {name: make(name, behaviour) for name, behaviour in handlers_spec}
    report = publish(handlers, event)
    if not (isinstance(report, dict) and set(report) == {"delivered", "failed"}):
        return {"calls": calls, "report": report}
    plain = {
        "delivered": list(report["delivered"]),
        "failed": [tuple(failure) for failure in report["failed"]],
    }
    return {"calls": calls, "report": plain}


def _describe_publish(handlers_spec):
    words = [
        f"{name}: {behaviour if isinstance(behaviour, str) else 'raises ' + behaviour[0]}"
        for name, behaviour in handlers_spec
    ]
    return "handlers {" + ", ".join(words) + "}"


def _generate_publish(rng, size):
    names = ["email", "inventory", "audit", "analytics", "loyalty", "search", "billing"]
    rng.shuffle(names)
    spec = []
    for name in names[: rng.randint(0, min(size, len(names)))]:
        roll = rng.random()
        if roll < 0.4:
            spec.append((name, "ok"))
        elif roll < 0.55:
            spec.append((name, "returns"))
        else:
            kind = rng.choice(["KeyError", "ValueError", "TimeoutError"])
            spec.append((name, (kind, rng.choice(["sku", "no stock", "took 30 s"]))))
    return spec


publish_probes = [
    Probe("two handlers that both work", [("email", "ok"), ("audit", "ok")]),
    Probe(
        "email, a broken inventory handler, then audit",
        [("email", "ok"), ("inventory", ("KeyError", "sku")), ("audit", "ok")],
    ),
    Probe("no handlers at all", []),
    Probe(
        "two handlers fail, for different reasons",
        [("inventory", ("KeyError", "sku")), ("email", "ok"), ("search", ("TimeoutError", "30 s"))],
    ),
    Probe("the first handler fails", [("billing", ("ValueError", "no card")), ("email", "ok")]),
    Probe("a handler that returns a value", [("email", "returns"), ("audit", "ok")]),
]

isolated_publish = Exercise(
    "Publish to every handler, even when some fail",
    reference=publish_isolated,
    run=_run_publish,
    describe=_describe_publish,
    probes=publish_probes,
    generate=_generate_publish,
    hints=[
        "The source notes' Promise.all fails the whole publish when one handler throws. Here, "
        "one handler's exception must be caught for that handler only.",
        "Put the try/except *inside* the loop, around the single handler call, so the loop "
        "goes on to the next handler. Keep every failure, not only the last.",
        "In the except block: failed.append((name, f'{type(error).__name__}: {error}')); "
        "in the else block: delivered.append(name). Return both lists in a dict.",
    ],
    common_mistakes=[
        _stops_at_the_first_failure,
        _lets_the_error_escape,
        _swallows_errors_silently,
        _keeps_only_the_last_failure,
    ],
    also_correct=[_like_all_settled, _with_tuples],
    explanation=(
        "Isolation means the try/except wraps each handler call, not the loop: a failure is "
        "recorded for that subscriber and the next one still runs. Swallowing the error is the "
        "opposite mistake: the publish 'succeeds' and nobody ever learns inventory was not "
        "updated. EventBus does both halves: it isolates, and it reports and dead-letters. "
        "This is Promise.allSettled, in Python."
    ),
)


# ======================================================================================
# 4. a consumer that doesn't mind duplicates or reordering


def apply_price(catalog, event):
    sku, version = event.data["sku"], event.data["version"]
    current = catalog.get(sku)
    if current is not None and current["version"] >= version:
        return  # a duplicate, or older than what we have: nothing to do
    catalog[sku] = {"price": event.data["price"], "version": version}


def _last_write_wins(catalog, event):  # whatever arrives last, even if older
    catalog[event.data["sku"]] = {"price": event.data["price"], "version": event.data["version"]}


def _skips_exact_repeats_only(catalog, event):  # a duplicate is caught; a late old one is not
    seen = catalog.setdefault("_seen", [])
    key = [event.data["sku"], event.data["version"]]
    if key in seen:
        return
    seen.append(key)
    catalog[event.data["sku"]] = {"price": event.data["price"], "version": event.data["version"]}


def _dedupes_by_event_id(catalog, event):
    seen = catalog.setdefault("_seen", [])
    if event.id in seen:
        return
    seen.append(event.id)
    catalog[event.data["sku"]] = {"price": event.data["price"], "version": event.data["version"]}


def _ignores_unknown_skus(catalog, event):
    current = catalog.get(event.data["sku"])
    if current is None or current["version"] >= event.data["version"]:
        return
    current.update(price=event.data["price"], version=event.data["version"])


def _with_max(catalog, event):  # right: keep the newest of (what we have, what arrived)
    sku = event.data["sku"]
    arrived = {"price": event.data["price"], "version": event.data["version"]}
    catalog[sku] = max(
        [catalog.get(sku, {"version": 0}), arrived], key=lambda entry: entry["version"]
    )


def _with_match(catalog, event):  # right: match on what we have
    sku, version = event.data["sku"], event.data["version"]
    match catalog.get(sku):
        case {"version": known} if known >= version:
            pass  # a duplicate or an older change
        case _:
            catalog[sku] = {"price": event.data["price"], "version": version}


def _run_prices(apply, deliveries):
    """``deliveries``: the (sku, version, price, copy) of each delivery, in arrival order. A
    delivery with the same copy number as an earlier one is the same event delivered again;
    another copy is the same change published again (a new event)."""
    events, catalog, seen = {}, {}, []
    for sku, version, price, number in deliveries:
        key = (sku, version, number)
        if key not in events:
            events[key] = Event("price.changed", {"sku": sku, "version": version, "price": price})
        apply(catalog, events[key])
        seen.append({k: v for k, v in copy.deepcopy(catalog).items() if not k.startswith("_")})
    return seen


def _describe_prices(deliveries):
    return "deliveries [" + ", ".join(f"{s} v{v} {p}" for s, v, p, _ in deliveries) + "]"


def _generate_prices(rng, size):
    deliveries = []
    for sku in rng.sample(["tea", "dosa", "lassi"], rng.randint(1, 3)):
        for version in range(1, rng.randint(1, 2 + size // 2) + 1):
            price = rng.randint(50, 400)
            for _ in range(rng.choice([1, 1, 2])):  # some changes are delivered twice
                deliveries.append((sku, version, price, rng.choice([1, 1, 2])))
    rng.shuffle(deliveries)  # retries and redeliveries reorder them
    return deliveries


out_of_order = Exercise(
    "A consumer that doesn't mind duplicates or reordering",
    reference=apply_price,
    run=_run_prices,
    describe=_describe_prices,
    probes=[
        Probe("one change to tea's price", [("tea", 1, 120, 1)]),
        Probe("the same event delivered twice", [("tea", 1, 120, 1), ("tea", 1, 120, 1)]),
        Probe(
            "the same change published twice (two events, one change)",
            [("tea", 1, 120, 1), ("tea", 1, 120, 2)],
        ),
        Probe("version 2 arrives before version 1", [("tea", 2, 150, 1), ("tea", 1, 120, 1)]),
        Probe(
            "two products, interleaved",
            [("tea", 1, 120, 1), ("dosa", 1, 300, 1), ("tea", 2, 150, 1), ("dosa", 1, 300, 1)],
        ),
        Probe(
            "versions 1, 3, 2, then 3 again",
            [("tea", 1, 120, 1), ("tea", 3, 180, 1), ("tea", 2, 150, 1), ("tea", 3, 180, 2)],
        ),
    ],
    generate=_generate_prices,
    hints=[
        "At-least-once delivery repeats events, and retries reorder them: version 3 of a price "
        "can arrive before version 2. The version number says which change is newer.",
        "For each SKU keep the price *and* the version you applied. When an event arrives, "
        "compare its version with the one you have (a SKU you have never seen counts as older "
        "than anything).",
        "If you have nothing for the SKU, or your version is lower than the event's: "
        "catalog[sku] = {'price': ..., 'version': ...}. Otherwise (same or older): do nothing.",
    ],
    common_mistakes=[
        _last_write_wins,
        _skips_exact_repeats_only,
        _dedupes_by_event_id,
        _ignores_unknown_skus,
    ],
    also_correct=[_with_max, _with_match],
    explanation=(
        "Remembering which messages you saw (an idempotency key) stops duplicates, but not "
        "reordering: a late old price would still overwrite the new one. A version per entity, "
        "assigned by the one writer that owns it, makes the consumer idempotent *and* order-"
        "independent: apply a change only if it is newer than what you have. Brokers keep order "
        "only within a queue or a partition; putting every change of one SKU on the same "
        "partition (partition key = sku) keeps them in order there, and the version check "
        "covers the retries and redeliveries that reorder them anyway."
    ),
)
