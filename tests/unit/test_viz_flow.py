"""eda_kit.viz: flow graphs from traces, and drawings that are the same on every run."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from eda_kit import Tracer, viz  # noqa: E402
from eda_kit.trace import TraceRecord  # noqa: E402
from eda_kit.viz import theme  # noqa: E402


def order_trace() -> Tracer:
    """One order.created to three listeners: one fine, one failing into dead letters."""
    t = Tracer()
    t.record("OrderService", "order.created", outcome="sent")
    t.record("OrderService", "order.created", "EmailService", "delivered", via="order.*")
    t.record("OrderService", "order.created", "Inventory", "failed", detail="KeyError: 'sku'")
    t.record("OrderService", "order.created", "Inventory", "retried", attempt=2)
    t.record(
        "OrderService", "order.created", "Inventory", "failed", attempt=2, detail="KeyError: 'sku'"
    )
    t.record("OrderService", "order.created", "Inventory", "dead_lettered", attempt=2)
    t.record("OrderService", "order.created", "Analytics", "delivered", via="#")
    t.record("OrderService", "order.cancelled", outcome="unhandled")
    t.record("OrderService", "order.created", outcome="sent")
    t.record("OrderService", "order.created", "EmailService", "delivered", via="order.*")
    return t


def png_of(draw, *args, **kwargs) -> bytes:
    """Draw on a private figure and return the PNG bytes."""
    figure = Figure(figsize=(8, 4), dpi=60)
    draw(*args, ax=figure.add_subplot(), **kwargs)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def close_pyplot_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# -- flow_graph --------------------------------------------------------------------------


def test_flow_graph_has_one_node_per_role_with_kind_and_label():
    graph = viz.flow_graph(order_trace())
    assert list(graph.nodes) == [
        "producer:OrderService",
        "event:order.created",
        "consumer:EmailService",
        "consumer:Inventory",
        "dead_letter:dead letters",
        "consumer:Analytics",
        "event:order.cancelled",
    ]
    assert graph.nodes["consumer:Inventory"] == {
        "kind": "consumer",
        "label": "Inventory",
        "first_seq": 3,
    }
    assert graph.nodes["dead_letter:dead letters"]["kind"] == "dead_letter"


def test_flow_graph_counts_each_outcome_on_its_edge():
    graph = viz.flow_graph(order_trace())
    sent = graph.edges["producer:OrderService", "event:order.created"]
    assert (sent["count"], sent["sent"]) == (2, 2)
    inventory = graph.edges["event:order.created", "consumer:Inventory"]
    assert inventory["count"] == 3
    assert (inventory["failed"], inventory["retried"], inventory["delivered"]) == (2, 1, 0)
    assert inventory["outcomes"] == {"failed": 2, "retried": 1}
    parked = graph.edges["consumer:Inventory", "dead_letter:dead letters"]
    assert (parked["count"], parked["dead_lettered"]) == (1, 1)
    assert parked["events"] == {"order.created": 1}
    email = graph.edges["event:order.created", "consumer:EmailService"]
    assert (email["delivered"], email["via"], email["first_seq"], email["last_seq"]) == (
        2,
        ["order.*"],
        2,
        10,
    )
    unheard = graph.edges["producer:OrderService", "event:order.cancelled"]
    assert (unheard["unhandled"], unheard["sent"]) == (1, 0)


def test_a_producer_and_an_event_with_the_same_name_stay_two_nodes():
    t = Tracer()
    t.record("orders", "orders", outcome="sent")
    t.record("orders", "orders", "orders", "delivered")
    graph = viz.flow_graph(t)
    assert sorted(graph.nodes) == ["consumer:orders", "event:orders", "producer:orders"]
    assert viz.find_node(graph, "orders", kind="event") == "event:orders"
    with pytest.raises(ValueError, match="names 3 nodes.*pass kind="):
        viz.find_node(graph, "orders")
    with pytest.raises(KeyError, match="no node of kind 'dead_letter' labelled 'orders'"):
        viz.find_node(graph, "orders", kind="dead_letter")
    with pytest.raises(ValueError, match="unknown node kind 'topic'"):
        viz.find_node(graph, "orders", kind="topic")


def test_a_delivery_without_a_traced_send_still_connects_its_producer():
    t = Tracer()
    t.record("emitter", "greet", "hello", "delivered")
    graph = viz.flow_graph(t)
    assert graph.edges["producer:emitter", "event:greet"]["count"] == 0
    assert graph.edges["event:greet", "consumer:hello"]["count"] == 1


def test_saga_words_are_kept_as_outcomes():
    t = Tracer()
    t.record("place-order", "reserve", "reserve", "started")
    t.record("place-order", "reserve", "reserve", "done")
    t.record("place-order", "reserve", "reserve", "compensated")
    edge = viz.flow_graph(t).edges["event:reserve", "consumer:reserve"]
    assert edge["outcomes"] == {"started": 1, "done": 1, "compensated": 1}
    assert edge["compensated"] == 1


def test_flow_graph_accepts_a_list_of_records_and_refuses_other_things():
    records = order_trace().records
    assert list(viz.flow_graph(records).edges) == list(viz.flow_graph(order_trace()).edges)
    assert viz.flow_graph([]).number_of_nodes() == 0
    with pytest.raises(TypeError, match="trace item 1 is a str, not a TraceRecord"):
        viz.flow_graph([records[0], "order.created"])


def test_node_id_refuses_an_unknown_kind():
    assert viz.node_id("producer", "Shop") == "producer:Shop"
    with pytest.raises(ValueError, match="unknown node kind 'service'"):
        viz.node_id("service", "Shop")


names = st.sampled_from(["A", "B", "orders", "Email", "dead letters"])
outcomes = st.sampled_from(
    ["sent", "unhandled", "delivered", "failed", "retried", "dead_lettered", "compensated", "done"]
)


@st.composite
def traces(draw) -> Tracer:
    t = Tracer()
    for _ in range(draw(st.integers(0, 25))):
        outcome = draw(outcomes)
        target = None if outcome in ("sent", "unhandled") else draw(names)
        t.record(draw(names), draw(names), target, outcome)
    return t


@settings(max_examples=60, deadline=None)
@given(traces())
def test_every_step_lands_on_exactly_one_edge(trace):
    graph = viz.flow_graph(trace)
    for record in trace:
        assert graph.has_edge(*viz.edge_for(record))
    assert sum(count for *_, count in graph.edges(data="count")) == len(trace)
    for outcome in ("sent", "failed", "dead_lettered"):
        assert sum(n for *_, n in graph.edges(data=outcome)) == len(trace.where(outcome=outcome))
    layout = viz.flow_layout(graph, view="topics")
    assert len(set(layout.values())) == graph.number_of_nodes()  # no two boxes on one spot
    order = ["producer", "event", "consumer", "dead_letter"]
    for u, v in graph.edges:  # arrows always go left to right, one column at a time
        assert order.index(graph.nodes[u]["kind"]) + 1 == order.index(graph.nodes[v]["kind"])
        assert layout[u][0] < layout[v][0]


# -- draw_flow -----------------------------------------------------------------------------


def test_draw_flow_returns_axes_with_boxes_counts_and_a_red_failure():
    ax = viz.draw_flow(order_trace())
    assert isinstance(ax, Axes)
    texts = [t.get_text() for t in ax.texts]
    for expected in (
        "OrderService",
        "order.created",
        "Inventory",
        "dead letters",
        "×2",
        "2 failed, 1 retried",
        "1 dead-lettered",
        "1 unhandled",
        "consumers",
    ):
        assert expected in texts
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == viz.flow_graph(order_trace()).number_of_edges()
    red = matplotlib.colors.to_rgba("#d62728")
    assert sum(a.get_edgecolor() == red for a in arrows) == 2  # failed, and dead-lettered


def test_draw_flow_is_the_same_picture_every_time():
    first = png_of(viz.draw_flow, order_trace())
    assert first == png_of(viz.draw_flow, order_trace())
    assert first == png_of(viz.draw_flow, viz.flow_graph(order_trace()))


def test_highlighting_changes_the_picture_and_accepts_ids_labels_edges_and_records():
    plain = png_of(viz.draw_flow, order_trace())
    trace = order_trace()
    by_record = png_of(viz.draw_flow, trace, highlight=trace[2])
    by_ids = png_of(viz.draw_flow, trace, highlight=("event:order.created", "consumer:Inventory"))
    by_labels = png_of(viz.draw_flow, trace, highlight=("order.created", "Inventory"))
    assert by_record == by_ids == by_labels != plain
    assert png_of(viz.draw_flow, trace, highlight="Inventory") not in (plain, by_ids)


def test_draw_flow_refuses_a_bad_highlight_or_input():
    trace = order_trace()
    with pytest.raises(KeyError, match="labelled 'Nobody'"):
        viz.draw_flow(trace, highlight="Nobody")
    with pytest.raises(ValueError, match="no edge 'producer:OrderService' -> 'consumer:Inventory'"):
        viz.draw_flow(trace, highlight=("producer:OrderService", "consumer:Inventory"))
    with pytest.raises(TypeError, match="highlight must be"):
        viz.draw_flow(trace, highlight=3)
    with pytest.raises(TypeError, match="not dict"):
        viz.draw_flow({"a": 1})
    import networkx as nx

    with pytest.raises(ValueError, match="node 'x' has kind None"):
        viz.draw_flow(nx.DiGraph([("x", "y")]))


def test_draw_flow_of_an_empty_trace_says_so():
    ax = viz.draw_flow(Tracer())
    assert [t.get_text() for t in ax.texts] == ["empty trace: nothing happened yet"]


def test_draw_flow_without_ax_makes_one_figure_at_the_graph_size():
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    ax = viz.draw_flow(order_trace())
    assert len(plt.get_fignums()) == before + 1
    width, height = ax.figure.get_size_inches()
    assert (width, height) == pytest.approx(viz.flow_figsize(viz.flow_graph(order_trace())))
    assert 4 < width < 12 and 2 < height < 8  # readable at a notebook's width
    titled = viz.draw_flow(order_trace(), title="An order")
    assert "An order" in [t.get_text() for t in titled.texts]
    assert titled.figure.get_size_inches()[1] > height  # room made for the title


def test_flow_layout_puts_the_columns_in_order():
    graph = viz.flow_graph(order_trace())
    layout = viz.flow_layout(graph)
    xs = {
        kind: {layout[n][0] for n, k in graph.nodes(data="kind") if k == kind}
        for kind in ("producer", "event", "consumer", "dead_letter")
    }
    assert all(len(x) == 1 for x in xs.values())
    producer, event, consumer, dead = (min(xs[k]) for k in xs)
    assert producer < event < consumer < dead


# -- timeline --------------------------------------------------------------------------------


def test_timeline_draws_one_lane_per_participant_and_marks_failures():
    ax = viz.timeline(order_trace())
    assert isinstance(ax, Axes)
    texts = [t.get_text() for t in ax.texts]
    for lane in ("OrderService", "EmailService", "Inventory", "Analytics", "dead letters"):
        assert lane in texts
    assert "order.created (failed)" in texts
    assert "order.created (retried #2)" in texts
    assert "KeyError: 'sku'" in texts
    assert "unhandled: order.cancelled" in texts
    assert [str(n) for n in range(1, 11)] == [t for t in texts if t.isdigit()]


def test_timeline_is_the_same_picture_every_time():
    assert png_of(viz.timeline, order_trace()) == png_of(viz.timeline, order_trace())


def test_timeline_cuts_long_traces_and_says_so():
    t = Tracer()
    for i in range(30):
        t.record("A", f"e{i}", "B")
    texts = [x.get_text() for x in viz.timeline(t, max_steps=5).texts]
    assert "… and 25 more steps (max_steps=5)" in texts
    assert "e5" not in texts
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        viz.timeline(t, max_steps=0)


def test_timeline_of_an_empty_trace_says_so():
    texts = [x.get_text() for x in viz.timeline([]).texts]
    assert texts == ["empty trace: nothing happened yet"]


def test_timeline_handles_a_participant_talking_to_itself():
    record = TraceRecord(1, "A", "tick", "A", "delivered")
    assert "tick" in [x.get_text() for x in viz.timeline([record]).texts]


# -- plot_state -----------------------------------------------------------------------------


def test_plot_state_plots_values_by_version():
    ax = viz.plot_state([0, 500, 1000, 800], label="balance", mark=2)
    assert isinstance(ax, Axes)
    assert ax.get_ylabel() == "balance"
    points = ax.lines[1].get_xydata().tolist()
    assert points == [[0, 0], [1, 500], [2, 1000], [3, 800]]
    assert ax.lines[-1].get_xydata().tolist() == [[2, 1000]]  # the marked version


def test_plot_state_takes_a_mapping_and_a_key():
    states = {2: {"balance": 5}, 0: {"balance": 1}, 1: {"balance": 3}}
    ax = viz.plot_state(states, key="balance")
    assert ax.lines[1].get_xydata().tolist() == [[0, 1], [1, 3], [2, 5]]
    ax = viz.plot_state([{"n": 1}, {"n": 4}], key=lambda s: s["n"] * 2)
    assert ax.lines[1].get_xydata().tolist() == [[0, 2], [1, 8]]


def test_plot_state_refuses_what_it_cannot_plot():
    with pytest.raises(ValueError, match="at least one state"):
        viz.plot_state([])
    with pytest.raises(TypeError, match="value at version 1 is 'lots' .*pass key="):
        viz.plot_state([1, "lots"])
    with pytest.raises(ValueError, match="mark=7 is not one of the versions 0..2"):
        viz.plot_state([1, 2, 3], mark=7)


def test_plot_state_is_the_same_picture_every_time():
    assert png_of(viz.plot_state, [0, 5, 3]) == png_of(viz.plot_state, [0, 5, 3])
    assert png_of(viz.plot_state, [0, 5, 3]) != png_of(viz.plot_state, [0, 5, 4])


def test_edge_labels_count_and_name_the_trouble():
    t = Tracer()
    t.record("Shop", "order.created", outcome="sent")
    t.record("Shop", "order.created", "Email", "delivered", via="order.*")
    t.record("Shop", "order.created", "Email", "delivered", via="order.created")
    t.record("Shop", "order.created", "Stock", "delivered")
    t.record("Shop", "order.created", "Stock", "failed")
    texts = [x.get_text() for x in viz.draw_flow(t).texts]
    assert {"×2", "1 ok, 1 failed"} <= set(texts)
    assert "×1" not in texts  # one delivery that went well needs no label
    assert not any("via" in text for text in texts)
    texts = [x.get_text() for x in viz.draw_flow(t, show_via=True).texts]
    assert "×2 via order.*" in texts  # the pattern that is not the event's own name


def test_draw_flow_accepts_a_hand_built_graph_with_kinds_only():
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_node("shop", kind="producer")
    graph.add_node("order.created", kind="event")
    graph.add_node("mailer", kind="consumer")
    graph.add_edges_from([("shop", "order.created"), ("order.created", "mailer")])
    texts = [t.get_text() for t in viz.draw_flow(graph, highlight="mailer").texts]
    assert {"shop", "order.created", "mailer"} <= set(texts)
    assert "label" not in graph.nodes["shop"]  # the caller's graph is left as it was


# -- ghost: the rest of the trace, faint --------------------------------------------------


def test_a_ghost_keeps_every_node_in_place_and_draws_what_is_missing_faint():
    trace = order_trace()
    whole = viz.flow_graph(trace)
    for k in (1, 3, 6, len(trace)):
        part = viz.flow_graph(trace.records[:k])
        ax = viz.draw_flow(part, ghost=whole)
        boxes = {t.get_text(): t for t in ax.texts if t.get_bbox_patch() is not None}
        for node, label in whole.nodes(data="label"):
            box = boxes[label]
            assert box.get_position() == pytest.approx(viz.flow_layout(whole)[node])
            faint = node not in part
            assert (box.get_color() == theme.GHOST_TEXT) == faint
        arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
        assert len(arrows) == whole.number_of_edges()
        ghostly = matplotlib.colors.to_rgba(theme.GHOST_EDGE)
        dotted = [a for a in arrows if a.get_edgecolor() == ghostly]
        assert len(dotted) == whole.number_of_edges() - part.number_of_edges()
        assert viz.flow_figsize(part, ghost=whole) == viz.flow_figsize(whole)


def test_a_ghost_gives_the_same_picture_as_the_whole_when_nothing_is_missing():
    trace = order_trace()
    assert png_of(viz.draw_flow, trace, ghost=trace) == png_of(viz.draw_flow, trace)
    highlighted = png_of(viz.draw_flow, trace.records[:3], ghost=trace, highlight=trace[2])
    assert highlighted != png_of(viz.draw_flow, trace.records[:3], ghost=trace)


# -- the service view, colours and the legend ------------------------------------------------


def kitchen_trace() -> Tracer:
    """00's restaurant: the Kitchen hears order.placed and says food.ready."""
    t = Tracer()
    t.record("Customer", "order.placed", outcome="sent")
    t.record("Customer", "order.placed", "Kitchen", "dispatched")
    t.record("Kitchen", "food.ready", outcome="sent")
    t.record("Kitchen", "food.ready", "Waiter", "delivered")
    t.record("Customer", "order.placed", "Kitchen", "delivered")
    t.record("Customer", "order.placed", "Waiter", "delivered")
    return t


def node_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == "flow-node"]


def test_someone_who_listens_and_speaks_is_drawn_once_with_events_on_the_arrows():
    ax = viz.draw_flow(kitchen_trace())
    assert sorted(node_texts(ax)) == ["Customer", "Kitchen", "Waiter"]
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "flow-label"]
    assert sorted(labels) == ["food.ready", "order.placed", "order.placed"]  # no "×1"
    graph = viz.service_graph(viz.flow_graph(kitchen_trace()))
    assert set(graph.edges) == {
        ("service:Customer", "service:Kitchen"),
        ("service:Kitchen", "service:Waiter"),
        ("service:Customer", "service:Waiter"),
    }
    layout = viz.flow_layout(kitchen_trace())
    assert layout["service:Customer"][0] < layout["service:Kitchen"][0]
    assert layout["service:Kitchen"][0] < layout["service:Waiter"][0]  # cause, then effect
    topics = viz.draw_flow(kitchen_trace(), view="topics")
    assert node_texts(topics).count("Kitchen") == 2  # what the service view is for
    with pytest.raises(ValueError, match="view must be one of"):
        viz.draw_flow(kitchen_trace(), view="sideways")


def test_a_choreography_cycle_is_laid_out_with_every_service_once():
    t = Tracer()
    for source, event, target in [
        ("Orders", "order.created", "Inventory"),
        ("Inventory", "inventory.reserved", "Payment"),
        ("Payment", "payment.declined", "Inventory"),
        ("Inventory", "inventory.released", "Orders"),
    ]:
        t.record(source, event, outcome="sent")
        t.record(source, event, target, "delivered")
    ax = viz.draw_flow(t)
    assert sorted(node_texts(ax)) == ["Inventory", "Orders", "Payment"]
    from eda_kit.viz.overlaps import find_overlaps

    assert find_overlaps(ax.figure) == []


def test_retried_then_delivered_is_orange_failed_for_good_is_red_and_the_legend_says_so():
    t = Tracer()
    t.record("Shop", "order.created", outcome="sent")
    t.record("Shop", "order.created", "Email", "failed")
    t.record("Shop", "order.created", "Email", "retried", attempt=2)
    t.record("Shop", "order.created", "Email", "delivered", attempt=2)  # got through: orange
    t.record("Shop", "order.created", "Stock", "failed")  # failed for good: red
    ax = viz.draw_flow(t)
    arrows = {
        round(a.get_path().vertices[0][1], 3): a.get_edgecolor()
        for a in ax.patches
        if isinstance(a, FancyArrowPatch)
    }
    colours = set(arrows.values())
    orange, red = (matplotlib.colors.to_rgba(c) for c in ("#e69500", "#d62728"))
    assert orange in colours and red in colours
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["failed / dead-lettered", "retried, then delivered"]
    quiet = Tracer()
    quiet.record("Shop", "order.created", "Email", "delivered")
    assert viz.draw_flow(quiet).get_legend() is None  # nothing to explain: no legend


def test_a_listener_a_failure_skipped_is_a_ghost_box():
    t = Tracer()
    t.record("Shop", "order.created", outcome="sent")
    t.record("Shop", "order.created", "Stock", "failed")
    t.record("Shop", "order.created", "Email", "skipped", detail="Stock raised first")
    ax = viz.draw_flow(t)
    email = next(x for x in ax.texts if x.get_text() == "Email")
    assert email.get_color() == theme.GHOST_TEXT
    assert "skipped (an earlier listener raised)" in [
        text.get_text() for text in ax.get_legend().get_texts()
    ]


def test_a_saga_step_that_started_and_failed_is_not_counted_ok():
    t = Tracer()
    t.record("place-order", "charge_payment", "PaymentService", "started")
    t.record("place-order", "charge_payment", "PaymentService", "failed")
    t.record("place-order", "reserve", "InventoryService", "started")
    t.record("place-order", "reserve", "InventoryService", "done")
    t.record("place-order", "reserve", "InventoryService", "started")
    t.record("place-order", "reserve", "InventoryService", "done")
    t.record("place-order", "confirm_order", "OrderService", "started")  # crashed mid-step
    texts = [x.get_text() for x in viz.draw_flow(t).texts]
    assert any("1 failed" in text for text in texts)
    assert any("×2" in text for text in texts) and any("1 started" in text for text in texts)
    assert not any("ok" in text for text in texts), texts
