"""Exercises for notebook 01, Event emitter: once by hand, call order, a leak, a retrying guard.

Each checker runs the learner's answer and the reference on the same little scripts (register
listeners, emit with zero to three arguments, listeners that emit from inside themselves) and
compares everything observable: who was called with what, what ``emit`` returned, how many
listeners are left, which warnings fired.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import warnings

from ..emitter import EventEmitter, MaxListenersExceededWarning
from .framework import Checker, Constraint, Exercise, Probe, outcome

__all__ = [
    "write_once",
    "call_order",
    "fix_the_leak",
    "retry_listener",
    "my_once",
    "tricky_emit",
    "predicted_calls",
    "track_order",
    "retrying",
]

_ARGUMENTS = ["A1", 30, "table 4", None, "again"]


def _random_arguments(rng):
    return [rng.choice(_ARGUMENTS) for _ in range(rng.randint(0, 3))]


# ======================================================================================
# 1. once, written on top of on and off


def my_once(emitter, event, listener):
    fired = False

    def wrapper(*args):
        nonlocal fired
        if fired:  # an emit that began before the removal still holds the wrapper
            return
        fired = True
        emitter.off(event, wrapper)  # so later emits don't call it at all
        listener(*args)

    emitter.on(event, wrapper)


def _removes_after_calling(emitter, event, listener):
    def wrapper(*args):
        listener(*args)
        emitter.off(event, wrapper)

    emitter.on(event, wrapper)


def _no_flag(emitter, event, listener):  # right until an emit already under way calls it again
    def wrapper(*args):
        emitter.off(event, wrapper)
        listener(*args)

    emitter.on(event, wrapper)


def _never_removes(emitter, event, listener):
    emitter.on(event, listener)


def _removes_the_wrong_function(emitter, event, listener):
    def wrapper(*args):
        emitter.off(event, listener)  # listener was never registered: wrapper stays
        listener(*args)

    emitter.on(event, wrapper)


def _passes_one_argument(emitter, event, listener):
    def wrapper(arg=None):
        emitter.off(event, wrapper)
        listener(arg)

    emitter.on(event, wrapper)


def _uses_once(emitter, event, listener):  # right behaviour, but not what the task asks
    emitter.once(event, listener)


class _OnceListener:  # right, as a callable object
    def __init__(self, emitter, event, listener):
        self.emitter, self.event, self.listener = emitter, event, listener
        self.fired = False

    def __call__(self, *args):
        if not self.fired:
            self.fired = True
            self.emitter.remove_listener(self.event, self)
            self.listener(*args)


def _once_as_an_object(emitter, event, listener):
    emitter.add_listener(event, _OnceListener(emitter, event, listener))


def _once_with_a_list(emitter, event, listener):  # right: a one-item list instead of nonlocal
    state = {"fired": False}

    def wrapper(*args):
        if not state["fired"]:
            state["fired"] = True
            emitter.off(event, wrapper)
            listener(*args)

    emitter.on(event, wrapper)


def _once_with_a_function_attribute(emitter, event, listener):  # right: the flag on the wrapper
    def wrapper(*args):
        if wrapper.fired:
            return
        wrapper.fired = True
        emitter.remove_listener(event, wrapper)
        listener(*args)

    wrapper.fired = False
    emitter.add_listener(event, wrapper)


def _run_once(my_once, steps):
    """Steps: ("on"|"mine"|"mine_reemit", event, name) registers a recording listener (with
    ``emitter.on`` or with the answer); ("emit", event, args) emits. A "mine_reemit" listener
    emits ``event`` again from inside itself when its first argument is "again"."""
    emitter, log, listeners = EventEmitter(), [], {}

    def recorder(kind, event, name):
        key = (kind, event, name)  # the same name registered twice is the same function
        if key not in listeners:

            def listener(*args):
                log.append((name, list(args)))
                if kind == "mine_reemit" and args and args[0] == "again":
                    log.append(("re-emit", event, emitter.emit(event, "inner")))

            listeners[key] = listener
        return listeners[key]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaxListenersExceededWarning)
        for kind, event, detail in steps:
            if kind == "emit":
                log.append(("emit", event, list(detail), emitter.emit(event, *detail)))
            elif kind == "on":
                emitter.on(event, recorder(kind, event, detail))
            else:
                my_once(emitter, event, recorder(kind, event, detail))
    counts = {event: emitter.listener_count(event) for event in ("order", "bill")}
    return {"calls": log, "listeners left": counts}


def _describe_steps(steps):
    words = []
    for kind, event, detail in steps:
        if kind == "emit":
            words.append(f"emit({', '.join(repr(a) for a in [event, *detail])})")
        elif kind == "on":
            words.append(f"on({event!r}, {detail})")
        else:
            words.append(f"my_once({event!r}, {detail})")
    return "; ".join(words)


def _generate_once_script(rng, size):
    steps = []
    for _ in range(rng.randint(1, size + 2)):
        event = rng.choice(["order", "order", "bill"])
        kind = rng.choice(["mine", "mine", "mine_reemit", "on", "emit", "emit", "emit"])
        if kind == "emit":
            steps.append(("emit", event, _random_arguments(rng)))
        else:
            steps.append((kind, event, rng.choice(["waiter", "chef", "bar"])))
    return steps


_ONLY_ON_AND_OFF = {"on", "add_listener", "off", "remove_listener"}
_FORBIDDEN = ("once", "prepend_once_listener", "prepend_listener", "remove_all_listeners")


class _WatchedEmitter(EventEmitter):
    """An emitter that notes which registration methods were called on it."""

    def __init__(self):
        super().__init__()
        self.used = []

    def once(self, *args, **kwargs):
        self.used.append("once")
        return super().once(*args, **kwargs)

    def prepend_once_listener(self, *args, **kwargs):
        self.used.append("prepend_once_listener")
        return super().prepend_once_listener(*args, **kwargs)

    def prepend_listener(self, *args, **kwargs):
        self.used.append("prepend_listener")
        return super().prepend_listener(*args, **kwargs)

    def remove_all_listeners(self, *args, **kwargs):
        self.used.append("remove_all_listeners")
        return super().remove_all_listeners(*args, **kwargs)


def _attributes_named(answer, names, on=None):
    """Attribute names among ``names`` that the answer's source code mentions (with ``on``:
    only those read from the variable of that name, e.g. ``emitter._add``)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):
        return []
    found = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (on is None or (isinstance(node.value, ast.Name) and node.value.id == on))
    }
    return sorted(found & set(names))


def _emitter_parameter(answer):
    """The name the answer gives its first parameter (the emitter), if it has one."""
    try:
        return next(iter(inspect.signature(answer).parameters), None)
    except (TypeError, ValueError):
        return None


#: The emitter's insides (``_add``, ``_listeners``...): reaching into them is not "only on and off".
_PRIVATE = tuple(
    sorted(
        name for name in dir(EventEmitter()) if name.startswith("_") and not name.startswith("__")
    )
)


def _uses_only_on_and_off(my_once):
    emitter = _WatchedEmitter()
    my_once(emitter, "order", lambda *args: None)
    emitter.emit("order", "A1")
    used = (
        list(dict.fromkeys(emitter.used))
        or _attributes_named(my_once, _FORBIDDEN)
        or _attributes_named(my_once, _PRIVATE, on=_emitter_parameter(my_once))
    )
    if used:
        return f"your code uses {', '.join(f'{name}()' for name in used)}"
    return None


write_once = Exercise(
    "Write once() yourself, on top of on() and off()",
    reference=my_once,
    run=_run_once,
    describe=_describe_steps,
    probes=[
        Probe(
            "emit('order', 'A1', 30) once",
            [("mine", "order", "chef"), ("emit", "order", ["A1", 30])],
        ),
        Probe(
            "emit('order', ...) twice",
            [("mine", "order", "chef"), ("emit", "order", ["A1"]), ("emit", "order", ["A2"])],
        ),
        Probe(
            "an emit with three arguments, then one with none",
            [
                ("mine", "order", "chef"),
                ("emit", "order", ["A1", 30, "table 4"]),
                ("mine", "order", "bar"),
                ("emit", "order", []),
            ],
        ),
        Probe(
            "the listener emits the same event again from inside itself",
            [("mine_reemit", "order", "chef"), ("emit", "order", ["again"])],
        ),
        Probe(
            "another listener on the same event",
            [
                ("on", "order", "waiter"),
                ("mine", "order", "chef"),
                ("emit", "order", ["A1"]),
                ("emit", "order", ["A2"]),
            ],
        ),
        Probe(
            "the same listener given to my_once twice",
            [("mine", "order", "chef"), ("mine", "order", "chef"), ("emit", "order", ["A1"])]
            + [("emit", "order", ["A2"])],
        ),
        Probe(
            "two once-listeners; the first emits the event again from inside itself",
            [
                ("mine_reemit", "order", "chef"),
                ("mine", "order", "bar"),
                ("emit", "order", ["again"]),
            ],
        ),
        Probe(
            "a once-listener on 'bill' while 'order' is emitted",
            [("mine", "bill", "bar"), ("emit", "order", ["A1"]), ("emit", "bill", ["B1"])],
        ),
    ],
    generate=_generate_once_script,
    constraints=[
        Constraint(
            "the task says: use only on() and off()", _uses_only_on_and_off, breaker=_uses_once
        )
    ],
    hints=[
        "You can't remove `listener` itself: it was never registered. Register a small "
        "wrapper function with emitter.on, and remove *that* wrapper.",
        "The wrapper takes *args and hands them all to the listener. It can refer to itself by "
        "name, so it can remove itself, and it should do so before calling the listener.",
        "Removing is not enough on its own: an emit that had already started when the wrapper "
        "removed itself still calls it (every emit works on a snapshot of the listeners). Keep "
        "a flag: fired = False; in the wrapper, return at once if fired, else set fired = True "
        "(nonlocal fired), call emitter.off(event, wrapper), then listener(*args).",
    ],
    common_mistakes=[
        _removes_after_calling,
        _no_flag,
        _never_removes,
        _removes_the_wrong_function,
        _passes_one_argument,
        _uses_once,
    ],
    also_correct=[_once_as_an_object, _once_with_a_list, _once_with_a_function_attribute],
    explanation=(
        "A once-listener is an ordinary listener that unsubscribes itself. It must unsubscribe "
        "the function that was registered (the wrapper), before calling the real listener, so "
        "a re-emit from inside can't reach it. And because every emit calls a snapshot of the "
        "listener list, an emit that was already under way (one started by an earlier listener) "
        "can still call the removed wrapper: the fired flag stops that. Node's own once() keeps "
        "exactly such a flag. The wrapper passes *args through untouched, whatever their number."
    ),
)


# ======================================================================================
# 2. predict the order of calls in a tricky emit


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
    reference=predicted_calls,
    test=_test_prediction,
    run=lambda prediction, _: list(prediction),
    probes=[Probe("your prediction", None)],
    hints=[
        "prepend_listener puts host in front of the listeners that were already there.",
        "chef is a once-listener: it is removed *before* it runs, so the emit it starts "
        "from inside itself doesn't call it again.",
        "An emit calls a snapshot of the listener list taken when it started. The inner emit "
        "(A2) starts after chef added latecomer; the outer one (A1) started before.",
        "emit is synchronous: the inner emit runs all its listeners before chef returns.",
    ],
    common_mistakes=_call_order_mistakes,
    also_correct=[tuple(predicted_calls)],
    explanation=(
        "Four rules at once: prepend goes first; once removes before running; every emit "
        "works on the listener list as it was when that emit started; and emit is a plain "
        "synchronous function call, so a nested emit finishes before the outer one moves on."
    ),
)


# ======================================================================================
# 3. fix a listener leak


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


def _tracker_removed_after_calling(kitchen, order_id, on_ready):  # on_ready raises: never removed
    def listener(ready_id):
        if ready_id == order_id:
            on_ready(ready_id)
            kitchen.off("order.ready", listener)

    kitchen.on("order.ready", listener)


def _removes_every_tracker(kitchen, order_id, on_ready):
    def listener(ready_id):
        if ready_id == order_id:
            kitchen.remove_all_listeners("order.ready")  # other orders' trackers too
            on_ready(ready_id)

    kitchen.on("order.ready", listener)


class _Tracker:  # right, as an object
    def __init__(self, kitchen, order_id, on_ready):
        self.kitchen, self.order_id, self.on_ready = kitchen, order_id, on_ready
        kitchen.on("order.ready", self.ready)

    def ready(self, ready_id):
        if ready_id != self.order_id:
            return
        self.kitchen.remove_listener("order.ready", self.ready)
        self.on_ready(ready_id)


def _track_with_an_object(kitchen, order_id, on_ready):
    _Tracker(kitchen, order_id, on_ready)


def _track_with_an_early_return(kitchen, order_id, on_ready):  # right: other orders return early
    def mine(ready_id):
        if ready_id != order_id:
            return
        kitchen.remove_listener("order.ready", mine)
        on_ready(ready_id)

    kitchen.add_listener("order.ready", mine)


def _run_tracking(track, steps):
    """Steps: ("track", order_id, tag), ("track", order_id, tag, "fails") for an on_ready that
    raises (the customer's phone is off), or ("ready", order_id). Observes every on_ready call,
    what each emit returned (or that it raised), the listeners left after each step and the
    leak warnings."""
    kitchen, log = EventEmitter(), []

    def on_ready_for(tag, fails):
        def on_ready(*args):
            log.append((tag, list(args)))
            if fails:
                raise ConnectionError(f"{tag}: the customer's phone is off")

        return on_ready

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in steps:
            if step[0] == "track":
                track(kitchen, step[1], on_ready_for(step[2], step[3:] == ("fails",)))
            else:
                log.append(("emit", step[1], outcome(kitchen.emit, "order.ready", step[1])))
            log.append(("listeners", kitchen.listener_count("order.ready")))
    leaks = sum(issubclass(w.category, MaxListenersExceededWarning) for w in caught)
    return {"calls": log, "leak warnings": leaks}


def _describe_tracking(steps):
    words = [
        f"track({s[1]!r}{', on_ready raises' if s[3:] else ''})"
        if s[0] == "track"
        else f"ready {s[1]!r}"
        for s in steps
    ]
    return ", ".join(words)


def _generate_tracking(rng, size):
    orders = [f"B{n}" for n in range(rng.randint(1, 4))]
    steps = []
    for number in range(rng.randint(1, 2 * size + 2)):
        order = rng.choice(orders)
        if rng.random() < 0.5:
            fails = ("fails",) if rng.random() < 0.15 else ()
            steps.append(("track", order, f"t{number}", *fails))
        else:
            steps.append(("ready", order))
    return steps


_BUSY = [step for n in range(30) for step in (("track", f"B{n}", "t"), ("ready", f"B{n}"))]
_WAITING = [("track", f"B{n}", f"t{n}") for n in range(12)] + [
    ("ready", f"B{n}") for n in reversed(range(12))
]

fix_the_leak = Exercise(
    "Fix the listener leak: track one order without leaving a listener behind",
    reference=track_order,
    run=_run_tracking,
    describe=_describe_tracking,
    probes=[
        Probe("track A1; the kitchen says A1 is ready", [("track", "A1", "t"), ("ready", "A1")]),
        Probe(
            "track A1 and A2; A2 gets ready first, then A1",
            [("track", "A1", "t1"), ("track", "A2", "t2"), ("ready", "A2"), ("ready", "A1")],
        ),
        Probe(
            "A1 is announced ready twice",
            [("track", "A1", "t"), ("ready", "A1"), ("ready", "A1")],
        ),
        Probe(
            "two trackers for the same order A1",
            [("track", "A1", "t1"), ("track", "A1", "t2"), ("ready", "A1")],
        ),
        Probe(
            "an order nobody tracks gets ready first",
            [("track", "A1", "t"), ("ready", "B9"), ("ready", "A1")],
        ),
        Probe(
            "on_ready raises (the customer's phone is off), then A1 is announced again",
            [("track", "A1", "t", "fails"), ("ready", "A1"), ("ready", "A1")],
        ),
        Probe("a busy evening: 30 orders, one after another", _BUSY),
        Probe("12 orders tracked before any gets ready", _WAITING),
    ],
    generate=_generate_tracking,
    max_size=10,
    hints=[
        "The leaky version never calls off(). A listener you never remove stays forever, "
        "and every later emit runs it.",
        "once() is not enough: it removes the listener after the first 'order.ready' of *any* "
        "order, even one this listener doesn't care about.",
        "Give the listener a name (def listener(ready_id): ...) so it can remove itself with "
        "kitchen.off('order.ready', listener) when its own order is ready.",
    ],
    common_mistakes=[
        _leaky,
        _once_for_any_order,
        _removes_on_ready,
        _removes_every_tracker,
        _tracker_removed_after_calling,
    ],
    also_correct=[_track_with_an_object, _track_with_an_early_return],
    explanation=(
        "Subscribe, and unsubscribe when you are done: every on() needs a matching off() on "
        "some path. Here the path is 'my order is ready'. In a server, a per-request listener "
        "that is never removed is the classic EventEmitter memory leak; the max-listeners "
        "warning exists to catch it."
    ),
)


# ======================================================================================
# 4. a listener that retries, then reports


def retrying(emitter, listener, attempts=3):
    def safe(*args):
        for attempt in range(1, attempts + 1):
            try:
                listener(*args)
                return
            except Exception as error:
                if attempt == attempts:
                    emitter.emit("error", error)  # report the last failure, don't raise

    return safe


def _no_retry(emitter, listener, attempts=3):  # the guard of section 4: reports at once
    def safe(*args):
        try:
            listener(*args)
        except Exception as error:
            emitter.emit("error", error)

    return safe


def _one_try_too_many(emitter, listener, attempts=3):
    def safe(*args):
        for attempt in range(attempts + 1):
            try:
                listener(*args)
                return
            except Exception as error:
                if attempt == attempts:
                    emitter.emit("error", error)

    return safe


def _reports_every_failure(emitter, listener, attempts=3):
    def safe(*args):
        for _ in range(attempts):
            try:
                listener(*args)
                return
            except Exception as error:
                emitter.emit("error", error)  # three alarms for one problem

    return safe


def _raises_after_retrying(emitter, listener, attempts=3):
    def safe(*args):
        for attempt in range(1, attempts + 1):
            try:
                return listener(*args)
            except Exception:
                if attempt == attempts:
                    raise  # stops the other listeners, which is what the guard prevents

    return safe


def _reports_the_first_error(emitter, listener, attempts=3):
    def safe(*args):
        first = None
        for _ in range(attempts):
            try:
                listener(*args)
                return
            except Exception as error:
                first = first or error
        emitter.emit("error", first)

    return safe


def _retries_only_timeouts(emitter, listener, attempts=3):  # a KeyError stops the emit
    def safe(*args):
        for attempt in range(1, attempts + 1):
            try:
                listener(*args)
                return
            except ConnectionError as error:
                if attempt == attempts:
                    emitter.emit("error", error)

    return safe


def _with_a_while_loop(emitter, listener, attempts=3):  # right
    def safe(*args):
        tries = 0
        while True:
            tries += 1
            try:
                listener(*args)
            except Exception as error:
                if tries >= attempts:
                    emitter.emit("error", error)
                    break
            else:
                break

    return safe


def _with_recursion(emitter, listener, attempts=3):  # right
    def safe(*args, _left=attempts):
        try:
            listener(*args)
        except Exception as error:
            if _left > 1:
                safe(*args, _left=_left - 1)
            else:
                emitter.emit("error", error)

    return safe


def _run_retrying(retrying, scenario):
    """One emitter: "waiter" first, the flaky listener (wrapped by the answer), "analytics"
    last; an "error" listener if asked. The flaky listener's calls fail or succeed in the
    order of ``outcomes`` ("fail" raises ConnectionError naming the call's number, "bug" a
    KeyError)."""
    emitter, log = EventEmitter(), []
    outcomes = list(scenario["outcomes"])
    calls = []

    def flaky(*args):
        calls.append(list(args))
        result = outcomes.pop(0) if outcomes else "ok"
        log.append(("flaky", list(args), result))
        if result == "fail":
            raise ConnectionError(f"mail server timeout, call {len(calls)}")
        if result == "bug":  # not only the network fails: any exception is a failure
            raise KeyError(f"template {len(calls)}")
        return "sent" if result == "ok" else None

    emitter.on("order", lambda *args: log.append(("waiter", list(args))))
    if "attempts" in scenario:
        wrapped = retrying(emitter, flaky, scenario["attempts"])
    else:
        wrapped = retrying(emitter, flaky)
    emitter.on("order", wrapped)
    emitter.on("order", lambda *args: log.append(("analytics", list(args))))
    if scenario["error_listener"]:
        emitter.on("error", lambda error: log.append(("error reported", repr(error))))
    for args in scenario["emits"]:
        log.append(("emit", list(args), outcome(emitter.emit, "order", *args)))
    return log


def _describe_retrying(scenario):
    attempts = scenario.get("attempts", "default")
    emits = "; ".join(f"emit{tuple(args)!r}" for args in scenario["emits"])
    listener = "with" if scenario["error_listener"] else "without"
    return (
        f"attempts={attempts}, calls going {scenario['outcomes']}, {emits}, "
        f"{listener} an 'error' listener"
    )


def _generate_retrying(rng, size):
    scenario = {
        "outcomes": [
            rng.choice(["fail", "fail", "bug", "ok", "none"]) for _ in range(rng.randint(0, 8))
        ],
        "emits": [_random_arguments(rng) for _ in range(rng.randint(1, 1 + size // 3))],
        "error_listener": rng.random() < 0.85,
    }
    if rng.random() < 0.8:
        scenario["attempts"] = rng.randint(1, 4)
    return scenario


retry_listener = Exercise(
    "A listener that retries a few times, then reports its failure as an 'error' event",
    reference=retrying,
    run=_run_retrying,
    describe=_describe_retrying,
    probes=[
        Probe(
            "a listener that works first time",
            {"outcomes": ["ok"], "emits": [["A1"]], "error_listener": True},
        ),
        Probe(
            "it fails once, then works (attempts=3)",
            {"outcomes": ["fail", "ok"], "emits": [["A1"]], "error_listener": True, "attempts": 3},
        ),
        Probe(
            "it fails 3 times (attempts=3)",
            {"outcomes": ["fail"] * 3, "emits": [["A1"]], "error_listener": True, "attempts": 3},
        ),
        Probe(
            "it raises a KeyError, then a ConnectionError, then works (attempts=3)",
            {
                "outcomes": ["bug", "fail", "ok"],
                "emits": [["A1"]],
                "error_listener": True,
                "attempts": 3,
            },
        ),
        Probe(
            "three arguments: emit('order', 'A1', 30, 'table 4')",
            {"outcomes": ["fail", "ok"], "emits": [["A1", 30, "table 4"]], "error_listener": True},
        ),
        Probe(
            "attempts left at its default",
            {"outcomes": ["fail"] * 4, "emits": [["A1"]], "error_listener": True},
        ),
        Probe(
            "attempts=1: no retry, report at once",
            {"outcomes": ["fail", "ok"], "emits": [["A1"]], "error_listener": True, "attempts": 1},
        ),
        Probe(
            "two emits: each gets its own attempts",
            {
                "outcomes": ["fail", "fail", "ok", "fail", "ok"],
                "emits": [["A1"], ["A2"]],
                "error_listener": True,
                "attempts": 3,
            },
        ),
        Probe(
            "the listener returns None when it works",
            {"outcomes": ["none"], "emits": [["A1"]], "error_listener": True, "attempts": 2},
        ),
    ],
    generate=_generate_retrying,
    hints=[
        "Return a new function safe(*args) that calls listener(*args) and stops as soon as a "
        "call returns without raising.",
        "Count the calls: after `attempts` failed calls in a row, stop trying. Each emit starts "
        "counting again from zero.",
        "Only after the last attempt fails: emitter.emit('error', error) with that last error, "
        "and don't re-raise (raising is what stops the other listeners). A for loop over "
        "range(1, attempts + 1) with try/except inside, return on success.",
    ],
    common_mistakes=[
        _no_retry,
        _one_try_too_many,
        _reports_every_failure,
        _raises_after_retrying,
        _reports_the_first_error,
        _retries_only_timeouts,
    ],
    also_correct=[_with_a_while_loop, _with_recursion],
    explanation=(
        "Some failures pass (a mail server that times out once); retrying a few times turns them "
        "into successes, and only a failure that outlasts every attempt is reported, once, with "
        "the last error. The report is an 'error' event, not an exception, so the listeners "
        "after this one still run. In a real system the retries would wait a little longer "
        "each time (backoff): notebook 02's bus does that, and a broker does it across "
        "processes. Retrying also means the listener may run twice for one event, so it must "
        "be safe to repeat (idempotent)."
    ),
)
