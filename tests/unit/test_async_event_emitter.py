"""AsyncEventEmitter: coroutine listeners as tasks, errors routed to "error", wait_for, drain."""

from __future__ import annotations

import asyncio
import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import AsyncEventEmitter, Tracer
from eda_kit.emitter import EventEmitter, UnhandledErrorEvent


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_public_name_resolves_to_the_same_class_everywhere():
    from eda_kit.emitter import AsyncEventEmitter as via_emitter
    from eda_kit.emitter.async_event_emitter import AsyncEventEmitter as direct

    assert direct is via_emitter is AsyncEventEmitter
    assert issubclass(AsyncEventEmitter, EventEmitter)


def test_emit_returns_at_once_and_coroutine_listeners_run_as_tasks():
    log: list = []

    async def scenario():
        kitchen = AsyncEventEmitter()

        async def cook(order):
            log.append(("cook starts", order))
            await asyncio.sleep(0)
            log.append(("cook done", order))

        kitchen.on("order", cook)
        kitchen.on("order", lambda order: log.append(("waiter", order)))
        assert kitchen.emit("order", "A1") is True
        log.append(("emit returned",))
        assert kitchen.pending == 1
        await kitchen.drain()
        assert kitchen.pending == 0

    run(scenario())
    assert log == [("waiter", "A1"), ("emit returned",), ("cook starts", "A1"), ("cook done", "A1")]


def test_coroutine_listeners_interleave_at_their_awaits():
    log: list = []

    async def scenario():
        emitter = AsyncEventEmitter()

        async def slow(order):
            log.append("slow starts")
            await asyncio.sleep(0.02)
            log.append("slow done")

        async def fast(order):
            log.append("fast starts")
            await asyncio.sleep(0)
            log.append("fast done")

        emitter.on("x", slow).on("x", fast)
        emitter.emit("x", 1)
        await emitter.drain()

    run(scenario())
    assert log == ["slow starts", "fast starts", "fast done", "slow done"]


def test_an_async_listener_failure_is_routed_to_the_error_event():
    errors: list = []

    async def scenario():
        emitter = AsyncEventEmitter()

        async def charge(order):
            raise ValueError(f"card declined for {order}")

        emitter.on("order", charge)
        emitter.on("error", errors.append)
        emitter.emit("order", "A1")
        await emitter.drain()  # the error was handled: drain raises nothing

    run(scenario())
    assert [str(e) for e in errors] == ["card declined for A1"]


def test_with_nobody_listening_for_error_drain_raises_the_failure():
    async def scenario():
        emitter = AsyncEventEmitter()

        async def charge(order):
            raise ValueError("card declined")

        emitter.on("order", charge)
        emitter.emit("order", "A1")
        with pytest.raises(ValueError, match="card declined"):
            await emitter.drain()
        await emitter.drain()  # raised once: the next drain is clean

    run(scenario())


def test_several_unhandled_failures_come_out_as_an_exception_group():
    async def scenario():
        emitter = AsyncEventEmitter()

        async def one(_):
            raise ValueError("one")

        async def two(_):
            raise KeyError("two")

        emitter.on("x", one).on("x", two)
        emitter.emit("x", 0)
        with pytest.raises(ExceptionGroup) as raised:
            await emitter.drain()
        names = sorted(type(e).__name__ for e in raised.value.exceptions)
        assert names == ["KeyError", "ValueError"]

    run(scenario())


def test_a_failing_async_error_listener_is_not_routed_back_to_itself():
    calls: list = []

    async def scenario():
        emitter = AsyncEventEmitter()

        async def bad_guard(error):
            calls.append(str(error))
            raise RuntimeError("the guard failed too")

        async def charge(_):
            raise ValueError("declined")

        emitter.on("error", bad_guard).on("order", charge)
        emitter.emit("order", "A1")
        with pytest.raises(RuntimeError, match="the guard failed too"):
            await emitter.drain()

    run(scenario())
    assert calls == ["declined"]


def test_a_plain_listener_that_raises_still_stops_the_emit():
    async def scenario():
        emitter = AsyncEventEmitter()
        log: list = []
        emitter.on("x", lambda: 1 / 0).on("x", lambda: log.append("never"))
        with pytest.raises(ZeroDivisionError):
            emitter.emit("x")
        assert log == []

    run(scenario())


def test_emitting_to_a_coroutine_listener_without_a_running_loop_is_a_clear_error():
    emitter = AsyncEventEmitter()

    async def cook(order):
        pass

    emitter.on("order", cook)
    with pytest.raises(RuntimeError, match="cook of 'order' returned a coroutine, but there is no"):
        emitter.emit("order", "A1")
    emitter.on("sync", len)
    assert emitter.emit("sync", "") is True  # plain listeners need no loop


def test_once_works_with_coroutine_listeners():
    log: list = []

    async def scenario():
        emitter = AsyncEventEmitter()

        async def first(order):
            log.append(order)

        emitter.once("x", first)
        emitter.emit("x", 1)
        emitter.emit("x", 2)
        await emitter.drain()

    run(scenario())
    assert log == [1]


def test_wait_for_returns_the_next_emission_arguments():
    async def scenario():
        emitter = AsyncEventEmitter()

        async def cook(order):
            await asyncio.sleep(0)
            emitter.emit("ready", order, "hot")

        emitter.on("order", cook)
        emitter.emit("order", "A1")
        assert await emitter.wait_for("ready") == ("A1", "hot")
        assert emitter.listener_count("ready") == 0
        assert emitter.listener_count("error") == 0  # the helper cleaned up after itself

    run(scenario())


def test_wait_for_fails_with_an_error_emitted_while_waiting():
    async def scenario():
        emitter = EventEmitter()  # works on the plain emitter too

        async def later():
            await asyncio.sleep(0)
            emitter.emit("error", "no ingredients")

        task = asyncio.get_running_loop().create_task(later())
        with pytest.raises(UnhandledErrorEvent, match="no ingredients"):
            await emitter.wait_for("ready")
        await task
        assert emitter.event_names() == []

    run(scenario())


def test_wait_for_times_out_and_removes_its_listeners():
    async def scenario():
        emitter = AsyncEventEmitter()
        with pytest.raises(TimeoutError):
            await emitter.wait_for("never", timeout=0.01)
        assert emitter.event_names() == []

    run(scenario())


def test_traced_async_deliveries_are_recorded_when_scheduled_and_when_they_finish():
    tracer = Tracer()

    async def cook(order):
        await asyncio.sleep(0)

    async def charge(order):
        raise ValueError("declined")

    def waiter(order):
        pass

    async def scenario():
        emitter = AsyncEventEmitter(tracer, name="restaurant")
        emitter.on("order", cook).on("order", charge).on("order", waiter)
        emitter.emit("order", "A1")
        with pytest.raises(ValueError):
            await emitter.drain()

    run(scenario())
    assert [(r.event, r.target, r.outcome, r.detail) for r in tracer] == [
        ("order", None, "sent", ""),
        ("order", cook.__qualname__, "dispatched", ""),
        ("order", charge.__qualname__, "dispatched", ""),
        ("order", waiter.__qualname__, "delivered", ""),
        ("order", charge.__qualname__, "failed", "ValueError: declined"),
        ("error", None, "unhandled", ""),
        ("order", cook.__qualname__, "delivered", ""),
    ]


def test_an_undrained_failure_is_reported_by_asyncio_when_the_emitter_is_gone():
    reports: list = []

    async def scenario():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        emitter = AsyncEventEmitter()

        async def charge(_):
            raise ValueError("declined")

        emitter.on("x", charge)
        emitter.emit("x", 1)
        await asyncio.sleep(0.01)
        del emitter
        gc.collect()

    run(scenario())
    assert [type(r.get("exception")).__name__ for r in reports] == ["ValueError"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ok", "fail"]), st.integers(0, 3)), max_size=6))
def test_every_coroutine_listener_ends_delivered_or_failed_and_failures_reach_error(plan):
    """Property: with an error listener, each failure arrives there once; nothing is lost."""
    tracer = Tracer()
    handled: list = []

    def make(index, kind, sleeps):
        async def listener(_):
            for _ in range(sleeps):
                await asyncio.sleep(0)
            if kind == "fail":
                raise ValueError(f"listener {index}")

        listener.__qualname__ = f"listener{index}"
        return listener

    async def scenario():
        emitter = AsyncEventEmitter(tracer)
        emitter.on("error", handled.append)
        for index, (kind, sleeps) in enumerate(plan):
            emitter.on("x", make(index, kind, sleeps))
        emitter.emit("x", None)
        await emitter.drain()

    run(scenario())
    outcomes = {r.target: r.outcome for r in tracer if r.event == "x" and r.target}
    assert outcomes == {
        f"listener{i}": ("failed" if kind == "fail" else "delivered")
        for i, (kind, _) in enumerate(plan)
    }
    assert sorted(str(e) for e in handled) == sorted(
        f"listener {i}" for i, (kind, _) in enumerate(plan) if kind == "fail"
    )
