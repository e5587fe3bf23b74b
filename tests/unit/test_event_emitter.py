"""EventEmitter: one test per rule of Node.js's events.EventEmitter (the expected values were
checked against Node 20; tests/test_emitter_differential.py compares with Node directly)."""

from __future__ import annotations

import warnings

import pytest

import eda_kit
from eda_kit import Event, Tracer
from eda_kit.emitter import EventEmitter, MaxListenersExceededWarning, UnhandledErrorEvent


def recorder(log: list, name: str):
    def listener(*args):
        log.append((name, *args))

    listener.__qualname__ = name
    return listener


# --------------------------------------------------------------------------- basics


def test_listeners_run_in_the_order_they_were_added_with_the_emitted_arguments():
    log: list = []
    emitter = EventEmitter()
    emitter.on("order.created", recorder(log, "email"))
    emitter.on("order.created", recorder(log, "stock"))
    assert emitter.emit("order.created", "A1", 30) is True
    assert log == [("email", "A1", 30), ("stock", "A1", 30)]


def test_emit_returns_false_when_nobody_listens():
    emitter = EventEmitter()
    assert emitter.emit("nothing", 1) is False
    emitter.on("other", print)
    assert emitter.emit("nothing") is False


def test_the_same_function_added_twice_runs_twice():
    log: list = []
    email = recorder(log, "email")
    emitter = EventEmitter().on("x", email).on("x", email)
    emitter.emit("x")
    assert log == [("email",), ("email",)]
    assert emitter.listener_count("x") == 2


def test_on_returns_the_emitter_for_chaining_and_add_listener_is_the_same():
    emitter = EventEmitter()
    assert emitter.on("x", print) is emitter
    assert emitter.add_listener("x", print) is emitter
    assert emitter.listeners("x") == [print, print]


def test_on_without_a_listener_is_a_decorator_that_returns_the_function():
    log: list = []
    emitter = EventEmitter()

    @emitter.on("order.created")
    def send_email(order):
        log.append(order)

    @emitter.once("order.created")
    def first_only(order):
        log.append(("first", order))

    assert callable(send_email) and send_email.__name__ == "send_email"
    emitter.emit("order.created", "A1")
    emitter.emit("order.created", "A2")
    assert log == ["A1", ("first", "A1"), "A2"]


def test_the_prepend_methods_have_a_decorator_form_too():
    log: list = []
    emitter = EventEmitter().on("x", recorder(log, "plain"))

    @emitter.prepend_listener("x")
    def early():
        log.append(("early",))

    @emitter.prepend_once_listener("x")
    def earliest_once():
        log.append(("earliest_once",))

    emitter.emit("x")
    emitter.emit("x")
    assert log == [("earliest_once",), ("early",), ("plain",), ("early",), ("plain",)]


def test_prepend_listener_puts_a_listener_first():
    log: list = []
    emitter = EventEmitter()
    emitter.on("x", recorder(log, "a"))
    emitter.prepend_listener("x", recorder(log, "b"))
    emitter.prepend_once_listener("x", recorder(log, "c"))
    emitter.emit("x")
    emitter.emit("x")
    assert [entry[0] for entry in log] == ["c", "b", "a", "b", "a"]


def test_a_non_callable_listener_is_refused_with_a_clear_error():
    emitter = EventEmitter()
    with pytest.raises(TypeError, match='"listener" argument must be callable. Received 42'):
        emitter.on("x", 42)
    with pytest.raises(TypeError, match="must be callable"):
        emitter.off("x", "nope")
    assert emitter.event_names() == []


def test_a_coroutine_function_is_refused_by_the_plain_emitter():
    async def cook(order):
        pass

    with pytest.raises(TypeError, match="cook is a coroutine function.*AsyncEventEmitter"):
        EventEmitter().on("x", cook)


def test_constructor_arguments_are_checked():
    with pytest.raises(TypeError, match="tracer must be an eda_kit Tracer"):
        EventEmitter(tracer=[])
    with pytest.raises(TypeError, match="name must be a str"):
        EventEmitter(name=3)


# --------------------------------------------------------------------------- once


def test_once_runs_once_and_is_gone_afterwards():
    log: list = []
    emitter = EventEmitter()
    emitter.once("x", recorder(log, "a"))
    assert emitter.emit("x", 1) is True
    assert emitter.emit("x", 2) is False
    assert log == [("a", 1)]
    assert emitter.event_names() == []


def test_once_is_removed_before_it_runs_so_re_emitting_from_inside_does_not_rerun_it():
    log: list = []
    emitter = EventEmitter()

    def first(n):
        log.append(("first", n, emitter.listener_count("x")))
        emitter.emit("x", n + 1)

    emitter.once("x", first)
    emitter.on("x", recorder(log, "b"))
    emitter.emit("x", 1)
    # Node: [ 'a1', 'b2', 'b1' ]: the inner emit already sees the once-listener gone
    assert log == [("first", 1, 1), ("b", 2), ("b", 1)]


def test_a_once_listener_that_raises_is_still_removed():
    emitter = EventEmitter()

    def boom():
        raise ValueError("boom")

    emitter.once("x", boom)
    with pytest.raises(ValueError):
        emitter.emit("x")
    assert emitter.listener_count("x") == 0


def test_listeners_unwraps_once_wrappers_and_raw_listeners_keeps_them():
    log: list = []
    a, b = recorder(log, "a"), recorder(log, "b")
    emitter = EventEmitter().once("x", a).on("x", b)
    assert emitter.listeners("x") == [a, b]
    raw = emitter.raw_listeners("x")
    assert raw[1] is b and raw[0] is not a
    assert raw[0].listener is a
    raw[0]("direct")  # calling the wrapper runs the listener and removes it, as in Node
    assert log == [("a", "direct")]
    assert emitter.listeners("x") == [b]


# --------------------------------------------------------------------------- off


def test_off_removes_the_most_recently_added_copy():
    log: list = []
    a, b = recorder(log, "a"), recorder(log, "b")
    emitter = EventEmitter().on("x", a).on("x", b).on("x", a)
    emitter.off("x", a)
    assert emitter.listeners("x") == [a, b]


def test_off_finds_a_once_listener_by_the_original_function():
    log: list = []
    a, b = recorder(log, "a"), recorder(log, "b")
    emitter = EventEmitter().once("x", a).on("x", b)
    emitter.off("x", a)
    assert emitter.listeners("x") == [b]
    emitter.once("x", a).on("x", a)
    emitter.off("x", a)  # the plain `on` copy is newer: it goes first
    assert [type(r).__name__ for r in emitter.raw_listeners("x")] == ["function", "_Once"]


def test_off_with_an_unknown_listener_does_nothing_and_announces_nothing():
    log: list = []
    emitter = EventEmitter().on("remove_listener", recorder(log, "meta"))
    emitter.on("x", print)
    assert emitter.off("x", len) is emitter
    assert emitter.off("y", len) is emitter
    assert log == []
    assert emitter.listeners("x") == [print]


def test_off_matches_bound_methods_by_equality():
    class EmailService:
        def __init__(self):
            self.sent = []

        def send(self, order):
            self.sent.append(order)

    service = EmailService()
    emitter = EventEmitter().on("x", service.send)
    emitter.off("x", service.send)  # a fresh bound-method object, equal to the first
    assert emitter.listener_count("x") == 0


def test_removing_the_last_listener_drops_the_event_name():
    emitter = EventEmitter().on("a", print).on("b", print)
    emitter.off("a", print)
    assert emitter.event_names() == ["b"]
    emitter.on("a", print)
    assert emitter.event_names() == ["b", "a"]  # a fresh name goes to the end, as in Node


# --------------------------------------------------------------------------- the snapshot rule


def test_a_listener_added_during_an_emit_is_not_called_by_that_emit():
    log: list = []
    emitter = EventEmitter()
    late = recorder(log, "late")

    def adder():
        log.append(("adder",))
        emitter.on("x", late)

    emitter.on("x", adder)
    emitter.emit("x")
    assert log == [("adder",)]
    log.clear()
    emitter.emit("x")
    assert log == [("adder",), ("late",)]


def test_a_listener_removed_during_an_emit_is_still_called_by_that_emit():
    log: list = []
    emitter = EventEmitter()
    victim = recorder(log, "victim")

    def remover():
        log.append(("remover",))
        emitter.off("x", victim)

    emitter.on("x", remover).on("x", victim)
    emitter.emit("x")
    assert log == [("remover",), ("victim",)]
    log.clear()
    emitter.emit("x")
    assert log == [("remover",)]


# --------------------------------------------------------------------------- errors


def test_a_raising_listener_stops_the_emit_and_the_exception_propagates():
    log: list = []
    emitter = EventEmitter()
    emitter.on("x", recorder(log, "first"))
    emitter.on("x", lambda: 1 / 0)
    emitter.on("x", recorder(log, "never"))
    with pytest.raises(ZeroDivisionError):
        emitter.emit("x")
    assert log == [("first",)]


def test_emit_error_with_no_error_listener_raises_the_exception_itself():
    error = ValueError("card declined")
    with pytest.raises(ValueError) as raised:
        EventEmitter().emit("error", error)
    assert raised.value is error


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text", "Unhandled error. ('text')"),
        (None, "Unhandled error. (None)"),
        ({"a": 1}, "Unhandled error. ({'a': 1})"),
    ],
)
def test_emit_error_with_a_non_exception_raises_unhandled_error_event(value, message):
    with pytest.raises(UnhandledErrorEvent) as raised:
        EventEmitter().emit("error", value)
    assert str(raised.value) == message
    assert raised.value.context == value


def test_emit_error_with_no_arguments_raises_unhandled_error_event():
    with pytest.raises(UnhandledErrorEvent, match=r"Unhandled error. \(None\)"):
        EventEmitter().emit("error")


def test_an_error_listener_handles_the_error_event():
    log: list = []
    emitter = EventEmitter().on("error", recorder(log, "guard"))
    error = ValueError("x")
    assert emitter.emit("error", error) is True
    assert log == [("guard", error)]


# --------------------------------------------------------------------------- meta events


def test_new_listener_is_emitted_before_adding_with_the_original_function():
    log: list = []
    emitter = EventEmitter()

    def spy(event, listener):
        log.append((event, listener, emitter.listener_count(event)))

    emitter.on("new_listener", spy)
    emitter.once("x", print)
    emitter.prepend_listener("x", len)
    assert log == [("x", print, 0), ("x", len, 1)]


def test_a_new_listener_listener_does_not_see_itself_being_added():
    log: list = []
    emitter = EventEmitter().on("new_listener", recorder(log, "first"))
    emitter.on("new_listener", recorder(log, "second"))
    assert log == [("first", "new_listener", emitter.listeners("new_listener")[1])]


def test_a_listener_added_by_new_listener_lands_before_the_one_being_added():
    emitter = EventEmitter()

    def add_first(event, listener):
        if event == "x" and listener is print:
            emitter.on("x", len)

    emitter.on("new_listener", add_first)
    emitter.on("x", print)
    assert emitter.listeners("x") == [len, print]  # Node: [ 'pre', 'main' ]


def test_remove_listener_is_emitted_after_removing_with_the_original_function():
    log: list = []
    emitter = EventEmitter()

    def spy(event, listener):
        log.append((event, listener, emitter.listener_count(event)))

    emitter.on("remove_listener", spy)
    emitter.once("x", print).on("x", len)
    emitter.off("x", print)
    emitter.emit("x", [1])  # nothing left but len
    emitter.once("y", print)
    emitter.emit("y", "hi")  # a once-listener removing itself is announced too
    assert log == [("x", print, 1), ("y", print, 0)]


def test_remove_all_listeners_of_an_event_announces_each_newest_first():
    log: list = []
    emitter = EventEmitter()
    emitter.on("remove_listener", lambda event, listener: log.append((event, listener)))
    emitter.once("x", print).on("x", len).once("x", repr)
    assert emitter.remove_all_listeners("x") is emitter
    assert log == [("x", repr), ("x", len), ("x", print)]
    assert emitter.event_names() == ["remove_listener"]


def test_remove_all_listeners_without_a_name_removes_remove_listener_listeners_last():
    log: list = []
    emitter = EventEmitter()
    spy, watcher = recorder(log, "spy"), recorder([], "watcher")
    emitter.on("remove_listener", spy)
    emitter.on("new_listener", watcher)
    emitter.on("x", print).on("q", repr)
    emitter.remove_all_listeners()
    assert log == [("spy", "new_listener", watcher), ("spy", "x", print), ("spy", "q", repr)]
    assert emitter.event_names() == []


def test_remove_all_listeners_without_meta_listeners_just_forgets():
    emitter = EventEmitter().on("x", print).on("y", print)
    emitter.remove_all_listeners("x")
    assert emitter.event_names() == ["y"]
    emitter.remove_all_listeners("missing")
    emitter.remove_all_listeners()
    assert emitter.event_names() == []


# --------------------------------------------------------------------------- looking


def test_listener_count_counts_all_or_only_copies_of_one_listener():
    emitter = EventEmitter().on("x", print).once("x", print).on("x", len)
    assert emitter.listener_count("x") == 3
    assert emitter.listener_count("x", print) == 2
    assert emitter.listener_count("missing") == 0


def test_listeners_returns_a_copy():
    emitter = EventEmitter().on("x", print)
    emitter.listeners("x").append(len)
    emitter.raw_listeners("x").clear()
    assert emitter.listeners("x") == [print]


def test_event_names_are_in_insertion_order_and_skip_names_without_listeners():
    emitter = EventEmitter().on("b", print).on("a", print).once("c", print)
    emitter.emit("c")
    assert emitter.event_names() == ["b", "a"]


def test_repr_is_deterministic_and_names_the_emitter():
    class OrderService(EventEmitter):
        pass

    service = OrderService().on("x", print).on("y", len).on("y", print)
    assert repr(service) == "<OrderService: 3 listeners on 2 events>"
    assert repr(EventEmitter(name="kitchen")) == "<kitchen: 0 listeners on 0 events>"
    assert repr(EventEmitter().on("x", print)) == "<EventEmitter: 1 listener on 1 event>"


# --------------------------------------------------------------------------- max listeners


def add_many(emitter, event, n):
    for _ in range(n):
        emitter.on(event, print)


def test_the_default_limit_is_10_and_the_11th_listener_warns_once():
    class OrderService(EventEmitter):
        pass

    service = OrderService()
    assert service.get_max_listeners() == 10
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add_many(service, "order.created", 10)
        assert caught == []
        add_many(service, "order.created", 3)
    assert len(caught) == 1
    warning = caught[0]
    assert warning.category is MaxListenersExceededWarning
    assert str(warning.message) == (
        "Possible EventEmitter memory leak detected. 11 order.created listeners added to "
        "[OrderService]. MaxListeners is 10. Use emitter.set_max_listeners() to increase limit"
    )
    assert (warning.message.emitter, warning.message.event, warning.message.count) == (
        service,
        "order.created",
        11,
    )
    assert warning.filename == __file__  # points at the line that added the listener


def test_the_warning_is_per_event_name_and_re_arms_when_down_to_one_listener():
    emitter = EventEmitter().set_max_listeners(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add_many(emitter, "a", 3)
        add_many(emitter, "b", 2)
        emitter.off("a", print).off("a", print)  # down to one: re-armed (as in Node)
        add_many(emitter, "a", 1)
    assert [(w.message.event, w.message.count) for w in caught] == [("a", 2), ("b", 2), ("a", 2)]


def test_zero_or_infinity_means_no_limit_and_lowering_the_limit_warns_on_the_next_add():
    emitter = EventEmitter().set_max_listeners(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        add_many(emitter, "x", 50)
        emitter.set_max_listeners(float("inf"))
        add_many(emitter, "x", 1)
        assert caught == []
        emitter.set_max_listeners(5)
        assert caught == []
        add_many(emitter, "x", 1)
    assert [w.message.count for w in caught] == [52]


def test_set_max_listeners_refuses_bad_values():
    emitter = EventEmitter()
    with pytest.raises(ValueError, match=">= 0, got -1"):
        emitter.set_max_listeners(-1)
    with pytest.raises(ValueError):
        emitter.set_max_listeners(float("nan"))
    with pytest.raises(TypeError, match="needs a number, not str"):
        emitter.set_max_listeners("10")
    with pytest.raises(TypeError):
        emitter.set_max_listeners(True)
    assert emitter.get_max_listeners() == 10


def test_default_max_listeners_applies_to_emitters_without_their_own_limit(monkeypatch):
    own = EventEmitter().set_max_listeners(3)
    monkeypatch.setattr(EventEmitter, "default_max_listeners", 2)
    assert EventEmitter().get_max_listeners() == 2
    assert own.get_max_listeners() == 3


# --------------------------------------------------------------------------- tracing


def test_a_traced_emit_records_sent_then_each_delivery():
    tracer = Tracer()

    class OrderService(EventEmitter):
        pass

    def send_email(order):
        pass

    def update_inventory(order):
        pass

    service = OrderService(tracer=tracer)
    service.on("order.created", send_email).once("order.created", update_inventory)
    with eda_kit.reproducible():
        event = Event("order.created", {"order_id": "A1"})
    service.emit("order.created", event)
    rows = [(r.source, r.event, r.target, r.outcome, r.event_id) for r in tracer]
    assert rows == [
        ("OrderService", "order.created", None, "sent", "evt-0001"),
        ("OrderService", "order.created", send_email.__qualname__, "delivered", "evt-0001"),
        ("OrderService", "order.created", update_inventory.__qualname__, "delivered", "evt-0001"),
    ]


def test_a_traced_failure_is_recorded_then_raised_and_nobody_listening_is_unhandled():
    tracer = Tracer()
    emitter = EventEmitter(tracer, name="kitchen")

    def burn(order):
        raise RuntimeError("burnt")

    emitter.on("cook", burn)
    with pytest.raises(RuntimeError):
        emitter.emit("cook", "A1")
    emitter.emit("serve", "A1")
    with pytest.raises(ValueError):
        emitter.emit("error", ValueError("no plates"))
    assert [(r.event, r.target, r.outcome, r.detail) for r in tracer] == [
        ("cook", None, "sent", ""),
        ("cook", burn.__qualname__, "failed", "RuntimeError: burnt"),
        ("serve", None, "unhandled", ""),
        ("error", None, "unhandled", ""),
    ]


def test_listeners_a_failure_kept_from_running_are_traced_as_skipped():
    tracer = Tracer()
    emitter = EventEmitter(tracer, name="shop")
    emitter.on("order", recorder([], "email"))
    emitter.on("order", lambda order: 1 / 0)
    emitter.on("order", recorder([], "stock"))
    emitter.once("order", recorder([], "audit"))
    with pytest.raises(ZeroDivisionError):
        emitter.emit("order", "A1")
    assert [(r.target, r.outcome, r.detail) for r in tracer][1:] == [
        ("email", "delivered", ""),
        (
            "test_listeners_a_failure_kept_from_running_are_traced_as_skipped.<locals>.<lambda>",
            "failed",
            "ZeroDivisionError: division by zero",
        ),
        (
            "stock",
            "skipped",
            "test_listeners_a_failure_kept_from_running_are_traced_as_skipped."
            "<locals>.<lambda> raised first",
        ),
        (
            "audit",
            "skipped",
            "test_listeners_a_failure_kept_from_running_are_traced_as_skipped."
            "<locals>.<lambda> raised first",
        ),
    ]


def test_a_listener_that_emits_is_traced_before_what_it_emitted():
    tracer = Tracer()
    emitter = EventEmitter(tracer, name="restaurant")

    def kitchen(order):
        emitter.emit("food.ready", order)

    emitter.on("order.placed", kitchen)
    emitter.on("food.ready", recorder([], "waiter"))
    emitter.emit("order.placed", "A1")
    assert [(r.event, r.target, r.outcome) for r in tracer] == [
        ("order.placed", None, "sent"),
        ("order.placed", kitchen.__qualname__, "dispatched"),  # the cause first...
        ("food.ready", None, "sent"),  # ...then its effects...
        ("food.ready", "waiter", "delivered"),
        ("order.placed", kitchen.__qualname__, "delivered"),  # ...then how it ended
    ]


def test_a_traced_once_listener_re_emitted_from_inside_is_recorded_once():
    tracer = Tracer()
    emitter = EventEmitter(tracer)

    def again(n):
        if n < 3:
            emitter.emit("x", n + 1)

    emitter.once("x", again)
    emitter.on("x", recorder([], "other"))
    emitter.emit("x", 1)
    targets = [r.target for r in tracer if r.outcome == "delivered"]
    assert targets.count(again.__qualname__) == 1


def test_an_untraced_emitter_records_nothing_and_names_default_to_the_class():
    emitter = EventEmitter()
    emitter.on("x", print)
    emitter.emit("x", "")  # no tracer: nothing to record, nothing breaks
    assert emitter._name == "EventEmitter"
