"""The saga picture: steps left to right, and the compensations running back.

    from eda_kit import viz
    viz.draw_saga(result)          # result = saga.run(...) or saga.resume(...)

Each step is a box, in the saga's order, coloured by how it ended:

    done         green        the action succeeded and stands
    failed       red          the action failed for good: this is where the saga turned back
    compensated  purple       the action succeeded, then was undone
    undo failed  dark red     the compensation gave up: someone has to look at it
    not run      white        the saga never got there

Grey arrows along the top are the way forward. Purple arrows below run *back*, from the
failed step to each compensated step in the order the compensations ran (numbered), which
makes "newest first" visible at a glance. A step that needed retries says so under its name.
The drawing reads only the :class:`~eda_kit.saga.SagaResult`, and is the same every time.

**A saga as it runs.** A saga with a store writes every transition to its log, so its picture
can be drawn at any point of that log: :func:`saga_at` folds the first ``n`` log events into
a result-like object (status ``"running"`` until ``SagaFinished``), and ``draw_saga`` draws it
with ``current=`` the step the latest event was about, outlined in blue; a step whose attempt
has started but not ended is drawn as *running*, one being undone as *undoing*. Compensations
appear one by one, as the log records them::

    log = store.read_stream("saga-order-A3")
    viz.draw_saga_log(log, upto=6)        # the saga after its first 6 log events

The replay player does this at its cursor (``viz.pictures.SagaPicture``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidType, InvalidValue
from . import theme

__all__ = ["draw_saga", "draw_saga_log", "saga_at", "step_states", "SagaSoFar"]

#: How each final state of a step is drawn: (fill, edge colour, line style, label).
STATE_STYLE: dict[str, tuple[str, str, Any, str]] = {
    "done": ("#d9ead3", "#38761d", "solid", "done"),
    "failed": ("#f4cccc", "#d62728", "solid", "failed"),
    "compensated": ("#e8dcf0", "#7b3fa0", "solid", "compensated"),
    "compensation_failed": ("#e06666", "#85200c", "solid", "undo failed"),
    "not_run": ("#ffffff", "#9e9e9e", "dashed", "not run"),
    "running": ("#fff2cc", "#bf9000", "solid", "running"),
    "undoing": ("#fce5cd", "#b45f06", "dashed", "undoing"),
}
BACK_COLOUR = "#7b3fa0"
WIDTH, HEIGHT, GAP = 1.9, 0.9, 0.7
ARC = 0.45  # how far the arrows back bend below the boxes


@dataclass(frozen=True)
class SagaSoFar:
    """A saga read from the first events of its log: what ``draw_saga`` needs, and more.

    ``status`` is ``"running"`` until the log says ``SagaFinished``; ``current`` is the step
    the latest event was about; ``open_step`` and ``open_phase`` name an attempt that has
    started (``"action"`` or ``"compensation"``) and not ended yet.
    """

    saga_id: str
    name: str
    status: str
    history: list[tuple[str, str]]
    steps: tuple[str, ...]
    current: str | None = None
    open_step: str | None = None
    open_phase: str | None = None


def saga_at(log: Any, upto: int | None = None) -> SagaSoFar:
    """The saga as its first ``upto`` log events tell it (all of them when ``None``).

    ``log`` is the saga's stream (``store.read_stream("saga-<id>")``), oldest first.
    """
    from ..saga.log import read_log, saga_id_of

    events = list(log)
    if upto is not None:
        events = events[:upto]
    state = read_log(events)
    saga_id = ""
    if events and getattr(events[0], "stream_id", None):
        saga_id = saga_id_of(events[0].stream_id) or events[0].stream_id
    open_step = open_phase = None
    if state.open_attempt is not None:
        open_phase, open_step, _attempt = state.open_attempt
    return SagaSoFar(
        saga_id=saga_id,
        name=state.saga,
        status=state.status or ("running" if events else "not started"),
        history=list(state.history),
        steps=tuple(state.steps),
        current=state.last_step,
        open_step=open_step,
        open_phase=open_phase,
    )


def step_states(result: Any) -> dict[str, str]:
    """Each step's state so far (a key of :data:`STATE_STYLE`), from the result's history.

    For a :class:`SagaSoFar`, a step with an attempt under way is ``"running"`` (or
    ``"undoing"``, for a compensation).
    """
    states = {name: "not_run" for name in result.steps}
    for name, outcome in result.history:
        if outcome in ("done", "failed", "compensated", "compensation_failed"):
            states[name] = outcome
    open_step = getattr(result, "open_step", None)
    if open_step in states:
        states[open_step] = "undoing" if result.open_phase == "compensation" else "running"
    return states


def draw_saga_log(log: Any, ax: Any = None, upto: int | None = None) -> Any:
    """Draw a saga from its log, as it stood after the first ``upto`` events."""
    so_far = saga_at(log, upto)
    if not so_far.steps:
        raise InvalidValue("draw_saga_log: the log has no SagaStarted event (is it a saga log?)")
    return draw_saga(so_far, ax, current=so_far.current)


def draw_saga(result: Any, ax: Any = None, *, current: str | None = None) -> Any:
    """Draw a :class:`~eda_kit.saga.SagaResult` (or a :class:`SagaSoFar`); return the ``Axes``.

    ``current``: a step to outline in blue (the one a replay's cursor is on).
    """
    if not hasattr(result, "history") or not hasattr(result, "steps"):
        raise InvalidType(
            f"draw_saga needs a SagaResult (from saga.run), not {type(result).__name__}"
        )
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    steps = list(result.steps)
    states = step_states(result)
    retries = {name: 0 for name in steps}
    for name, outcome in result.history:
        if outcome == "retried":
            retries[name] += 1
    if ax is None:
        ax = theme.new_axes((max(6.0, 2.2 * len(steps) + 0.6), 3.3))
    pitch = WIDTH + GAP
    centre = {name: i * pitch for i, name in enumerate(steps)}

    for name in steps:
        fill, edge, style, _label = STATE_STYLE[states[name]]
        x = centre[name]
        ax.add_patch(
            FancyBboxPatch(
                (x - WIDTH / 2, -HEIGHT / 2),
                WIDTH,
                HEIGHT,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=fill,
                edgecolor=theme.HIGHLIGHT if name == current else edge,
                linestyle="solid" if name == current else style,
                linewidth=3.0 if name == current else 1.6,
                zorder=2,
            )
        )
        text = theme.wrap_label(name, 18)
        ax.text(x, 0.08, text, ha="center", va="center", fontsize=theme.FONT_SIZE, zorder=3)
        note = STATE_STYLE[states[name]][3]
        if retries[name]:
            note += f", {retries[name]} retr{'y' if retries[name] == 1 else 'ies'}"
        ax.text(
            x,
            -0.3,
            note,
            ha="center",
            va="center",
            fontsize=theme.SMALL_FONT,
            color="#333333",
            zorder=3,
        )

    for left, right in zip(steps, steps[1:]):  # the way forward
        ran = states[right] != "not_run"
        ax.add_patch(
            FancyArrowPatch(
                (centre[left] + WIDTH / 2, 0.0),
                (centre[right] - WIDTH / 2, 0.0),
                arrowstyle="-|>",
                mutation_scale=14,
                linewidth=1.4,
                color="#555555" if ran else "#bbbbbb",
                linestyle="solid" if ran else "dotted",
                zorder=1,
            )
        )

    # the way back: failed step -> first undone -> next undone -> ...
    undone = [
        (name, outcome)
        for name, outcome in result.history
        if outcome in ("compensated", "compensation_failed")
    ]
    failed = [name for name, outcome in result.history if outcome == "failed"]
    previous = failed[-1] if failed else None
    lowest = -HEIGHT / 2 - 0.3
    for number, (name, outcome) in enumerate(undone, start=1):
        if previous is not None:
            colour = BACK_COLOUR if outcome == "compensated" else "#85200c"
            start, end = centre[previous], centre[name]
            bottom = -HEIGHT / 2 - 0.02
            ax.add_patch(
                FancyArrowPatch(
                    (start - 0.25, bottom),
                    (end + 0.25, bottom),
                    connectionstyle=f"arc3,rad={-ARC}",
                    arrowstyle="-|>",
                    mutation_scale=14,
                    linewidth=1.6,
                    color=colour,
                    linestyle="solid" if outcome == "compensated" else "dashed",
                    zorder=1,
                )
            )
            depth = bottom - ARC * (abs(start - end) - 0.5) / 2  # the arc's lowest point
            # the label hangs just under the arc, so the arrow never runs through it
            ax.text(
                (start + end) / 2,
                depth - 0.06,
                f"undo {number}",
                ha="center",
                va="top",
                fontsize=theme.SMALL_FONT,
                color=colour,
                zorder=4,
            )
            lowest = min(lowest, depth - 0.4)
        previous = name

    span = max(centre.values()) if centre else 0.0
    ax.set_xlim(-WIDTH / 2 - 0.3, span + WIDTH / 2 + 0.3)
    ax.set_ylim(lowest, HEIGHT / 2 + 0.35)
    ax.set_aspect("equal")
    ax.set_xticks([])  # positions in this picture mean nothing: no tick labels, even hidden
    ax.set_yticks([])
    ax.axis("off")
    ax.set_title(
        f"saga {result.name!r} ({result.saga_id}): {result.status}", fontsize=theme.FONT_SIZE + 1
    )
    shown = [s for s in STATE_STYLE if s in states.values()]
    ax.legend(
        handles=[
            Patch(
                facecolor=STATE_STYLE[s][0],
                edgecolor=STATE_STYLE[s][1],
                linestyle=STATE_STYLE[s][2],
                label=STATE_STYLE[s][3],
            )
            for s in shown
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=len(shown),
        frameon=False,
        fontsize=theme.SMALL_FONT,
    )
    return ax
