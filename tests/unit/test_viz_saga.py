"""draw_saga: steps left to right, final states marked, compensations running back."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from eda_kit import Saga, Step  # noqa: E402
from eda_kit.saga.faults import inject_faults  # noqa: E402
from eda_kit.viz.saga import STATE_STYLE, draw_saga, step_states  # noqa: E402

NAMES = ["create_order", "reserve_inventory", "charge_payment", "confirm_order"]


def result(**faults):
    steps = [
        Step(
            n,
            lambda ctx: None,
            (lambda ctx: None) if n != "confirm_order" else None,
            retries=1 if n == "reserve_inventory" else 0,
        )
        for n in NAMES
    ]
    return Saga("place-order", inject_faults(steps, **faults)).run(saga_id="A1")


def render(res) -> np.ndarray:
    figure = Figure(figsize=(9, 3))
    canvas = FigureCanvasAgg(figure)
    draw_saga(res, ax=figure.subplots())
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def test_states_come_from_the_history():
    assert step_states(result(fail=3)) == {
        "create_order": "compensated",
        "reserve_inventory": "compensated",
        "charge_payment": "failed",
        "confirm_order": "not_run",
    }
    assert (
        step_states(result(fail=4, fail_compensation=2))["reserve_inventory"]
        == "compensation_failed"
    )
    assert set(step_states(result()).values()) == {"done"}


def test_boxes_left_to_right_coloured_by_state_and_arrows_back():
    res = result(fail=3)
    ax = draw_saga(res, ax=Figure().subplots())
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    xs = [b.get_x() for b in boxes]
    assert xs == sorted(xs) and len(boxes) == 4
    fills = [matplotlib.colors.to_hex(b.get_facecolor()) for b in boxes]
    assert fills == [STATE_STYLE[s][0] for s in ("compensated", "compensated", "failed", "not_run")]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 3 + 2  # three forward, two compensations back
    labels = [t.get_text() for t in ax.texts]
    assert "undo 1" in labels and "undo 2" in labels and "undo 3" not in labels
    assert ax.get_title() == "saga 'place-order' (A1): compensated"


def test_retries_are_written_under_the_step():
    res = result(fail={"reserve_inventory": 1})
    labels = [t.get_text() for t in draw_saga(res, ax=Figure().subplots()).texts]
    assert "done, 1 retry" in labels


def test_the_picture_is_the_same_every_time():
    res = result(fail=4, fail_compensation=2)
    assert np.array_equal(render(res), render(res))
    assert not np.array_equal(render(res), render(result(fail=3)))


def test_draw_saga_refuses_other_things():
    with pytest.raises(TypeError, match="needs a SagaResult"):
        draw_saga([("a", "done")])
