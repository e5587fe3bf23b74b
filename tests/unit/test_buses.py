"""CommandBus and QueryBus: one handler per message type, clear errors, traces."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from eda_kit import Event, Tracer
from eda_kit.cqrs import CommandBus, QueryBus, UnknownCommand, UnknownQuery
from eda_kit.store import NO_STREAM, InMemoryEventStore


@pytest.fixture
def store():
    return InMemoryEventStore()


@dataclass
class PlaceOrder:
    order_id: str
    customer: str
    total: int


def make_place_order(store):
    def place_order(order_id, customer, total):
        if total <= 0:
            raise ValueError(f"order {order_id}: total must be positive, not {total}")
        event = Event("OrderPlaced", {"order_id": order_id, "customer": customer, "total": total})
        return store.append(f"order-{order_id}", event, expected_version=NO_STREAM)

    return place_order


# --- CommandBus -------------------------------------------------------------------------------


def test_dispatch_runs_the_handler_and_returns_what_it_returns(store):
    commands = CommandBus()
    commands.handler("PlaceOrder", make_place_order(store))
    assert commands.dispatch("PlaceOrder", order_id="A1", customer="asha", total=30) == 1
    assert [e.type for e in store.read_all()] == ["OrderPlaced"]
    assert store.read_all()[0].data == {"order_id": "A1", "customer": "asha", "total": 30}


def test_handler_works_as_a_decorator_and_returns_the_function():
    commands = CommandBus()

    @commands.handler("Ping")
    def ping():
        return "pong"

    assert ping() == "pong"
    assert commands.dispatch("Ping") == "pong"
    assert "Ping" in commands and len(commands) == 1


def test_a_dataclass_command_is_dispatched_by_its_class_name(store):
    commands = CommandBus()
    commands.handler("PlaceOrder", make_place_order(store))
    assert commands.dispatch(PlaceOrder("A1", "asha", 30)) == 1
    assert store.read_all()[0].data["customer"] == "asha"


def test_a_second_handler_for_the_same_command_is_refused():
    commands = CommandBus()
    commands.handler("PlaceOrder", lambda **f: 1)

    def another(**fields):
        return 2

    with pytest.raises(ValueError, match=r"'PlaceOrder' already has a handler \(.*<lambda>\)"):
        commands.handler("PlaceOrder", another)
    assert commands.dispatch("PlaceOrder") == 1  # the first one still owns it


def test_unregister_then_register_replaces_a_handler():
    commands = CommandBus()
    commands.handler("Ping", lambda: 1)
    commands.unregister("Ping")
    commands.handler("Ping", lambda: 2)
    assert commands.dispatch("Ping") == 2
    with pytest.raises(UnknownCommand, match="'Nope'"):
        commands.unregister("Nope")


def test_an_unknown_command_names_itself_and_the_known_ones():
    commands = CommandBus()
    with pytest.raises(
        UnknownCommand,
        match="no handler for command 'PlaceOrder'; known commands: none registered yet",
    ):
        commands.dispatch("PlaceOrder")
    commands.handler("PlaceOrder", lambda: None)
    commands.handler("CancelOrder", lambda: None)
    with pytest.raises(UnknownCommand) as caught:
        commands.dispatch("PayOrder", order_id="A1")
    assert str(caught.value) == (
        "no handler for command 'PayOrder'; known commands: 'CancelOrder', 'PlaceOrder'"
    )
    assert isinstance(caught.value, LookupError)


def test_wrong_fields_are_refused_before_the_handler_runs(store):
    commands = CommandBus()
    commands.handler("PlaceOrder", make_place_order(store))
    with pytest.raises(
        TypeError, match="command 'PlaceOrder' .*place_order.*missing a required argument: 'total'"
    ):
        commands.dispatch("PlaceOrder", order_id="A1", customer="asha")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        commands.dispatch("PlaceOrder", order_id="A1", customer="asha", total=3, colour="red")
    assert store.last_position() == 0


def test_a_handler_that_rejects_a_command_writes_nothing(store):
    commands = CommandBus()
    commands.handler("PlaceOrder", make_place_order(store))
    with pytest.raises(ValueError, match="total must be positive, not -5"):
        commands.dispatch("PlaceOrder", order_id="A1", customer="asha", total=-5)
    assert store.last_position() == 0


@pytest.mark.parametrize(
    "bad, error",
    [
        ("", ValueError),
        ("   ", ValueError),
        (None, ValueError),
        (3, ValueError),
    ],
)
def test_bad_command_types_are_refused_at_registration(bad, error):
    with pytest.raises(error, match="non-empty name"):
        CommandBus().handler(bad, lambda: None)


def test_a_non_callable_handler_is_refused():
    with pytest.raises(TypeError, match="must be callable"):
        CommandBus().handler("PlaceOrder", "place_order")


def test_dispatch_refuses_things_that_are_not_commands():
    commands = CommandBus()
    with pytest.raises(TypeError, match="dataclass instance"):
        commands.dispatch({"type": "PlaceOrder"})
    with pytest.raises(TypeError, match="dataclass instance"):
        commands.dispatch(PlaceOrder)  # the class, not an instance
    commands.handler("PlaceOrder", lambda **f: f)
    with pytest.raises(TypeError, match="not both"):
        commands.dispatch(PlaceOrder("A1", "asha", 3), total=4)


def test_dispatch_traces_the_command_and_the_events_it_wrote(store):
    tracer = Tracer()
    commands = CommandBus(store=store, tracer=tracer)
    commands.handler("PlaceOrder", make_place_order(store))
    store.append("other", Event("Noise"))  # written before: not caused by the command
    commands.dispatch("PlaceOrder", order_id="A1", customer="asha", total=30)
    rows = [(r.source, r.event, r.target, r.outcome, r.via) for r in tracer]
    assert rows == [
        ("commands", "PlaceOrder", None, "sent", None),
        ("make_place_order.<locals>.place_order", "OrderPlaced", None, "sent", "order-A1"),
        ("commands", "PlaceOrder", "make_place_order.<locals>.place_order", "delivered", None),
    ]
    assert tracer[1].event_id == store.read_all()[1].id


def test_failed_and_unknown_commands_are_traced():
    tracer = Tracer()
    commands = CommandBus(tracer=tracer, name="api")

    def reject():
        raise ValueError("no")

    commands.handler("Reject", reject, name="rejecter")
    with pytest.raises(ValueError):
        commands.dispatch("Reject")
    with pytest.raises(UnknownCommand):
        commands.dispatch("Nope")
    assert [(r.source, r.event, r.target, r.outcome, r.detail) for r in tracer] == [
        ("api", "Reject", None, "sent", ""),
        ("api", "Reject", "rejecter", "failed", "ValueError: no"),
        ("api", "Nope", None, "unhandled", ""),
    ]


def test_no_tracer_means_no_tracing_work(store):
    commands = CommandBus(store=store)  # a store without a tracer: nothing is read back
    reads = []
    original = store.read_all
    store.read_all = lambda *a, **k: reads.append(a) or original(*a, **k)
    commands.handler("PlaceOrder", make_place_order(store))
    commands.dispatch("PlaceOrder", order_id="A1", customer="asha", total=30)
    assert reads == []


def test_repr_lists_the_known_commands():
    commands = CommandBus()
    assert repr(commands) == "<CommandBus 'commands': empty>"
    commands.handler("B", lambda: None)
    commands.handler("A", lambda: None)
    assert repr(commands) == "<CommandBus 'commands': A, B>"


# --- QueryBus ---------------------------------------------------------------------------------


def test_ask_returns_the_handlers_answer():
    orders = {"A1": {"customer": "asha"}}
    queries = QueryBus()

    @queries.handler("GetOrder")
    def get_order(order_id):
        return orders.get(order_id)

    assert queries.ask("GetOrder", order_id="A1") == {"customer": "asha"}
    assert queries.ask("GetOrder", order_id="B2") is None


def test_a_dataclass_query_works_too():
    @dataclass
    class GetOrder:
        order_id: str

    queries = QueryBus()
    queries.handler("GetOrder", lambda order_id: order_id.lower())
    assert queries.ask(GetOrder("A1")) == "a1"


def test_an_unknown_query_names_the_known_ones():
    queries = QueryBus()
    queries.handler("GetOrder", lambda order_id: None)
    with pytest.raises(
        UnknownQuery, match="no handler for query 'GetOrders'; known queries: 'GetOrder'"
    ):
        queries.ask("GetOrders")


def test_one_handler_per_query():
    queries = QueryBus()
    queries.handler("GetOrder", lambda order_id: None)
    with pytest.raises(ValueError, match="query 'GetOrder' already has a handler"):
        queries.handler("GetOrder", lambda order_id: 1)


def test_commands_and_queries_are_separate_namespaces():
    commands, queries = CommandBus(), QueryBus()
    commands.handler("GetOrder", lambda: "command")
    with pytest.raises(UnknownQuery):
        queries.ask("GetOrder")


def test_queries_are_traced_with_the_bus_name():
    tracer = Tracer()
    queries = QueryBus(tracer=tracer)
    queries.handler("GetOrder", lambda order_id: None, name="get_order")
    queries.ask("GetOrder", order_id="A1")
    assert [(r.source, r.event, r.target, r.outcome) for r in tracer] == [
        ("queries", "GetOrder", None, "sent"),
        ("queries", "GetOrder", "get_order", "delivered"),
    ]
