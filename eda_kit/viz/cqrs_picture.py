"""The two-sided CQRS picture: commands write on the left, queries read on the right.

The whiteboard drawing of CQRS, with the event store in the middle::

    commands -> [event store] -> projections -> read models <- queries
    (write side)                 (read side .................................)

    viz.draw_cqrs(
        commands={"PlaceOrder": ["OrderPlaced"], "PayOrder": ["OrderPaid"]},
        projections=[order_details, orders_per_customer],   # Projection objects, or
                                                             # {name: [event types]}
        queries={"GetOrder": "order_details", "CountOrders": "orders_per_customer"},
        event=store_event,                                   # light up who handles it
    )

With ``event`` (a recorded event), the picture lights what that event touches: the
command that records events of its type, the store, every projection that handles the type
and the read model each one updates. A projection that ignores the event stays plain: that
is how a learner sees that each read model answers only its own question.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import InvalidType
from . import theme

__all__ = ["draw_cqrs", "cqrs_figsize", "handled_by", "projection_types"]

_COLUMN_GAP = 0.75
_PITCH = 0.62
_FILL = {
    "command": theme.NODE_FILL["producer"],
    "store": "#fff2cc",
    "projection": theme.NODE_FILL["consumer"],
    "read model": "#d9ead3",
    "query": theme.NODE_FILL["event"],
}
_HEADINGS = ("commands", "event store", "projections", "read models", "queries")
_LIT_FILL = "#cfe2ff"


def projection_types(projections: Any) -> dict[str, list[str]]:
    """{projection name: event types it handles}, from Projections or a mapping."""
    if isinstance(projections, Mapping):
        return {str(name): list(types) for name, types in projections.items()}
    found: dict[str, list[str]] = {}
    for projection in projections:
        if not hasattr(projection, "name") or not hasattr(projection, "handles"):
            raise InvalidType(
                f"draw_cqrs: projections must be Projection objects or {{name: [event types]}}, "
                f"not {type(projection).__name__}"
            )
        found[projection.name] = list(projection.handles)
    return found


def handled_by(projections: Any, event_type: str) -> list[str]:
    """The names of the projections that handle ``event_type``."""
    return [name for name, types in projection_types(projections).items() if event_type in types]


def _width(text: str) -> float:
    lines = theme.wrap_label(text, 16).split("\n")
    return max(len(line) for line in lines) * 0.6 * theme.FONT_SIZE / 72 + 0.3


def _columns(
    commands: Mapping[str, Iterable[str]],
    projections: dict[str, list[str]],
    queries: Mapping[str, str],
) -> list[list[str]]:
    return [
        list(commands),
        ["event store"],
        list(projections),
        [f"{name} view" for name in projections],
        list(queries),
    ]


def cqrs_figsize(
    commands: Mapping[str, Iterable[str]], projections: Any, queries: Mapping[str, str]
) -> tuple[float, float]:
    """The natural figure size (inches) of :func:`draw_cqrs` for these parts."""
    columns = _columns(commands, projection_types(projections), queries)
    width = sum(max((_width(n) for n in col), default=0.5) for col in columns)
    rows = max(len(col) for col in columns)
    return theme.round_size(width + _COLUMN_GAP * 4 + 0.4, rows * _PITCH + 1.6)


def draw_cqrs(
    commands: Mapping[str, Iterable[str]],
    projections: Any,
    queries: Mapping[str, str],
    ax: Any = None,
    *,
    event: Any = None,
    note: str | None = None,
) -> Any:
    """Draw the two sides of CQRS and light up what ``event`` touches; return the Axes.

    - ``commands``: ``{command: [event types it records]}``.
    - ``projections``: ``Projection`` objects, or ``{projection name: [event types]}``.
    - ``queries``: ``{query: the projection whose read model it reads}``.
    - ``event``: an event (anything with ``.type``) to light up, or ``None``.
    - ``note``: a line under the picture (say, "event 5 of 9: updates order_details").
    """
    from matplotlib.patches import FancyArrowPatch

    types = projection_types(projections)
    for query, source in queries.items():
        if source not in types:
            raise InvalidType(
                f"draw_cqrs: query {query!r} reads {source!r}, which is not one of the "
                f"projections {list(types)}"
            )
    columns = _columns(commands, types, queries)
    kinds = ["command", "store", "projection", "read model", "query"]
    if ax is None:
        ax = theme.new_axes(cqrs_figsize(commands, types, queries), fill=True)

    event_type = None if event is None else str(event.type)
    lit: set[str] = set()
    if event_type is not None:
        lit.add("event store")
        lit.update(c for c, made in commands.items() if event_type in made)
        for name, handled in types.items():
            if event_type in handled:
                lit.update((name, f"{name} view"))

    pos: dict[str, tuple[float, float]] = {}
    widths: dict[str, float] = {}
    x = 0.0
    rows = max(len(col) for col in columns)
    for col, names in enumerate(columns):
        column_width = max((_width(n) for n in names), default=0.5)
        centre = x + column_width / 2
        ax.text(
            centre,
            (rows - 1) / 2 * _PITCH + 0.5,
            _HEADINGS[col],
            ha="center",
            va="bottom",
            color="#777777",
            fontsize=theme.SMALL_FONT,
            style="italic",
        )
        for row, name in enumerate(names):
            pos[name] = (centre, ((len(names) - 1) / 2 - row) * _PITCH)
            widths[name] = _width(name)
        x += column_width + _COLUMN_GAP

    boxes = {}
    for col, names in enumerate(columns):
        for name in names:
            on = name in lit
            boxes[name] = ax.text(
                *pos[name],
                theme.wrap_label(name, 16),
                ha="center",
                va="center",
                fontsize=theme.FONT_SIZE,
                fontweight="bold" if on else "normal",
                zorder=3,
                bbox={
                    "boxstyle": "round,pad=0.35",
                    "facecolor": _LIT_FILL if on else _FILL[kinds[col]],
                    "edgecolor": theme.HIGHLIGHT if on else theme.NODE_EDGE,
                    "linewidth": 2.6 if on else 1.0,
                },
            )

    def arrow(a: str, b: str, on: bool) -> None:
        ax.add_patch(
            FancyArrowPatch(
                pos[a],
                pos[b],
                arrowstyle="-|>",
                mutation_scale=12,
                color=theme.HIGHLIGHT if on else "#999999",
                linewidth=2.4 if on else 1.0,
                shrinkA=2,
                shrinkB=2,
                zorder=5 if on else 4,  # above the boxes: drawn after them, clipped to them
                patchA=boxes[a].get_bbox_patch(),
                patchB=boxes[b].get_bbox_patch(),
            )
        )

    for command in commands:
        arrow(command, "event store", command in lit)
    for name in types:
        arrow("event store", name, name in lit)
        arrow(name, f"{name} view", name in lit)
    for query, source in queries.items():
        arrow(query, f"{source} view", False)

    store_x, store_y = pos["event store"]
    if event_type is not None:
        ax.text(
            store_x,
            store_y - 0.36,
            _fit(event_type, 16),
            ha="center",
            va="top",
            fontsize=theme.SMALL_FONT,
            fontweight="bold",
            color=theme.HIGHLIGHT,
        )
    # the line between the sides: just right of the store
    split = store_x + widths["event store"] / 2 + _COLUMN_GAP / 2
    top = (rows - 1) / 2 * _PITCH + 0.45
    ax.plot([split, split], [-top, top], color="#cccccc", linestyle="dashed", linewidth=1, zorder=0)
    ax.text(
        split - 0.08,
        -top,
        "write side",
        ha="right",
        va="bottom",
        color="#999999",
        fontsize=theme.SMALL_FONT,
    )
    ax.text(
        split + 0.08,
        -top,
        "read side",
        ha="left",
        va="bottom",
        color="#999999",
        fontsize=theme.SMALL_FONT,
    )
    right = x - _COLUMN_GAP
    bottom = -top - 0.2
    if note:
        ax.text(
            right / 2,
            -top - 0.12,
            note,
            ha="center",
            va="top",
            fontsize=theme.SMALL_FONT,
            color="#333333",
        )
        bottom -= 0.3
    ax.set_xlim(-0.2, right + 0.2)
    ax.set_ylim(bottom, top + 0.45)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
