"""plot_state, draw_saga and draw_lanes read at a glance: no label on a label, a box or a line.

Measured with :func:`eda_kit.viz.find_overlaps` (the Agg renderer's true text extents), over
random values, sagas and logs, at every cursor; and a label put where it must not be is caught,
so the measurement can fail on these drawings.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eda_kit import Event, InMemoryEventStore, Saga, Step  # noqa: E402
from eda_kit.saga.faults import inject_faults  # noqa: E402
from eda_kit.viz import pictures  # noqa: E402
from eda_kit.viz.lanes import draw_lanes, lanes_figsize  # noqa: E402
from eda_kit.viz.overlaps import find_overlaps  # noqa: E402
from eda_kit.viz.saga import draw_saga, draw_saga_log  # noqa: E402
from eda_kit.viz.state import plot_state  # noqa: E402


def value_figure(values, **kwargs) -> Figure:
    """As the replay player draws it: a fixed figure, axes placed by ValuePicture."""
    figure = Figure(figsize=(6.4, 3.0), dpi=80)
    ax = figure.add_axes((0.13, 0.17, 0.83, 0.72))
    plot_state(values, ax, "balance", title="the balance after each event", **kwargs)
    return figure


def player_figure(values: list[float], position: int) -> Figure:
    """The replay player's value picture at ``position``, drawn as render_png draws it."""
    from eda_kit.viz.widgets import ReplayPlayer

    events = [Event("Set", {"balance": value}) for value in values[1:]]
    picture = pictures.ValuePicture("balance", title="the balance after each event")
    player = ReplayPlayer(events, lambda s, e: e.data, {"balance": values[0]}, picture=picture)
    player.goto(position)
    figure = Figure(figsize=picture.figsize(player), dpi=80)
    picture.draw(figure.add_axes((0.0, 0.0, 1.0, 1.0)), player)
    return figure


values_lists = st.lists(st.integers(-2000, 2000), min_size=1, max_size=30)


@settings(max_examples=20, deadline=None)
@given(values=values_lists, data=st.data())
def test_no_values_give_a_value_picture_with_overlaps(values, data):
    upto = data.draw(st.none() | st.integers(0, len(values) - 1))
    mark = data.draw(st.none() | st.integers(0, len(values) - 1))
    assert find_overlaps(value_figure(values, upto=upto, mark=mark)) == []


@settings(max_examples=15, deadline=None)
@given(values=st.lists(st.floats(-1e7, 1e7), min_size=1, max_size=25), data=st.data())
def test_the_players_value_picture_fits_any_numbers(values, data):
    position = data.draw(st.integers(0, len(values) - 1))
    assert find_overlaps(player_figure(values, position)) == []


@settings(max_examples=15, deadline=None)
@given(st.dictionaries(st.integers(0, 60), st.integers(-2000, 2000), min_size=1, max_size=20))
def test_versions_with_gaps_give_a_value_picture_without_overlaps(states):
    assert find_overlaps(value_figure(states, mark=min(states))) == []


def test_a_value_label_moved_onto_the_line_is_caught():
    figure = value_figure([0, 500, 1000, 800], mark=2)
    ax = figure.axes[0]
    assert find_overlaps(figure) == []
    ax.annotate("oops", (1.5, 500), ha="center", va="center")  # on the step line
    assert any("crosses text 'oops'" in p for p in find_overlaps(figure))


def saga_result(**faults):
    names = ["create_order", "reserve_inventory", "charge_payment", "confirm_order"]
    steps = [Step(n, lambda ctx: None, lambda ctx: None) for n in names]
    return Saga("place-order", inject_faults(steps, **faults)).run(saga_id="A1")


SAGAS = [
    {},
    {"fail": 3},
    {"fail": 4},
    {"fail": 4, "fail_compensation": "create_order"},
    {"fail": 2},
]


def test_no_saga_picture_has_overlaps_and_a_label_on_an_arrow_is_caught():
    for faults in SAGAS:
        figure = Figure(figsize=(9.4, 3.3))
        draw_saga(saga_result(**faults), figure.subplots())
        assert find_overlaps(figure, tight=True) == [], faults
    ax = figure.axes[0]
    undo = next(t for t in ax.texts if t.get_text() == "undo 1")
    undo.set_y(undo.get_position()[1] + 0.1)  # back onto its arc
    undo.set_verticalalignment("center")
    assert "arrow crosses text 'undo 1'" in find_overlaps(figure, tight=True)


def saga_log():
    store = InMemoryEventStore()
    steps = [Step(n, lambda ctx: None, lambda ctx: None) for n in ("reserve", "charge", "ship")]
    saga = Saga("order", inject_faults(steps, fail=3), store=store)
    saga.run({"id": "A"}, saga_id="A")
    return store.read_stream("saga-A")


def test_the_saga_at_every_point_of_its_log_has_no_overlaps():
    log = saga_log()
    for upto in range(1, len(log) + 1):
        figure = Figure(figsize=(7.2, 3.3))
        draw_saga_log(log, figure.subplots(), upto=upto)
        assert find_overlaps(figure, tight=True) == [], upto
    # the axes are off: no hidden tick label is left to be measured
    assert not figure.axes[0].get_xticklabels() and not figure.axes[0].get_yticklabels()


def lanes_log(count: int):
    store = InMemoryEventStore()
    for i in range(count):
        store.append(f"order-{'ABC'[i * 7 % 3]}{i % 2}", Event("OrderPlaced" if i % 3 else "Paid"))
    return store.read_all()


def test_lanes_at_every_cursor_have_no_overlaps_and_an_unmarked_lane_line_is_caught():
    log = lanes_log(20)  # longer than the window: "… earlier" and "later …" shown
    for cursor in (None, 0, 1, 7, 20):
        figure = Figure(figsize=lanes_figsize(log))
        draw_lanes(log, figure.add_axes((0, 0, 1, 1)), cursor=cursor)
        assert find_overlaps(figure) == [], cursor
    lane = next(line for line in figure.axes[0].lines if line.get_gid() == "guide")
    lane.set_gid(None)  # a lane line not marked as a guide runs through the event boxes
    assert any(p.startswith("a line crosses text") for p in find_overlaps(figure))


def test_the_players_pictures_have_no_overlaps_at_any_cursor():
    from eda_kit.viz.widgets import ReplayPlayer

    cases = [
        (pictures.LanesPicture(), lanes_log(5)),
        (pictures.SagaPicture(), saga_log()),
        (pictures.ValuePicture(lambda s: s * 250 - 400, label="stock"), lanes_log(6)),
    ]
    for picture, log in cases:
        player = ReplayPlayer(log, lambda s, e: s + 1, 0, picture=picture)
        for position in range(len(log) + 1):
            player.goto(position)
            figure = Figure(figsize=picture.figsize(player), dpi=80)
            picture.draw(figure.add_axes((0.0, 0.0, 1.0, 1.0)), player)
            assert find_overlaps(figure) == [], (type(picture).__name__, position)
