"""Exercises for notebook 01, Event emitter: once by hand, call order, a leak, a guard."""

from __future__ import annotations

import warnings

from ..emitter import EventEmitter, MaxListenersExceededWarning
from .framework import Checker, Exercise

__all__ = [
    "write_once",
    "call_order",
    "fix_the_leak",
    "guard",
    "my_once",
    "tricky_emit",
    "predicted_calls",
    "track_order",
    "guarded",
]


# --- 1. once, written on top of on and off ------------------------------------------------


def my_once(emitter, event, listener):
    def wrapper(*args):
        emitter.off(event, wrapper)  # first: so an emit from inside can't reach it again
        listener(*args)

    emitter.on(event, wrapper)


def _removes_after_calling(emitter, event, listener):
    def wrapper(*args):
        listener(*args)
        emitter.off(event, wrapper)

    emitter.on(event, wrapper)


def _never_removes(emitter, event, listener):
    emitter.on(event, listener)


def _removes_the_wrong_function(emitter, event, listener):
    def wrapper(*args):
        emitter.off(event, listener)  # listener was never registered: wrapper stays
        listener(*args)

    emitter.on(event, wrapper)


def _test_once(once, check: Checker) -> None:
    with check.case("emit('order', 'A1', 30) once"):
        emitter, calls = EventEmitter(), []
        once(emitter, "order", lambda *args: calls.append(args))
        emitter.emit("order", "A1", 30)
        check.expect(calls, [("A1", 30)], "the calls your listener got")
    with check.case("emit('order', ...) twice"):
        emitter, calls = EventEmitter(), []
        once(emitter, "order", calls.append)
        emitter.emit("order", "A1")
        emitter.emit("order", "A2")
        check.expect(calls, ["A1"], "the calls your listener got")
        check.expect(emitter.listener_count("order"), 0, "listeners left afterwards")
    with check.case("the listener emits the same event again from inside itself"):
        emitter, calls = EventEmitter(), []

        def chef(order):
            calls.append(order)
            if order == "A1":
                emitter.emit("order", "A2")

        once(emitter, "order", chef)
        emitter.emit("order", "A1")
        check.expect(calls, ["A1"], "the calls chef got (it must run once, not for A2 too)")
    with check.case("another listener on the same event"):
        emitter, calls, others = EventEmitter(), [], []
        emitter.on("order", others.append)
        once(emitter, "order", calls.append)
        emitter.emit("order", "A1")
        emitter.emit("order", "A2")
        check.expect(others, ["A1", "A2"], "the calls the other listener got")


write_once = Exercise(
    "Write once() yourself, on top of on() and off()",
    test=_test_once,
    reference=my_once,
    hints=[
        "You can't remove `listener` itself: it was never registered. Register a small "
        "wrapper function with emitter.on, and remove *that* wrapper.",
        "Inside the wrapper: remove the wrapper with emitter.off(event, wrapper), then call "
        "listener(*args). The wrapper can refer to itself by name.",
        "Order matters: remove first, call second. If the listener emits the same event, the "
        "wrapper must already be gone.",
    ],
    common_mistakes=[_removes_after_calling, _never_removes, _removes_the_wrong_function],
    explanation=(
        "A once-listener is an ordinary listener that unsubscribes itself. It must unsubscribe "
        "the function that was registered (the wrapper), and it must do so before calling the "
        "real listener: Node's own once() does exactly this, which is why a once-listener that "
        "re-emits its event never runs twice."
    ),
)


# --- 2. predict the order of calls in a tricky emit ---------------------------------------


def tricky_emit() -> list[str]:
    """The scenario of the call-order exercise; returns who was called, in order."""
    calls: list[str] = []
    kitchen = EventEmitter()

    def waiter(order):
        calls.append(f"waiter {order}")

    def chef(order):
        calls.append(f"chef {order}")
        kitchen.on("order", latecomer)
        if order == "A1":
            kitchen.emit("order", "A2")

    def latecomer(order):
        calls.append(f"latecomer {order}")

    def host(order):
        calls.append(f"host {order}")

    kitchen.on("order", waiter)
    kitchen.once("order", chef)
    kitchen.prepend_listener("order", host)
    kitchen.emit("order", "A1")
    return calls


predicted_calls = ["host A1", "waiter A1", "chef A1", "host A2", "waiter A2", "latecomer A2"]


def _test_prediction(prediction, check: Checker) -> None:
    actual = tricky_emit()
    with check.case("your prediction is a list of strings like 'waiter A1'"):
        check.require(
            isinstance(prediction, list | tuple),
            f"expected a list of strings, got {type(prediction).__name__}",
        )
    for index, (said, happened) in enumerate(zip(prediction, actual), start=1):
        with check.case(f"call number {index}"):
            if said != happened:
                check.fail(f"expected {happened!r}, you said {said!r}")
    with check.case("how many calls happen"):
        check.expect(len(prediction), len(actual), "number of calls")


_call_order_mistakes = [
    # prepend forgotten: host runs last
    ["waiter A1", "chef A1", "host A1", "waiter A2", "host A2", "latecomer A2"],
    # once forgotten: chef runs again for A2
    ["host A1", "waiter A1", "chef A1", "host A2", "waiter A2", "chef A2", "latecomer A2"],
    # snapshot forgotten: the latecomer also runs for A1, at the end of the first emit
    ["host A1", "waiter A1", "chef A1", "host A2", "waiter A2", "latecomer A2", "latecomer A1"],
    # nested emits queued instead of run at once
    ["host A1", "waiter A1", "chef A1", "latecomer A1", "host A2", "waiter A2", "latecomer A2"],
]

call_order = Exercise(
    "Predict the order of calls in a tricky emit",
    test=_test_prediction,
    reference=predicted_calls,
    hints=[
        "prepend_listener puts host in front of the listeners that were already there.",
        "chef is a once-listener: it is removed *before* it runs, so the emit it starts "
        "from inside itself doesn't call it again.",
        "An emit calls a snapshot of the listener list taken when it started. The inner emit "
        "(A2) starts after chef added latecomer; the outer one (A1) started before.",
        "emit is synchronous: the inner emit runs all its listeners before chef returns.",
    ],
    common_mistakes=_call_order_mistakes,
    explanation=(
        "Four rules at once: prepend goes first; once removes before running; every emit "
        "works on the listener list as it was when that emit started; and emit is a plain "
        "synchronous function call, so a nested emit finishes before the outer one moves on."
    ),
)


# --- 3. fix a listener leak ---------------------------------------------------------------


def track_order(kitchen, order_id, on_ready):
    def listener(ready_id):
        if ready_id == order_id:
            kitchen.off("order.ready", listener)
            on_ready(ready_id)

    kitchen.on("order.ready", listener)


def _leaky(kitchen, order_id, on_ready):  # the code from the notebook
    kitchen.on("order.ready", lambda ready_id: on_ready(ready_id) if ready_id == order_id else None)


def _once_for_any_order(kitchen, order_id, on_ready):
    def listener(ready_id):
        if ready_id == order_id:
            on_ready(ready_id)

    kitchen.once("order.ready", listener)  # gone after the first order, whichever it is


def _removes_on_ready(kitchen, order_id, on_ready):
    def listener(ready_id):
        if ready_id == order_id:
            kitchen.off("order.ready", on_ready)  # on_ready was never registered
            on_ready(ready_id)

    kitchen.on("order.ready", listener)


def _test_tracking(track, check: Checker) -> None:
    with check.case("track A1; the kitchen says A1 is ready"):
        kitchen, served = EventEmitter(), []
        track(kitchen, "A1", served.append)
        kitchen.emit("order.ready", "A1")
        check.expect(served, ["A1"], "orders served")
        check.expect(kitchen.listener_count("order.ready"), 0, "listeners left afterwards")
    with check.case("track A1 and A2; A2 gets ready first, then A1"):
        kitchen, served = EventEmitter(), []
        track(kitchen, "A1", served.append)
        track(kitchen, "A2", served.append)
        kitchen.emit("order.ready", "A2")
        kitchen.emit("order.ready", "A1")
        check.expect(served, ["A2", "A1"], "orders served")
    with check.case("A1 is announced ready twice"):
        kitchen, served = EventEmitter(), []
        track(kitchen, "A1", served.append)
        kitchen.emit("order.ready", "A1")
        kitchen.emit("order.ready", "A1")
        check.expect(served, ["A1"], "orders served")
    with check.case("a busy evening: 30 orders, one after another"):
        kitchen, served = EventEmitter(), []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for number in range(30):
                track(kitchen, f"B{number}", served.append)
                kitchen.emit("order.ready", f"B{number}")
        check.expect(len(served), 30, "orders served")
        check.expect(kitchen.listener_count("order.ready"), 0, "listeners left afterwards")
        leaks = [w for w in caught if issubclass(w.category, MaxListenersExceededWarning)]
        check.expect(len(leaks), 0, "MaxListenersExceededWarnings")


fix_the_leak = Exercise(
    "Fix the listener leak: track one order without leaving a listener behind",
    test=_test_tracking,
    reference=track_order,
    hints=[
        "The leaky version never calls off(). A listener you never remove stays forever, "
        "and every later emit runs it.",
        "once() is not enough: it removes the listener after the first 'order.ready' of *any* "
        "order, even one this listener doesn't care about.",
        "Give the listener a name (def listener(ready_id): ...) so it can remove itself with "
        "kitchen.off('order.ready', listener) when its own order is ready.",
    ],
    common_mistakes=[_leaky, _once_for_any_order, _removes_on_ready],
    explanation=(
        "Subscribe, and unsubscribe when you are done: every on() needs a matching off() on "
        "some path. Here the path is 'my order is ready'. In a server, a per-request listener "
        "that is never removed is the classic EventEmitter memory leak; the max-listeners "
        "warning exists to catch it."
    ),
)


# --- 4. guard a listener so one failure doesn't stop the rest -----------------------------


def guarded(emitter, listener):
    def safe(*args):
        try:
            listener(*args)
        except Exception as error:
            emitter.emit("error", error)

    return safe


def _swallows(emitter, listener):
    def safe(*args):
        try:
            listener(*args)
        except Exception:
            pass  # nobody will ever know

    return safe


def _reports_and_reraises(emitter, listener):
    def safe(*args):
        try:
            listener(*args)
        except Exception as error:
            emitter.emit("error", error)
            raise

    return safe


def _unguarded(emitter, listener):
    return listener


def _test_guard(guard, check: Checker) -> None:
    def out_of_stock(order):
        raise KeyError(order)

    with check.case("a failing listener between two good ones"):
        shop, log, errors = EventEmitter(), [], []
        shop.on("error", errors.append)
        shop.on("order", guard(shop, log.append))
        shop.on("order", guard(shop, out_of_stock))
        shop.on("order", guard(shop, lambda order: log.append(f"analytics {order}")))
        shop.emit("order", "A1")
        check.expect(log, ["A1", "analytics A1"], "the good listeners' calls")
        check.expect([repr(e) for e in errors], ["KeyError('A1')"], "errors reported")
    with check.case("a listener that works"):
        shop, log = EventEmitter(), []
        shop.on("order", guard(shop, log.append))
        check.expect(shop.emit("order", "A2"), True, "what emit returns")
        check.expect(log, ["A2"], "the calls")


guard = Exercise(
    "Guard a listener: report its failure as an 'error' event instead of stopping the emit",
    test=_test_guard,
    reference=guarded,
    hints=[
        "Return a new function that calls the listener inside try/except.",
        "In the except block, don't hide the failure: emitter.emit('error', error).",
        "Don't re-raise: raising is exactly what stops the other listeners.",
    ],
    common_mistakes=[_swallows, _reports_and_reraises, _unguarded],
    explanation=(
        "emit() is a plain loop, so one listener's exception stops the loop and reaches the "
        "code that emitted, which usually has nothing to do with it. Catching it at the "
        "listener and re-emitting it as 'error' keeps the other listeners running and still "
        "makes the failure loud: an 'error' event with no listener raises."
    ),
)
