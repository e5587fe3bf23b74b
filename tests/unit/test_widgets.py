"""eda_kit.viz.widgets.ReplayPlayer: the headless fold with checkpoints, and its Jupyter views."""

from __future__ import annotations

import random
import subprocess
import sys
from functools import reduce

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from eda_kit import Event, Tracer, reproducible  # noqa: E402
from eda_kit.viz.widgets import ReplayPlayer, describe_event, format_state, tally  # noqa: E402

CSS_CLASSES = {
    "eda-replay",
    "eda-replay-event",
    "eda-replay-state",
    "eda-replay-graph",
    "eda-replay-step",
    "eda-replay-back",
}


def history(state: tuple, event: int) -> tuple:
    """A pure apply whose state remembers everything: any wrong fold shows."""
    return (*state, event)


class CountingApply:
    """An apply that counts its calls, to measure the cost of a jump."""

    def __init__(self, fn=history):
        self.fn = fn
        self.calls = 0

    def __call__(self, state, event):
        self.calls += 1
        return self.fn(state, event)


def order_trace() -> Tracer:
    t = Tracer()
    t.record("OrderService", "order.created", outcome="sent")
    t.record("OrderService", "order.created", "EmailService", "delivered")
    t.record("OrderService", "order.created", "Inventory", "failed", detail="KeyError: 'sku'")
    t.record("OrderService", "order.created", "Inventory", "dead_lettered")
    return t


def widget_tree(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from widget_tree(child)


# -- the fold ------------------------------------------------------------------------------


def test_goto_forwards_backwards_and_to_both_ends():
    player = ReplayPlayer(range(1, 8), history, ())
    assert (player.position, player.state, player.event, len(player)) == (0, (), None, 7)
    assert player.goto(3).state == (1, 2, 3)
    assert player.event == 3
    assert player.goto(7).state == (1, 2, 3, 4, 5, 6, 7)
    assert player.goto(2).state == (1, 2)
    assert player.goto(0).state == ()
    assert player.position == 0


def test_step_and_back_move_by_one_and_stop_at_the_ends():
    player = ReplayPlayer(list("abc"), lambda s, e: s + e, "")
    assert player.back().position == 0
    assert player.step().step().state == "ab"
    assert player.back().state == "a"
    assert player.goto(3).step().position == 3


@pytest.mark.parametrize("bad", [-1, 8, 100])
def test_goto_outside_the_events_is_a_clear_value_error(bad):
    player = ReplayPlayer(range(7), history, ())
    with pytest.raises(ValueError, match=rf"goto\({bad}\): the position must be between 0 and 7"):
        player.goto(bad)
    assert player.position == 0  # nothing moved


def test_goto_needs_a_whole_number():
    player = ReplayPlayer(range(7), history, ())
    with pytest.raises(TypeError, match="whole number, not float"):
        player.goto(1.5)
    with pytest.raises(TypeError, match="whole number, not str"):
        player.goto("3")


def test_the_constructor_refuses_bad_arguments():
    with pytest.raises(TypeError, match="events must be a list of events, not str"):
        ReplayPlayer("abc", history, ())
    with pytest.raises(TypeError, match="apply must be a function"):
        ReplayPlayer([1], "apply", ())
    with pytest.raises(ValueError, match="checkpoint_every must be a whole number >= 1, not 0"):
        ReplayPlayer([1], history, (), checkpoint_every=0)
    with pytest.raises(TypeError, match="render must be a function"):
        ReplayPlayer([1], history, (), render="json")
    with pytest.raises(ValueError, match="between 0 and 1"):
        ReplayPlayer([1], history, (), start=2)


def test_an_empty_replay_has_only_the_initial_state():
    player = ReplayPlayer([], history, ("start",))
    assert (len(player), player.state, player.step().position) == (0, ("start",), 0)


def count_and_last(state: tuple, event: int) -> tuple:
    """A pure apply whose state stays small: (how many events, the last one)."""
    return (state[0] + 1, event)


@pytest.mark.parametrize("every", [1, 7, 25, 1000])
def test_any_jump_costs_fewer_apply_calls_than_the_checkpoint_distance(every):
    apply = CountingApply(count_and_last)
    player = ReplayPlayer(range(300), apply, (0, None), checkpoint_every=every)
    assert apply.calls == 300  # one full fold when built
    rng = random.Random(4)
    worst = 0
    for target in [300, 0, 299, 1, 150, *(rng.randrange(301) for _ in range(200))]:
        apply.calls = 0
        player.goto(target)
        worst = max(worst, apply.calls)
        assert player.state == (target, target - 1 if target else None)
    assert worst <= player.longest_jump <= every - 1 or every > 300  # the bound...
    if every <= 300:
        assert worst == every - 1  # ...and it is tight: some jump needed every one of them


def test_a_growing_state_spreads_its_checkpoints_and_jumps_stay_within_the_bound():
    apply = CountingApply()  # history: the state holds every event so far
    player = ReplayPlayer(range(3000), apply, (), checkpoint_every=10)
    assert apply.calls == 3000
    gaps = [b - a for a, b in zip(player.checkpoints.positions, player.checkpoints.positions[1:])]
    assert gaps[0] == 10 and gaps[-1] > 10  # small at first, wider as the state grows
    worst = 0
    for target in [3000, 0, 2999, *random.Random(2).sample(range(3001), 100)]:
        apply.calls = 0
        assert player.goto(target).state == tuple(range(target))
        worst = max(worst, apply.calls)
    assert worst <= player.longest_jump


def test_a_jump_does_not_replay_from_zero():
    apply = CountingApply(count_and_last)
    player = ReplayPlayer(range(1000), apply, (0, None), checkpoint_every=10)
    apply.calls = 0
    player.goto(999)
    assert apply.calls == 9  # from the checkpoint at 990, not 999 folds from the start
    apply.calls = 0
    player.back()
    assert apply.calls == 8  # 998 = checkpoint 990 + 8


def test_stepping_forward_costs_at_most_one_apply_each():
    apply = CountingApply(count_and_last)
    player = ReplayPlayer(range(50), apply, (0, None), checkpoint_every=10)
    for n in range(1, 51):
        apply.calls = 0
        player.step()
        assert player.state == (n, n - 1)
        assert apply.calls == (0 if n % 10 == 0 else 1)  # landing on a checkpoint is free


def test_an_apply_that_mutates_its_state_cannot_spoil_the_checkpoints():
    def append(state, event):  # the mistake: changes the state it was given
        state.append(event)
        return state

    initial: list = []
    player = ReplayPlayer(range(20), append, initial, checkpoint_every=4)
    assert player.goto(10).state == list(range(10))
    assert player.goto(3).state == list(range(3))
    assert player.goto(17).state == list(range(17))
    assert player.goto(9).state == list(range(9))
    assert initial == []  # the caller's initial state is never touched


def test_an_apply_that_forgets_to_return_is_named():
    def forgetful(state, event):
        state["n"] = state.get("n", 0) + 1  # and no return

    with pytest.raises(TypeError, match="apply returned None at event 1 .* missing `return`"):
        ReplayPlayer([1, 2], forgetful, {})


def test_an_error_in_apply_says_which_event():
    def picky(state, event):
        if event == 3:
            raise KeyError("amount")
        return state + event

    with pytest.raises(KeyError) as caught:
        ReplayPlayer([1, 2, 3], picky, 0)
    assert "apply raised at event 3" in "\n".join(caught.value.__notes__)


@settings(max_examples=80, deadline=None)
@given(
    events=st.lists(st.integers(-5, 5), max_size=60),
    every=st.integers(1, 12),
    jumps=st.lists(st.floats(0, 1), max_size=12),
)
def test_goto_n_is_the_plain_fold_of_the_first_n_events(events, every, jumps):
    player = ReplayPlayer(events, history, (), checkpoint_every=every)
    for fraction in jumps:
        n = round(fraction * len(events))
        assert player.goto(n).state == reduce(history, events[:n], ())
        assert player.event == (events[n - 1] if n else None)


# -- what it shows ---------------------------------------------------------------------------


def test_the_static_views_are_deterministic_and_name_the_cursor():
    def build():
        return ReplayPlayer(order_trace(), tally, {}, graph=order_trace()).goto(3)

    first, second = build()._repr_mimebundle_(), build()._repr_mimebundle_()
    assert first["text/plain"] == second["text/plain"]
    assert first["text/html"] == second["text/html"]
    assert (
        first["application/vnd.jupyter.widget-view+json"]["model_id"]
        != second["application/vnd.jupyter.widget-view+json"]["model_id"]
    )
    text = first["text/plain"]
    assert text.splitlines()[0] == "Replay: 4 events, after event 3 of 4"
    assert "  ▶    3  OrderService --order.created--> Inventory: failed [KeyError: 'sku']" in text
    assert "0x" not in text and "model_id" not in text and "VBox" not in text
    assert 'class="eda-replay-static"' in first["text/html"]


def test_the_static_html_escapes_what_it_shows():
    player = ReplayPlayer(["<script>alert(1)</script>"], lambda s, e: e, "<b>")
    page = player.goto(1)._static_html()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_widget_has_the_css_classes_the_browser_tests_use():
    player = ReplayPlayer(order_trace(), tally, {}, graph=order_trace())
    classes = {c for w in widget_tree(player.widget) for c in getattr(w, "_dom_classes", ())}
    assert CSS_CLASSES <= classes
    kinds = {type(w).__name__ for w in widget_tree(player.widget)}
    assert {"Play", "IntSlider", "Image", "Dropdown"} <= kinds


def test_buttons_slider_and_goto_stay_in_step():
    player = ReplayPlayer(order_trace(), tally, {})
    parts = player._widgets if player.widget is not None else None
    parts["step"].click()
    parts["step"].click()
    assert player.position == 2 and parts["slider"].value == 2
    parts["back"].click()
    assert player.position == 1
    parts["slider"].value = 4
    assert player.position == 4
    assert "▶    4" in parts["event"].value
    player.goto(0)
    assert parts["slider"].value == 0
    assert "start: no event applied yet" in parts["event"].value
    assert parts["state"].value.endswith("{}</pre>")


def test_the_graph_view_highlights_the_current_edge():
    player = ReplayPlayer(order_trace(), tally, {}, graph=order_trace())
    image = next(w for w in widget_tree(player.widget) if type(w).__name__ == "Image")
    plain = bytes(image.value)
    assert plain.startswith(b"\x89PNG")
    player.goto(2)
    email = bytes(image.value)
    player.goto(3)
    assert len({plain, email, bytes(image.value)}) == 3
    player.goto(2)
    assert bytes(image.value) == email  # same edge, same (cached) picture


def test_edge_of_can_point_at_a_node_and_unknown_edges_are_drawn_plain():
    events = [Event("order.created"), Event("not.in.graph")]
    player = ReplayPlayer(events, lambda s, e: s + 1, 0, graph=order_trace())
    assert player.goto(1).picture.highlight(player) == "event:order.created"
    assert player.goto(2).picture.highlight(player) is None
    custom = ReplayPlayer(
        events,
        lambda s, e: s + 1,
        0,
        graph=order_trace(),
        edge_of=lambda e: ("OrderService", "order.created"),
    )
    assert custom.goto(1).picture.highlight(custom) == ("OrderService", "order.created")


def test_render_replaces_the_state_view():
    class Table:
        def __init__(self, n):
            self.n = n

        def _repr_html_(self):
            return f"<table><tr><td>{self.n}</td></tr></table>"

        def __str__(self):
            return f"n = {self.n}"

    player = ReplayPlayer([1, 2], lambda s, e: s + e, 0, render=Table).goto(2)
    assert "<td>3</td>" in player._state_html()
    assert player.summary().endswith("state:\n  n = 3")
    text_player = ReplayPlayer([1, 2], lambda s, e: s + e, 0, render=lambda s: f"total {s}")
    assert "total 0" in text_player._state_html()


def test_describe_event_reads_well_for_records_events_and_others():
    with reproducible():
        assert (
            describe_event(Event("order.created", {"order_id": "A1"}))
            == 'order.created {"order_id": "A1"}'
        )
    record = order_trace()[0]
    assert describe_event(record) == "OrderService emits order.created"
    assert describe_event(("x", 1)) == "('x', 1)"
    assert describe_event("y" * 200).endswith("…")


def test_format_state_shows_objects_by_their_fields_without_addresses():
    class Account:
        def __init__(self):
            self.owner = "asha"
            self.balance = 800
            self._pending = ["secret"]

    text = format_state(Account())
    assert text == 'Account {\n  "owner": "asha",\n  "balance": 800\n}'  # a key per line
    assert format_state({"tags": {"b", "a"}}) == '{\n  "tags": ["a", "b"]\n}'

    class Order:
        def __repr__(self):
            return "Order(A1, paid)"

    assert format_state(Order()) == "Order(A1, paid)"  # its own repr, not quoted
    long = format_state({"k" + str(i): "v" * 40 for i in range(200)})
    assert "more characters)" in long


def test_tally_is_pure_and_counts_per_participant():
    trace = order_trace()
    start: dict = {}
    after_one = tally(start, trace[0])
    assert start == {} and after_one == {"OrderService": {"sent": 1}}
    final = reduce(tally, trace, {})
    assert final == {
        "OrderService": {"sent": 1},
        "EmailService": {"delivered": 1},
        "Inventory": {"failed": 1, "dead_lettered": 1},
    }


def test_ipython_shows_the_players_own_text_not_the_widget_repr():
    from IPython.core.formatters import DisplayFormatter

    player = ReplayPlayer(order_trace(), tally, {}, graph=order_trace())
    data, _metadata = DisplayFormatter().format(player)
    assert set(data) == {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"}
    assert data["text/plain"] == player.summary()


def test_the_headless_player_loads_no_heavy_library():
    code = (
        "import sys\nfrom eda_kit.viz.widgets import ReplayPlayer\n"
        "p = ReplayPlayer([1, 2, 3], lambda s, e: s + e, 0).goto(2)\n"
        "assert p.state == 3 and p.summary()\n"
        "print(','.join(m for m in ('matplotlib', 'networkx', 'ipywidgets', 'IPython')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_without_ipywidgets_the_player_still_shows_its_static_views(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now fails
    bundle = ReplayPlayer([1, 2], lambda s, e: s + e, 0, start=2)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"].endswith("state:\n  3")
