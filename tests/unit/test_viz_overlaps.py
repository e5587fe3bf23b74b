"""The overlap checker catches what it must, and draw_flow gives it nothing to catch."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eda_kit import Tracer, viz  # noqa: E402
from eda_kit.viz.overlaps import find_overlaps  # noqa: E402


def order_trace() -> Tracer:
    t = Tracer()
    t.record("OrderService", "order.created", outcome="sent")
    t.record("OrderService", "order.created", "EmailService", "delivered")
    t.record("OrderService", "order.created", "Inventory", "failed", detail="KeyError: 'sku'")
    t.record("OrderService", "order.created", "Inventory", "retried", attempt=2)
    t.record("OrderService", "order.created", "Inventory", "failed", attempt=2)
    t.record("OrderService", "order.created", "Inventory", "dead_lettered", attempt=2)
    t.record("Inventory", "stock.low", outcome="sent")
    t.record("Inventory", "stock.low", "Purchasing", "delivered")
    return t


def drawn(draw, *args, **kwargs) -> Figure:
    figure = Figure(figsize=(9, 4), dpi=100)
    draw(*args, ax=figure.add_axes((0, 0, 1, 1)), **kwargs)
    return figure


def test_a_clean_flow_picture_has_no_overlaps_in_either_view():
    assert find_overlaps(viz.draw_flow(order_trace()).figure) == []
    assert find_overlaps(viz.draw_flow(order_trace(), view="topics").figure) == []
    assert find_overlaps(viz.timeline(order_trace()).figure) == []


def test_a_label_put_on_a_box_on_a_label_and_on_a_line_is_caught():
    ax = viz.draw_flow(order_trace(), title="deliberately broken")
    boxes = {t.get_text(): t for t in ax.texts if t.get_gid() == "flow-node"}
    inventory = boxes["Inventory"].get_position()
    ax.text(*inventory, "on the box", fontsize=9)  # a label on a box
    label = next(t for t in ax.texts if t.get_gid() == "flow-label")
    ax.text(*label.get_position(), "on the label", fontsize=9)  # ...on another label
    ax.plot([inventory[0] - 3, inventory[0] + 3], [inventory[1] - 1.2] * 2, color="k")
    ax.text(inventory[0], inventory[1] - 1.2, "on the line", ha="center", va="center")
    problems = find_overlaps(ax.figure)
    assert "text 'Inventory' overlaps text 'on the box'" in problems
    assert any("overlaps text 'on the label'" in p for p in problems)
    assert "a line crosses text 'on the line'" in problems


def test_text_cut_off_by_the_edge_is_caught():
    figure = Figure(figsize=(2, 1))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.text(0.9, 0.5, "a label much too long for this figure")
    assert find_overlaps(figure) == [
        "text 'a label much too long for this figure' is cut off by the edge of the figure"
    ]


def test_guides_may_pass_behind_text_and_arrows_may_touch_their_boxes():
    figure = Figure(figsize=(3, 1))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.plot([0.5, 0.5], [0, 1], gid="guide")
    ax.text(0.5, 0.5, "lane", ha="center")
    assert find_overlaps(figure) == []


names = st.sampled_from(["Shop", "Email", "Stock", "Billing", "order.created", "paid"])
outcomes = st.sampled_from(
    ["sent", "unhandled", "delivered", "failed", "retried", "dead_lettered", "skipped"]
)


@st.composite
def traces(draw) -> Tracer:
    t = Tracer()
    for _ in range(draw(st.integers(1, 14))):
        outcome = draw(outcomes)
        target = None if outcome in ("sent", "unhandled") else draw(names)
        t.record(draw(names), draw(names), target, outcome)
    return t


@settings(max_examples=25, deadline=None, derandomize=True)
@given(traces(), st.sampled_from(["topics", "services"]), st.booleans())
def test_no_random_trace_gives_a_picture_with_overlaps(trace, view, titled):
    title = "a picture of a random trace" if titled else None
    figure = viz.draw_flow(trace, view=view, title=title).figure
    assert find_overlaps(figure) == []
    import matplotlib.pyplot as plt

    plt.close("all")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(traces(), st.data())
def test_every_step_of_a_replay_with_ghosts_has_no_overlaps(trace, data):
    k = data.draw(st.integers(0, len(trace)))
    part = trace.records[:k]
    figure = viz.draw_flow(part, ghost=trace, highlight=part[-1] if part else None).figure
    assert find_overlaps(figure) == []
    import matplotlib.pyplot as plt

    plt.close("all")


def test_no_viz_module_shares_a_name_with_a_drawing_it_exports():
    """A module viz/timeline.py made ``import eda_kit.viz.timeline`` replace ``viz.timeline()``
    with the module ('module' object is not callable). Checked in a fresh interpreter too."""
    import subprocess
    import sys
    from pathlib import Path

    import eda_kit.viz as package

    modules = {path.stem for path in Path(package.__file__).parent.glob("*.py")}
    assert not modules & set(package.__all__)
    script = (
        "import importlib, eda_kit.viz as viz\n"
        "for name in viz.__dir__():\n"
        "    try: importlib.import_module('eda_kit.viz.' + name)\n"
        "    except ImportError: pass\n"
        "assert callable(viz.timeline) and callable(viz.draw_flow), viz.timeline\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
