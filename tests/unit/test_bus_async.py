"""EventBus, asynchronous side: concurrency, isolation, backoff, nesting, redelivery."""

from __future__ import annotations

import asyncio

import pytest

from eda_kit import Event, Tracer, reproducible
from eda_kit.pubsub.bus import EventBus


@pytest.fixture(autouse=True)
def fixed_ids():
    with reproducible():
        yield


def run(coroutine):
    return asyncio.run(coroutine)


class FakeSleep:
    """Records the delays instead of waiting (yields to the loop, like a real sleep)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def test_subscribers_run_concurrently():
    # Each handler waits for the other's signal: run one after the other, this deadlocks.
    bus = EventBus()
    ping, pong, log = asyncio.Event(), asyncio.Event(), []

    async def left(event):
        ping.set()
        await pong.wait()
        log.append("left")

    async def right(event):
        await ping.wait()
        pong.set()
        log.append("right")

    bus.subscribe("game", left, name="left")
    bus.subscribe("game", right, name="right")

    async def main():
        return await asyncio.wait_for(bus.publish_async(Event("game")), timeout=5)

    report = run(main())
    assert sorted(log) == ["left", "right"]
    assert report.delivered == ("left", "right")


def test_one_failing_subscriber_does_not_fail_the_publish_or_the_others():
    bus, log = EventBus(backoff_base=0), []

    async def email(event):
        await asyncio.sleep(0)
        log.append("email")

    async def inventory(event):
        await asyncio.sleep(0)
        raise KeyError("sku")

    def audit(event):  # plain functions work too
        log.append("audit")

    bus.subscribe("order.created", email, name="email")
    bus.subscribe("order.created", inventory, name="inventory", max_attempts=2)
    bus.subscribe("#", audit, name="audit")
    report = run(bus.publish_async(Event("order.created")))
    assert sorted(log) == ["audit", "email"]
    assert report.delivered == ("email", "audit") and report.failed == ("inventory",)
    [letter] = bus.dead_letters
    assert (letter.subscriber, letter.error, letter.attempts) == ("inventory", "KeyError: 'sku'", 2)


def test_retries_back_off_exponentially_up_to_the_cap():
    sleep = FakeSleep()
    bus = EventBus(backoff_base=0.5, backoff_max=3.0, sleep=sleep)
    calls = []

    async def flaky(event):
        calls.append(len(calls) + 1)
        if len(calls) < 5:
            raise ConnectionError("down")

    bus.subscribe("pay", flaky, name="payments", max_attempts=5)
    report = run(bus.publish_async(Event("pay")))
    assert sleep.delays == [0.5, 1.0, 2.0, 3.0]  # 4.0 capped at backoff_max
    assert report.ok and report.attempts == {"payments": 5}
    assert [bus.backoff_delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_others_finish_while_one_waits_for_its_retry():
    order = []

    async def sleep(seconds):
        order.append("sleeping")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    bus = EventBus(sleep=sleep)

    async def slow_then_ok(event):
        if "sleeping" not in order:
            raise TimeoutError("first try times out")
        order.append("retry ok")

    async def quick(event):
        await asyncio.sleep(0)
        order.append("quick done")

    bus.subscribe("a", slow_then_ok, name="slow", max_attempts=2)
    bus.subscribe("a", quick, name="quick")
    report = run(bus.publish_async(Event("a")))
    assert order == ["sleeping", "quick done", "retry ok"]
    assert report.ok


def test_the_default_sleep_really_waits_and_still_delivers():
    bus, tries = EventBus(backoff_base=0.001), []

    async def flaky(event):
        tries.append(1)
        if len(tries) == 1:
            raise OSError("blip")

    bus.subscribe("a", flaky, max_attempts=2)
    assert run(bus.publish_async(Event("a"))).ok and len(tries) == 2


def test_a_publish_during_async_delivery_is_queued_until_it_finishes():
    bus, log = EventBus(), []
    inner = []

    async def reserve(event):
        log.append("inventory")
        inner.append(await bus.publish_async(Event("stock.reserved")))
        inner.append(bus.publish(Event("stock.logged")))  # a sync publish is queued too
        log.append("inventory returns")

    async def email(event):
        await asyncio.sleep(0)
        log.append("email")

    bus.subscribe("order.created", reserve, name="inventory")
    bus.subscribe("order.created", email, name="email")
    bus.subscribe("stock.#", lambda e: log.append(e.type), name="shipping")
    report = run(bus.publish_async(Event("order.created")))
    assert log == ["inventory", "inventory returns", "email", "stock.reserved", "stock.logged"]
    assert report.followups == tuple(inner)
    assert [r.delivered for r in inner] == [("shipping",), ("shipping",)]


def test_independent_concurrent_publishes_are_not_mistaken_for_nested_ones():
    bus = EventBus()
    gate = asyncio.Event

    async def main():
        opened = gate()

        async def waits(event):
            if event.type == "first":
                await opened.wait()
            else:
                opened.set()

        bus.subscribe("#", waits, name="waits")
        first = asyncio.create_task(bus.publish_async(Event("first")))
        await asyncio.sleep(0)  # "first" is now mid-delivery
        second = await bus.publish_async(Event("second"))  # from another task: goes out now
        return await first, second

    first, second = run(main())
    assert not second.queued and second.delivered == ("waits",)
    assert first.delivered == ("waits",) and first.followups == ()


def test_redeliver_async_after_a_fix():
    tracer = Tracer()
    bus, state = EventBus(tracer, sleep=FakeSleep()), {"up": False}
    done = []

    async def reserve(event):
        if not state["up"]:
            raise ConnectionError("stock service down")
        done.append(event.data["order_id"])

    bus.subscribe("order.created", reserve, name="inventory", max_attempts=3)
    run(bus.publish_async(Event("order.created", {"order_id": "A1"})))
    assert [d.attempts for d in bus.dead_letters] == [3]
    run(bus.redeliver_async())  # still down: fails again, attempts add up
    assert [d.attempts for d in bus.dead_letters] == [6]
    state["up"] = True
    mark = len(tracer)
    report = run(bus.redeliver_async())
    assert done == ["A1"] and report.ok and len(bus.dead_letters) == 0
    assert [(r.source, r.target, r.outcome, r.attempt) for r in tracer.records[mark:]] == [
        ("dead letters", None, "sent", 1),
        ("dead letters", "inventory", "delivered", 7),
    ]


def test_async_tracing_records_failures_retries_and_dead_letters():
    tracer = Tracer()
    bus = EventBus(tracer, sleep=FakeSleep())

    async def broken(event):
        raise ValueError("bad")

    bus.subscribe("a", broken, name="b", max_attempts=2)
    run(bus.publish_async(Event("a"), source="S"))
    assert [(r.source, r.target, r.outcome, r.attempt, r.detail) for r in tracer] == [
        ("S", None, "sent", 1, ""),
        ("S", "b", "failed", 1, "ValueError: bad"),
        ("S", "b", "retried", 2, ""),
        ("S", "b", "failed", 2, "ValueError: bad"),
        ("S", "b", "dead_lettered", 2, "ValueError: bad"),
    ]


def test_publish_async_refuses_bad_input():
    bus = EventBus()
    with pytest.raises(TypeError, match="takes an Event"):
        run(bus.publish_async({"type": "order.created"}))
    with pytest.raises(ValueError, match="wildcard"):
        run(bus.publish_async(Event("order.#")))


def test_cancellation_is_not_swallowed():
    bus = EventBus()

    async def forever(event):
        await asyncio.Event().wait()

    bus.subscribe("a", forever)

    async def main():
        task = asyncio.create_task(bus.publish_async(Event("a")))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return bus.publish(Event("b"))  # the bus is not stuck "delivering"

    assert not run(main()).queued
    assert len(bus.dead_letters) == 0


def test_a_publish_during_async_redelivery_is_queued_too():
    bus, log, state = EventBus(), [], {"up": False}

    async def reserve(event):
        if not state["up"]:
            raise ConnectionError("down")
        log.append("reserve")
        await bus.publish_async(Event("stock.reserved"))
        log.append("reserve returns")

    bus.subscribe("order.created", reserve, name="inventory")
    bus.subscribe("stock.reserved", lambda e: log.append("shipping"), name="shipping")
    run(bus.publish_async(Event("order.created")))
    state["up"] = True
    report = run(bus.redeliver_async())
    assert log == ["reserve", "reserve returns", "shipping"]
    assert [r.delivered for r in report.followups] == [("shipping",)]
