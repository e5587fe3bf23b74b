"""The replay player follows its cursor: pictures of the moment, what changed, bounded memory.

Costs are counted (apply calls, checkpoint bytes), never timed: timings live in benchmarks/.
"""

from __future__ import annotations

import random

import matplotlib

matplotlib.use("Agg")

import networkx as nx  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eda_kit import Event, InMemoryEventStore, Tracer  # noqa: E402
from eda_kit.viz.changes import Change, diff, state_lines, wrap  # noqa: E402
from eda_kit.viz.checkpoints import BYTES_PER_EVENT, Checkpoints, capture, restore  # noqa: E402
from eda_kit.viz.flow import flow_graph  # noqa: E402
from eda_kit.viz.lanes import draw_lanes  # noqa: E402
from eda_kit.viz.pictures import (  # noqa: E402
    CQRSPicture,
    FlowPicture,
    LanesPicture,
    SagaPicture,
    ValuePicture,
    render_png,
)
from eda_kit.viz.saga import saga_at, step_states  # noqa: E402
from eda_kit.viz.widgets import ReplayPlayer, tally  # noqa: E402


class CountingApply:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, state, event):
        self.calls += 1
        return self.fn(state, event)


def add_order(state, event):
    """A growing state, changed in place (cheap per event): every order so far."""
    state["orders"][event.data["id"]] = event.data["total"]
    state["count"] += 1
    return state


# -- memory: checkpoints spaced by the state's size ----------------------------------------


@pytest.mark.parametrize("n", [2_000, 20_000])
def test_a_growing_state_costs_o_n_copies_and_bounded_checkpoint_bytes(n):
    events = [Event("OrderPlaced", {"id": f"A{i}", "total": i % 50}) for i in range(n)]
    apply = CountingApply(add_order)
    player = ReplayPlayer(events, apply, {"count": 0, "orders": {}})
    assert apply.calls == n  # one fold, no re-folding while building
    points = player.checkpoints
    largest = max(points.sizes)
    # what all checkpoints hold together: at most BYTES_PER_EVENT per event, plus one state
    assert points.total_bytes <= BYTES_PER_EVENT * n + largest
    # a fixed spacing of 100 would have kept n / 100 copies of an ever bigger state
    fixed = sum(len(capture({"count": p, "orders": {}}).data) + 12 * p for p in range(0, n, 100))
    assert points.total_bytes < fixed / 3 or n < 10_000
    # and any jump still folds a bounded number of events
    assert player.longest_jump <= max(player.checkpoint_every, largest // BYTES_PER_EVENT + 1)
    rng = random.Random(3)
    for target in [n, 0, n - 1, *rng.sample(range(n + 1), 20)]:
        apply.calls = 0
        state = player.goto(target).state
        assert apply.calls <= player.longest_jump
        assert state["count"] == target and len(state["orders"]) == target


def test_checkpoints_are_private_copies_and_measured():
    state = {"items": [1, 2, 3], "name": "x"}
    saved = capture(state)
    assert saved.size == len(saved.data)  # plain data: its marshal bytes
    copy = restore(saved)
    copy["items"].append(4)
    assert restore(saved) == state  # the checkpoint did not move

    class Thing:
        def __init__(self):
            self.tags = ["a", "b"]

    thing = capture(Thing())  # not plain data: a deep copy, its size estimated
    assert thing.data is None and thing.size > 0
    assert restore(thing).tags == ["a", "b"] and restore(thing) is not restore(thing)


def test_the_spacing_grows_with_the_size_and_never_drops_below_every():
    points = Checkpoints(every=5, bytes_per_event=10)
    for position in range(200):
        points.keep_if_due(position, list(range(position)))
    gaps = [b - a for a, b in zip(points.positions, points.positions[1:], strict=False)]
    assert min(gaps) >= 5 and gaps[-1] > 5
    for a, b, size in zip(points.positions, points.positions[1:], points.sizes, strict=False):
        assert b - a >= size / 10  # each copy paid for by its gap


# -- what changed --------------------------------------------------------------------------


def test_diff_names_added_changed_and_removed_paths():
    before = {"orders": {"A1": {"status": "placed"}, "B1": {}}, "labels": ["x"], "n": 1}
    after = {"orders": {"A1": {"status": "paid"}}, "labels": ["x", "y"], "n": 1, "new": True}
    assert diff(before, after) == [
        Change("changed", ("orders", "A1", "status"), "placed", "paid"),
        Change("removed", ("orders", "B1"), old={}),
        Change("added", ("labels", 1), new="y"),
        Change("added", ("new",), new=True),
    ]
    assert [str(c) for c in diff(before, after)][:2] == [
        '~ orders.A1.status: "placed" → "paid"',
        "- orders.B1 (was {})",
    ]
    assert diff(1, True) == [Change("changed", (), 1, True)]  # 1 == True, but not the same
    assert diff({"a": [1]}, {"a": [1]}) == []


def test_the_player_says_what_the_event_at_the_cursor_changed():
    events = [Event("Deposited", {"amount": 5}), Event("Renamed", {"owner": "ben"})]

    def apply(state, event):
        if event.type == "Deposited":
            return {**state, "balance": state["balance"] + event.data["amount"]}
        return {**state, "owner": event.data["owner"]}

    player = ReplayPlayer(events, apply, {"balance": 0})
    assert player.goto(0).change == []
    assert player.goto(1).change == [Change("changed", ("balance",), 0, 5)]
    assert player.goto(2).change == [Change("added", ("owner",), new="ben")]
    assert '  + owner = "ben"' in player.summary()
    assert player.widget is not None  # shown: the change panel and the marked state
    parts = player._widgets
    assert 'class="eda-added"' in parts["change"].value
    assert (
        '<span class="eda-added" style="background:#d9f2d9;">  &quot;owner&quot;: &quot;ben&quot;'
        in (parts["state"].value)
    )
    player.back()
    assert 'class="eda-changed"' in parts["state"].value  # "balance" marked, owner not yet
    assert "owner" not in parts["state"].value


def test_an_event_that_changes_nothing_says_so():
    player = ReplayPlayer([Event("Ignored")], lambda s, e: s, {"n": 0}).goto(1)
    assert player.change == []
    assert "no change" in player.summary()


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.text(alphabet='abcdefgh"{}:[]', min_size=1, max_size=14), max_size=30),
    separators=st.lists(st.sampled_from([" ", ", ", ": "]), min_size=30, max_size=30),
    width=st.integers(12, 80),
    indent=st.integers(0, 6),
)
def test_wrap_breaks_only_between_words(words, separators, width, indent):
    line = " " * indent + "".join(w + s for w, s in zip(words, separators, strict=False)).rstrip()
    lines = wrap(line, width)
    # the same words, in the same order: no word was cut
    assert " ".join(lines).split() == line.split()
    for text in lines:  # each line is short, unless it is one word too long to break
        assert len(text) <= width or len(text.split()) == 1 or len(text.strip().split()) == 1


def test_state_lines_tag_each_line_with_its_path():
    lines = state_lines({"short": 1, "long": {"a": "x" * 40, "b": "y" * 40}})
    assert (' "short": 1,'.strip(), ("short",), True) in [(t.strip(), p, w) for t, p, w in lines]
    assert any(p == ("long", "a") and w for _, p, w in lines)


def test_the_state_panel_never_asks_the_browser_to_cut_words():
    player = ReplayPlayer([Event("A", {"status": "placed" * 20})], lambda s, e: e.data, {})
    player.goto(1)
    assert player.widget is not None
    for part in ("event", "state", "change"):
        value = player._widgets[part].value
        assert "anywhere" not in value and "break-all" not in value
        assert "overflow-wrap:normal" in value or part == "change" or "white-space" not in value


# -- the filter ----------------------------------------------------------------------------


def test_only_makes_step_and_back_skip_to_matching_events():
    events = [
        Event("OrderPlaced", {"id": "A"}),
        Event("ItemAdded", {"id": "A"}),
        Event("OrderPlaced", {"id": "B"}),
        Event("OrderPaid", {"id": "A"}),
    ]
    player = ReplayPlayer(events, lambda s, e: s + [e.type], [])
    player.only(type="OrderPlaced")
    assert player.matches == (1, 3)
    assert player.step().position == 1
    assert player.step().position == 3
    assert player.state == ["OrderPlaced", "ItemAdded", "OrderPlaced"]  # all events folded
    assert player.step().position == 3  # no later match: stays
    assert player.back().position == 1
    assert player.back().position == 0
    assert "showing type OrderPlaced: 2 events" in player.summary()
    player.only()
    assert player.matches == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="can be filtered by"):
        player.only(colour="red")


def test_the_show_menu_filters_in_the_widget():
    store = InMemoryEventStore()
    store.append("order-A", [Event("OrderPlaced"), Event("OrderPaid")])
    store.append("order-B", Event("OrderPlaced"))
    player = ReplayPlayer(store.read_all(), lambda s, e: s + 1, 0)
    assert player.widget is not None
    show = player._widgets["show"]
    labels = [label for label, _ in show.options]
    assert labels == [
        "all events",
        "type: OrderPlaced",
        "type: OrderPaid",
        "stream: order-A",
        "stream: order-B",
    ]
    show.value = ("stream", "order-B")
    player._widgets["step"].click()
    assert player.position == 3


# -- the graph at the cursor ---------------------------------------------------------------


def random_trace(rng: random.Random, size: int) -> Tracer:
    tracer = Tracer()
    for _ in range(size):
        source = rng.choice(["Shop", "Kitchen", "Billing"])
        event = rng.choice(["order.created", "order.paid", "food.ready"])
        if rng.random() < 0.3:
            tracer.record(source, event, outcome="sent")
        else:
            target = rng.choice(["Email", "Kitchen", "Stock"])
            outcome = rng.choice(["delivered", "delivered", "failed", "retried", "dead_lettered"])
            tracer.record(source, event, target, outcome)
    return tracer


def same_graph(a: nx.DiGraph, b: nx.DiGraph) -> bool:
    return list(a.nodes(data=True)) == list(b.nodes(data=True)) and sorted(
        a.edges(data=True), key=repr
    ) == sorted(b.edges(data=True), key=repr)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.integers(0, 40), cursor=st.floats(0, 1))
def test_the_players_graph_is_the_flow_of_the_first_k_steps(seed, size, cursor):
    tracer = random_trace(random.Random(seed), size)
    player = ReplayPlayer(tracer, tally, {}, graph=tracer)
    k = round(cursor * size)
    player.goto(k)
    assert isinstance(player.picture, FlowPicture)
    assert same_graph(player.graph, flow_graph(tracer.records[:k]))
    counted = sum(data["count"] for *_, data in player.graph.edges(data=True))
    assert counted == k  # every step so far on exactly one edge, nothing from later


def test_the_flow_picture_changes_with_the_cursor_and_keeps_its_size():
    tracer = random_trace(random.Random(5), 12)
    player = ReplayPlayer(tracer, tally, {}, graph=tracer)
    pictures = [render_png(player.picture, player.goto(k)) for k in (0, 3, 6, 12)]
    assert len(set(pictures)) == 4
    sizes = {player.picture.figsize(player.goto(k)) for k in range(13)}
    assert len(sizes) == 1  # the same canvas at every position: nothing jumps


# -- a picture in every player -------------------------------------------------------------


def pictures_differ(player, positions) -> int:
    return len({render_png(player.picture, player.goto(p)) for p in positions})


def test_value_picture_marks_the_cursor_and_fades_the_future():
    events = [Event("Deposited", {"amount": a}) for a in (5, 10, -3, 7)]
    picture = ValuePicture("balance")
    player = ReplayPlayer(
        events,
        lambda s, e: {"balance": s["balance"] + e.data["amount"]},
        {"balance": 0},
        picture=picture,
    )
    assert picture.values == [0, 5, 15, 12, 19]  # watched during the one fold
    assert pictures_differ(player, [0, 2, 4]) == 3


def saga_log():
    from eda_kit import Saga, Step

    def fail(ctx):
        raise RuntimeError("card declined")

    store = InMemoryEventStore()
    saga = Saga(
        "order",
        [
            Step("reserve", action=lambda c: None, compensation=lambda c: None),
            Step("charge", action=lambda c: None, compensation=lambda c: None),
            Step("ship", action=fail),
        ],
        store=store,
    )
    saga.run({"id": "A"}, saga_id="A")
    return store.read_stream("saga-A")


def test_saga_picture_shows_the_steps_so_far_and_compensations_as_they_happen():
    log = saga_log()
    types = [e.type for e in log]
    player = ReplayPlayer(log, lambda s, e: s + 1, 0, picture=SagaPicture())
    first_done = types.index("StepDone") + 1
    running = saga_at(log, first_done - 1)
    assert running.status == "running"
    assert step_states(running)["reserve"] == "running"
    assert step_states(saga_at(log, first_done))["reserve"] == "done"
    failed_at = types.index("StepFailed") + 1
    at_failure = step_states(saga_at(log, failed_at))
    assert at_failure == {"reserve": "done", "charge": "done", "ship": "failed"}
    first_undo = types.index("StepCompensated") + 1
    assert step_states(saga_at(log, first_undo))["charge"] == "compensated"
    assert step_states(saga_at(log, first_undo))["reserve"] == "done"  # not undone yet
    assert saga_at(log).status == "compensated"
    assert pictures_differ(player, [1, failed_at, first_undo, len(log)]) == 4


def test_lanes_picture_marks_the_cursor_event():
    store = InMemoryEventStore()
    store.append("order-A1", [Event("OrderPlaced"), Event("ItemAdded")])
    store.append("order-B2", Event("OrderPlaced"))
    store.append("order-A1", Event("OrderPaid"))
    log = store.read_all()
    player = ReplayPlayer(log, lambda s, e: s + 1, 0, picture=LanesPicture())
    assert pictures_differ(player, [0, 1, 3, 4]) == 4
    ax = Figure().add_subplot()
    draw_lanes(log, ax, cursor=3)
    texts = [t.get_text() for t in ax.texts]
    assert "3: OrderPlaced" in texts and "global log" in texts and "order-B2" in texts
    with pytest.raises(ValueError, match="cursor=9"):
        draw_lanes(log, Figure().add_subplot(), cursor=9)


def test_cqrs_picture_lights_the_projections_the_event_updates():
    store = InMemoryEventStore()
    store.append("order-A", [Event("OrderPlaced"), Event("OrderPaid")])
    picture = CQRSPicture(
        commands={"PlaceOrder": ["OrderPlaced"], "PayOrder": ["OrderPaid"]},
        projections={"details": ["OrderPlaced", "OrderPaid"], "counts": ["OrderPlaced"]},
        queries={"GetOrder": "details", "CountOrders": "counts"},
    )
    player = ReplayPlayer(store.read_all(), lambda s, e: s + 1, 0, picture=picture)
    assert pictures_differ(player, [0, 1, 2]) == 3
    figure = Figure(figsize=picture.figsize(player))
    ax = figure.add_axes((0, 0, 1, 1))
    picture.draw(ax, player.goto(2))
    bold = {t.get_text() for t in ax.texts if t.get_fontweight() == "bold"}
    assert {"PayOrder", "event store", "details", "details view"} <= bold
    assert "counts" not in bold and "PlaceOrder" not in bold
    assert any(
        "no projection" in t.get_text() or "updates details" in t.get_text() for t in ax.texts
    )


def test_the_caption_names_the_pictures_position():
    tracer = random_trace(random.Random(1), 5)
    player = ReplayPlayer(tracer, tally, {}, graph=tracer)
    assert player.widget is not None
    player.goto(3)
    assert "after event 3 of 5" in player._widgets["caption"].value
    player.goto(0)
    assert "before any event" in player._widgets["caption"].value
