"""EventBus, synchronous side: routing, isolation, retries, dead letters, nesting, tracing."""

from __future__ import annotations

import warnings

import pytest

from eda_kit import Event, Tracer, reproducible
from eda_kit.pubsub import bus as bus_module
from eda_kit.pubsub.bus import DeadLetter, EventBus, PublishReport
from eda_kit.pubsub.topics import TopicPattern


@pytest.fixture(autouse=True)
def fixed_ids():
    with reproducible():
        yield


def recorder(log: list, name: str):
    def handler(event: Event) -> None:
        log.append((name, event.type))

    handler.__qualname__ = name
    return handler


def broken(error: Exception):
    def handler(event: Event) -> None:
        raise error

    return handler


def flaky(failures: int, log: list | None = None):
    """A handler that fails its first `failures` calls, then works."""
    calls = {"n": 0}

    def handler(event: Event) -> None:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ConnectionError(f"down (call {calls['n']})")
        if log is not None:
            log.append(event.type)

    return handler


# --- routing ---------------------------------------------------------------------------------


def test_handlers_get_the_event_in_subscription_order():
    bus, log = EventBus(), []
    bus.subscribe("#", recorder(log, "audit"))
    bus.subscribe("order.created", recorder(log, "email"))
    bus.subscribe("order.*", recorder(log, "inventory"))
    event = Event("order.created", {"order_id": "A1"})
    received = []
    bus.subscribe("order.created", received.append)
    report = bus.publish(event)
    assert log == [
        ("audit", "order.created"),
        ("email", "order.created"),
        ("inventory", "order.created"),
    ]
    assert received == [event] and received[0] is event
    assert report.delivered == ("audit", "email", "inventory", "list.append")
    assert report.ok and not report.unhandled


def test_the_rabbitmq_tutorial_through_the_bus():
    bus, log = EventBus(), []
    bus.subscribe("*.orange.*", recorder(log, "Q1"), name="Q1")
    bus.subscribe("*.*.rabbit", recorder(log, "Q2"), name="Q2-rabbit")
    bus.subscribe("lazy.#", recorder(log, "Q2"), name="Q2-lazy")
    routed = {
        topic: bus.publish(Event(topic)).delivered
        for topic in [
            "quick.orange.rabbit",
            "lazy.orange.elephant",
            "quick.orange.fox",
            "lazy.brown.fox",
            "lazy.pink.rabbit",
            "quick.brown.fox",
            "quick.orange.new.rabbit",
            "lazy.orange.new.rabbit",
            "lazy",
        ]
    }
    assert routed == {
        "quick.orange.rabbit": ("Q1", "Q2-rabbit"),
        "lazy.orange.elephant": ("Q1", "Q2-lazy"),
        "quick.orange.fox": ("Q1",),
        "lazy.brown.fox": ("Q2-lazy",),
        "lazy.pink.rabbit": ("Q2-rabbit", "Q2-lazy"),  # two subscriptions, two deliveries
        "quick.brown.fox": (),
        "quick.orange.new.rabbit": (),
        "lazy.orange.new.rabbit": ("Q2-lazy",),
        "lazy": ("Q2-lazy",),
    }


def test_publishing_to_nobody_is_unhandled_not_an_error():
    report = EventBus().publish(Event("order.created"))
    assert report.unhandled and report.ok
    assert report.delivered == () and report.failed == ()
    assert repr(report) == "<PublishReport 'order.created': nobody subscribed>"


def test_bad_patterns_and_topics_are_refused():
    bus = EventBus()
    with pytest.raises(ValueError, match="mixes the wildcard"):
        bus.subscribe("order*", print)
    with pytest.raises(ValueError, match="empty word"):
        bus.subscribe("order..created", print)
    with pytest.raises(ValueError, match="must not be empty"):
        bus.subscribe("", print)
    log = []
    bus.subscribe("#", recorder(log, "all"))
    with pytest.raises(ValueError, match="contains the wildcard '\\*'"):
        bus.publish(Event("order.*"))
    with pytest.raises(ValueError, match="empty word"):
        bus.publish(Event("order..created"))
    assert log == []  # nothing was delivered
    assert bus.subscriptions[0].pattern == "#"  # the refused subscriptions were not added


def test_publish_takes_an_event():
    with pytest.raises(TypeError, match="publish takes an Event"):
        EventBus().publish("order.created")  # the seed's style: publish(type, data)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"handler": "not callable"}, TypeError, "handler must be callable"),
        ({"max_attempts": 0}, ValueError, "max_attempts must be 1 or more"),
        ({"max_attempts": 2.5}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int"),
        ({"name": ""}, ValueError, "name must be a non-empty str"),
        ({"pattern": None}, TypeError, "pattern must be a str"),
    ],
)
def test_subscribe_checks_its_arguments(kwargs, error, message):
    arguments = {"pattern": "a.b", "handler": print, **kwargs}
    with pytest.raises(error, match=message):
        EventBus().subscribe(arguments.pop("pattern"), arguments.pop("handler"), **arguments)


def test_bus_checks_its_settings():
    with pytest.raises(ValueError, match="backoff_base must be a number of seconds"):
        EventBus(backoff_base=-1)
    with pytest.raises(TypeError, match="tracer must be a Tracer"):
        EventBus(tracer="yes")


def test_subscriber_names():
    class EmailService:
        def send(self, event):
            pass

    bus = EventBus()
    method_name = bus.subscribe("a", EmailService().send).name
    assert method_name == "test_subscriber_names.<locals>.EmailService.send"
    assert bus.subscribe("a", print, name="printer").name == "printer"
    subscription = bus.subscribe("order.*", print, name="p", max_attempts=3)
    assert repr(subscription) == "<Subscription 'order.*' -> p, max_attempts=3>"
    subscription.unsubscribe()
    assert repr(subscription) == "<Subscription 'order.*' -> p, max_attempts=3 (unsubscribed)>"


# --- unsubscribe and the routing cache ------------------------------------------------------


def test_unsubscribe_stops_delivery_and_is_idempotent():
    bus, log = EventBus(), []
    first = bus.subscribe("a.*", recorder(log, "first"))
    bus.subscribe("a.*", recorder(log, "second"))
    bus.publish(Event("a.b"))
    first.unsubscribe()
    first.unsubscribe()  # harmless
    bus.publish(Event("a.b"))
    assert log == [("first", "a.b"), ("second", "a.b"), ("second", "a.b")]
    assert not first.active and len(bus.subscriptions) == 1


def test_the_routing_cache_is_invalidated_by_subscribe_and_unsubscribe():
    bus, log = EventBus(), []
    bus.subscribe("order.#", recorder(log, "early"))
    bus.publish(Event("order.created"))  # caches order.created -> (early,)
    late = bus.subscribe("order.created", recorder(log, "late"))
    bus.publish(Event("order.created"))  # a stale cache would skip "late"
    late.unsubscribe()
    bus.publish(Event("order.created"))  # a stale cache would still call "late"
    assert log == [
        ("early", "order.created"),
        ("early", "order.created"),
        ("late", "order.created"),
        ("early", "order.created"),
    ]
    assert [s.name for s in bus.route("order.created")] == ["early"]


def test_routes_are_computed_once_per_topic(monkeypatch):
    calls = []
    real = TopicPattern.matches

    def counting(self, topic, words=None):
        calls.append((self.text, topic))
        return real(self, topic, words)

    monkeypatch.setattr(TopicPattern, "matches", counting)
    bus = EventBus()
    bus.subscribe("order.*", print, name="a")
    bus.subscribe("#", print, name="b")
    for _ in range(5):
        bus.route("order.created")
    assert calls == [("order.*", "order.created"), ("#", "order.created")]
    bus.subscribe("x", print)  # invalidates: the next lookup matches again
    bus.route("order.created")
    assert len(calls) == 5


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(bus_module, "MAX_CACHED_TOPICS", 3)
    bus, log = EventBus(), []
    bus.subscribe("order.*.paid", recorder(log, "paid"))
    for n in range(10):
        bus.publish(Event(f"order.{n}.paid"))
    assert len(bus._routes) <= 3
    assert len(log) == 10


# --- isolation, retries, dead letters -------------------------------------------------------


def test_a_failing_handler_does_not_stop_the_others_or_the_publisher():
    bus, log = EventBus(), []
    bus.subscribe("order.created", recorder(log, "email"), name="email")
    bus.subscribe("order.created", broken(KeyError("sku")), name="inventory")
    bus.subscribe("order.created", recorder(log, "audit"), name="audit")
    event = Event("order.created", {"order_id": "A1"})
    report = bus.publish(event)  # does not raise
    assert log == [("email", "order.created"), ("audit", "order.created")]
    assert report.delivered == ("email", "audit")
    assert report.failed == ("inventory",)
    assert not report.ok
    assert list(bus.dead_letters) == [
        DeadLetter(event, "inventory", "KeyError: 'sku'", 1, pattern="order.created")
    ]
    assert report.dead_letters == tuple(bus.dead_letters)
    assert repr(report) == (
        "<PublishReport 'order.created': delivered to email, audit; "
        "dead-lettered inventory after 1 attempt (KeyError: 'sku')>"
    )


def test_retries_until_success_within_max_attempts():
    bus, log = EventBus(), []
    bus.subscribe("pay", flaky(2, log), name="payments", max_attempts=3)
    report = bus.publish(Event("pay"))
    assert log == ["pay"]
    assert report.ok and report.attempts == {"payments": 3}
    assert len(bus.dead_letters) == 0
    assert repr(report) == "<PublishReport 'pay': delivered to payments (attempt 3)>"


def test_exhausted_retries_are_dead_lettered_with_the_last_error_and_attempt_count():
    bus = EventBus()
    bus.subscribe("pay", flaky(5), name="payments", max_attempts=3)
    event = Event("pay", {"amount": 30})
    report = bus.publish(event)
    [letter] = bus.dead_letters
    assert (letter.event, letter.subscriber, letter.error, letter.attempts) == (
        event,
        "payments",
        "ConnectionError: down (call 3)",
        3,
    )
    assert letter.pattern == "pay" and letter.source == "publisher"
    assert report.failed == ("payments",) and report.attempts == {"payments": 3}
    assert (
        repr(letter) == "DeadLetter('pay' evt-0001 -> payments, 3 attempts: "
        "ConnectionError: down (call 3))"
    )


def test_an_async_handler_on_a_sync_publish_is_a_clear_failure_not_a_silent_skip():
    bus = EventBus()

    async def send_email(event):
        raise AssertionError("never runs")

    bus.subscribe("order.created", send_email, name="email")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail the test
        report = bus.publish(Event("order.created"))
    assert report.failed == ("email",)
    assert report.dead_letters[0].error == (
        "InvalidType: email is an async handler: publish with "
        "`await bus.publish_async(event)`, not bus.publish(event)"
    )


def test_a_base_exception_propagates_and_leaves_the_bus_usable():
    bus, log = EventBus(), []

    def interrupted(event):
        bus.publish(Event("queued.meanwhile"))
        raise KeyboardInterrupt

    bus.subscribe("stop", interrupted)
    bus.subscribe("#", recorder(log, "all"))
    with pytest.raises(KeyboardInterrupt):
        bus.publish(Event("stop"))
    assert bus.publish(Event("later")).delivered == ("all",)
    assert log == [("all", "later")]  # the interrupted delivery's queue was dropped


def test_dead_letter_queue_reads_like_a_list():
    bus = EventBus()
    bus.subscribe("a", broken(ValueError("bad")), name="x")
    bus.publish(Event("a"))
    bus.publish(Event("a"))
    queue = bus.dead_letters
    assert len(queue) == 2 and queue[0].event.id == "evt-0001" and queue[-1].event.id == "evt-0002"
    assert [d.subscriber for d in queue] == ["x", "x"]
    assert queue == list(queue)
    assert repr(queue) == (
        "DeadLetterQueue([\n"
        "  DeadLetter('a' evt-0001 -> x, 1 attempt: ValueError: bad),\n"
        "  DeadLetter('a' evt-0002 -> x, 1 attempt: ValueError: bad),\n"
        "])"
    )
    queue.clear()
    assert len(bus.dead_letters) == 0 and repr(queue) == "DeadLetterQueue([])"


def test_a_capped_dead_letter_queue_keeps_the_newest_and_counts_what_it_dropped():
    bus = EventBus(max_dead_letters=2)
    bus.subscribe("a", broken(ValueError("bad")), name="x")
    for _ in range(5):
        bus.publish(Event("a"))
    queue = bus.dead_letters
    assert [d.event.id for d in queue] == ["evt-0004", "evt-0005"]
    assert queue.dropped == 3 and queue.max_letters == 2
    assert repr(queue).endswith("], 3 oldest dropped)")
    again = bus.redeliver()  # the kept ones can still be redelivered (and fail again here)
    assert [d.event.id for d in again.failed] == ["evt-0004", "evt-0005"]
    assert len(bus.dead_letters) == 2
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="max_dead_letters must be a whole number >= 1"):
            EventBus(max_dead_letters=bad)


# --- redelivery ------------------------------------------------------------------------------


def test_redeliver_after_a_fix_empties_the_queue():
    bus, log, stock = EventBus(), [], {"up": False}

    def reserve(event):
        if not stock["up"]:
            raise ConnectionError("stock service down")
        log.append(event.data["order_id"])

    bus.subscribe("order.created", reserve, name="inventory", max_attempts=2)
    for order_id in ["A1", "A2"]:
        bus.publish(Event("order.created", {"order_id": order_id}))
    assert [d.attempts for d in bus.dead_letters] == [2, 2]
    stock["up"] = True
    report = bus.redeliver()
    assert log == ["A1", "A2"]
    assert report.ok and [d.event.data["order_id"] for d in report.delivered] == ["A1", "A2"]
    assert len(bus.dead_letters) == 0


def test_redeliver_that_fails_again_adds_up_the_attempts():
    bus = EventBus()
    bus.subscribe("a", broken(RuntimeError("still down")), name="x", max_attempts=2)
    bus.publish(Event("a"))
    report = bus.redeliver()
    [letter] = bus.dead_letters
    assert letter.attempts == 4 and report.failed == (letter,) and not report.ok
    assert repr(report) == (
        "<RedeliveryReport delivered: none; failed again: x <- 'a'; skipped: none>"
    )


def test_redeliver_goes_to_the_fixed_handler_with_the_same_name():
    bus, log = EventBus(), []
    old = bus.subscribe("a", broken(KeyError("sku")), name="inventory")
    bus.subscribe("a", broken(ValueError("other")), name="other")
    bus.publish(Event("a"))
    old.unsubscribe()
    skipped = bus.redeliver("inventory").skipped  # no live "inventory" yet: it stays
    assert [d.subscriber for d in skipped] == ["inventory"]
    assert len(bus.dead_letters) == 2  # (and the filter left "other" alone)
    bus.subscribe("a", recorder(log, "fixed"), name="inventory")
    report = bus.redeliver("inventory")
    assert log == [("fixed", "a")]
    assert [d.subscriber for d in report.delivered] == ["inventory"]
    assert [d.subscriber for d in bus.dead_letters] == ["other"]


def test_redeliver_skips_letters_whose_subscriber_is_gone():
    bus = EventBus()
    sub = bus.subscribe("a", broken(KeyError("k")), name="gone")
    bus.publish(Event("a"))
    sub.unsubscribe()
    report = bus.redeliver()
    assert [d.subscriber for d in report.skipped] == ["gone"] and not report.ok
    assert len(bus.dead_letters) == 1


# --- publishing from inside a handler --------------------------------------------------------


def test_a_publish_during_delivery_waits_for_the_current_delivery_to_finish():
    bus, log = EventBus(), []
    inner_reports: list[PublishReport] = []

    def reserve(event):
        log.append(("inventory", event.type))
        inner_reports.append(bus.publish(Event("inventory.reserved")))
        log.append(("inventory returns", event.type))

    bus.subscribe("order.created", reserve, name="inventory")
    bus.subscribe("order.created", recorder(log, "email"))
    bus.subscribe("inventory.reserved", recorder(log, "shipping"))
    report = bus.publish(Event("order.created"))
    assert log == [
        ("inventory", "order.created"),
        ("inventory returns", "order.created"),  # its publish did not run anyone yet
        ("email", "order.created"),  # every handler of order.created goes first
        ("shipping", "inventory.reserved"),
    ]
    [inner] = inner_reports
    assert report.followups == (inner,)
    assert inner.delivered == ("shipping",) and not inner.queued


def test_the_report_of_a_queued_publish_says_so_until_delivered():
    bus, seen = EventBus(), []

    def handler(event):
        inner = bus.publish(Event("b"))
        seen.append((inner.queued, repr(inner), inner.ok, inner.unhandled))

    bus.subscribe("a", handler)
    bus.publish(Event("a"))
    assert seen == [
        (
            True,
            "<PublishReport 'b': queued, goes out when the current delivery finishes>",
            False,
            False,
        )
    ]


def test_nested_publishes_go_out_in_order_breadth_first():
    bus, log = EventBus(), []

    def fan_out(event):
        log.append(event.type)
        for child in event.data.get("children", []):
            bus.publish(Event(child["type"], child))

    bus.subscribe("#", fan_out, name="fan_out")
    tree = {
        "children": [
            {"type": "b", "children": [{"type": "d"}]},
            {"type": "c", "children": [{"type": "e"}]},
        ]
    }
    report = bus.publish(Event("a", tree))
    assert log == ["a", "b", "c", "d", "e"]
    assert [r.event.type for r in report.followups] == ["b", "c", "d", "e"]
    assert repr(report) == "<PublishReport 'a': delivered to fan_out; then 4 follow-up events>"


# --- tracing ---------------------------------------------------------------------------------


def steps(tracer: Tracer) -> list[tuple]:
    return [(r.source, r.event, r.target, r.outcome, r.attempt, r.via) for r in tracer]


def test_tracing_records_every_step():
    tracer = Tracer()
    bus = EventBus(tracer)
    bus.subscribe("order.created", print, name="email")
    bus.subscribe("order.*", flaky(1), name="inventory", max_attempts=2)
    bus.subscribe("#", broken(KeyError("x")), name="audit")
    bus.publish(Event("order.created"), source="OrderService")
    bus.publish(Event("nobody.listens.here.either.except.audit"))
    assert steps(tracer) == [
        ("OrderService", "order.created", None, "sent", 1, None),
        ("OrderService", "order.created", "email", "delivered", 1, "order.created"),
        ("OrderService", "order.created", "inventory", "failed", 1, "order.*"),
        ("OrderService", "order.created", "inventory", "retried", 2, "order.*"),
        ("OrderService", "order.created", "inventory", "delivered", 2, "order.*"),
        ("OrderService", "order.created", "audit", "failed", 1, "#"),
        ("OrderService", "order.created", "audit", "dead_lettered", 1, "#"),
        ("publisher", "nobody.listens.here.either.except.audit", None, "sent", 1, None),
        ("publisher", "nobody.listens.here.either.except.audit", "audit", "failed", 1, "#"),
        ("publisher", "nobody.listens.here.either.except.audit", "audit", "dead_lettered", 1, "#"),
    ]
    failed = tracer.where(outcome="failed")
    assert [r.detail for r in failed] == [
        "ConnectionError: down (call 1)",
        "KeyError: 'x'",
        "KeyError: 'x'",
    ]
    assert tracer[0].event_id == "evt-0001"


def test_trace_source_comes_from_metadata_and_unhandled_is_recorded():
    tracer = Tracer()
    bus = EventBus(tracer)
    bus.publish(Event("order.created", metadata={"source": "Checkout"}))
    assert steps(tracer) == [("Checkout", "order.created", None, "unhandled", 1, None)]


def test_an_event_published_by_a_handler_is_traced_as_sent_by_that_subscriber():
    tracer = Tracer()
    bus = EventBus(tracer)
    bus.subscribe(
        "order.created", lambda e: bus.publish(Event("stock.reserved")), name="InventoryService"
    )
    bus.subscribe("stock.reserved", print, name="ShippingService")
    bus.publish(Event("order.created"), source="OrderService")
    assert steps(tracer) == [
        ("OrderService", "order.created", None, "sent", 1, None),
        ("OrderService", "order.created", "InventoryService", "delivered", 1, "order.created"),
        ("InventoryService", "stock.reserved", None, "sent", 1, None),
        ("InventoryService", "stock.reserved", "ShippingService", "delivered", 1, "stock.reserved"),
    ]


def test_redelivery_is_traced_from_the_dead_letter_queue():
    tracer = Tracer()
    bus = EventBus(tracer)
    bus.subscribe("a", flaky(1), name="x")
    bus.publish(Event("a"))
    tracer.clear()
    bus.redeliver()
    assert steps(tracer) == [
        ("dead letters", "a", None, "sent", 1, None),
        ("dead letters", "a", "x", "delivered", 2, "a"),
    ]


def test_an_untraced_bus_and_a_traced_bus_deliver_the_same():
    def run(tracer):
        with reproducible():
            bus, log = EventBus(tracer), []
            bus.subscribe("a.*", flaky(1, log), max_attempts=2, name="f")
            bus.subscribe("a.#", broken(OSError("disk")), name="b")
            bus.subscribe("#", lambda e: log.append(("all", e.type)) or None, name="all")
            reports = [repr(bus.publish(Event(t))) for t in ["a.x", "a", "b.c", "a.y"]]
            return log, reports, list(bus.dead_letters)

    assert run(None) == run(Tracer())


def test_a_publish_during_redelivery_is_queued_too():
    bus, log, state = EventBus(), [], {"up": False}

    def reserve(event):
        if not state["up"]:
            raise ConnectionError("down")
        log.append("reserve")
        bus.publish(Event("stock.reserved"))
        log.append("reserve returns")

    bus.subscribe("order.created", reserve, name="inventory")
    bus.subscribe("stock.reserved", recorder(log, "shipping"))
    bus.publish(Event("order.created"))
    state["up"] = True
    report = bus.redeliver()
    assert log == ["reserve", "reserve returns", ("shipping", "stock.reserved")]
    assert [r.delivered for r in report.followups] == [("shipping",)]


def test_subscription_changes_during_a_delivery_count_from_the_next_event():
    bus, log = EventBus(), []
    subs = {}

    def first(event):
        log.append(("first", event.type))
        if event.type == "a":
            subs["second"].unsubscribe()
            bus.subscribe("#", recorder(log, "newcomer"))

    bus.subscribe("#", first)
    subs["second"] = bus.subscribe("#", recorder(log, "second"))
    bus.publish(Event("a"))
    bus.publish(Event("b"))
    assert log == [
        ("first", "a"),
        ("second", "a"),  # the event "a" went to who matched then
        ("first", "b"),
        ("newcomer", "b"),
    ]


def test_a_subscription_says_whether_it_matches_a_topic():
    subscription = EventBus().subscribe("order.#", print)
    assert subscription.matches("order") and subscription.matches("order.created.eu")
    assert not subscription.matches("orders.created")
    with pytest.raises(ValueError, match="contains the wildcard"):
        subscription.matches("order.*")
