"""Shared looks for every eda_kit picture: colours, line styles, label wrapping, new axes.

One place decides what "failed" looks like, so a red dashed arrow means the same thing in
the flow graph, the timeline and the replay player. Nothing here imports matplotlib at module
level except through :func:`new_axes`, which is called only when a drawing needs a figure.
"""

from __future__ import annotations

import math
from typing import Any

#: Fill colours of the boxes, by node kind (light, so black text stays readable).
NODE_FILL = {
    "producer": "#dbe9f6",
    "event": "#fff2cc",
    "consumer": "#d9ead3",
    "dead_letter": "#f4cccc",
    "service": "#dbe9f6",
}
NODE_EDGE = "#4d4d4d"
#: Column headings of the layered flow picture.
COLUMN_TITLE = {
    "producer": "producers",
    "event": "events / topics",
    "consumer": "consumers",
    "dead_letter": "dead letters",
}
KINDS = ("producer", "event", "consumer", "dead_letter")

#: How each outcome is drawn: colour and line style. Worst outcome on an edge wins.
OUTCOME_STYLE = {
    "sent": ("#555555", "solid"),
    "delivered": ("#555555", "solid"),
    "done": ("#555555", "solid"),
    "started": ("#555555", "solid"),
    "retried": ("#e69500", "solid"),
    "compensated": ("#7b3fa0", "solid"),
    "unhandled": ("#9e9e9e", "dotted"),
    "skipped": ("#b0b0b0", "dashed"),
    "dispatched": ("#555555", "solid"),
    "failed": ("#d62728", "dashed"),
    "dead_lettered": ("#d62728", "dashed"),
}
DEFAULT_STYLE = ("#555555", "solid")
#: From harmless to worst: the colour of an edge is that of its worst outcome.
SEVERITY = (
    "sent",
    "dispatched",
    "started",
    "done",
    "delivered",
    "skipped",
    "unhandled",
    "compensated",
    "retried",
    "failed",
    "dead_lettered",
)

HIGHLIGHT = "#0b5ed7"
#: How a node or edge that has not happened (yet) is drawn: faint grey, dashed.
GHOST_FILL = "#f7f7f7"
GHOST_EDGE = "#c4c4c4"
GHOST_TEXT = "#a8a8a8"
FONT_SIZE = 10
SMALL_FONT = 8.5


def worst_outcome(outcomes: dict[str, int]) -> str | None:
    """The most serious outcome with a non-zero count (``None`` when all are zero)."""
    present = [o for o, n in outcomes.items() if n]
    if not present:
        return None
    return max(present, key=lambda o: SEVERITY.index(o) if o in SEVERITY else 3)


def style_of(outcome: str | None) -> tuple[str, str]:
    """(colour, linestyle) for an outcome."""
    if outcome is None:
        return DEFAULT_STYLE
    return OUTCOME_STYLE.get(outcome, DEFAULT_STYLE)


def wrap_label(text: str, width: int = 18) -> str:
    """Break a long name over lines, preferring to break after '.', '_' or a space.

    ``InventoryService.on_order_created`` becomes two lines instead of one wide box.
    """
    lines: list[str] = []
    rest = text
    while len(rest) > width:
        cut = max(rest.rfind(ch, 0, width + 1) for ch in "._ ")
        cut = cut + 1 if cut > 0 else width
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    lines.append(rest)
    return "\n".join(lines)


def round_size(width: float, height: float) -> tuple[float, float]:
    """A figure size rounded up to tenths of an inch (at least 3 x 1.6).

    Keeps the figure's text repr short and stable: ``<Figure size 810x310 with 1 Axes>``.
    """
    return math.ceil(max(width, 3.0) * 10) / 10, math.ceil(max(height, 1.6) * 10) / 10


def new_axes(figsize: tuple[float, float], *, fill: bool = False) -> Any:
    """A fresh figure and axes via pyplot, so a notebook shows it inline exactly once.

    Used only when the caller passed no ``ax``. ``fill=True`` makes the axes cover the whole
    figure (for drawings measured in inches, with their own margins). Pass your own ``ax``
    (e.g. from ``matplotlib.figure.Figure().subplots()``) to keep pyplot out of it.
    """
    import matplotlib.pyplot as plt

    if fill:
        figure = plt.figure(figsize=figsize)
        return figure.add_axes((0.0, 0.0, 1.0, 1.0))
    _figure, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax
