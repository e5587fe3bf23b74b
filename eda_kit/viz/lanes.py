"""Streams and the global log as lanes: one row per stream, one column per log position.

An event store keeps two orders at once. Each stream has its own versions (``order-A1`` v1,
v2, v3...), and the store's global log numbers every event across streams (positions 1, 2,
3...). Drawn as swim lanes, both are visible in one picture::

    global log   [1 OrderPlaced] [2 OrderPlaced] [3 ItemAdded] [4 OrderPaid] ...
    order-A1     [v1]                            [v2]          [v3]
    order-B2                     [v1]

    viz.draw_lanes(store.read_all(), cursor=4)

Column *n* is log position *n*; the stream box under it shows the event's version in its
stream, joined to the log box by a thin line: the same event, seen two ways. With ``cursor``,
the event at that position is highlighted and the later ones are drawn faint (they have not
happened yet at that point of a replay). Long logs show a window of positions around the
cursor, so the boxes stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import InvalidType, InvalidValue
from . import theme

__all__ = ["draw_lanes", "lanes_figsize"]

#: At most this many log positions are drawn; a longer log shows a window around the cursor.
WINDOW = 16
_PITCH = 1.15  # inches between log positions
_ROW = 0.62  # inches between lanes
_LABEL = 1.3  # inches for the lane names on the left
_BOX_W, _BOX_H = 1.02, 0.42


def _window(count: int, cursor: int | None) -> range:
    if count <= WINDOW:
        return range(1, count + 1)
    centre = cursor or 1
    first = min(max(centre - WINDOW // 2, 1), count - WINDOW + 1)
    return range(first, first + WINDOW)


def _streams(events: list[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for event in events:
        seen.setdefault(event.stream_id, None)
    return list(seen)


def lanes_figsize(events: Iterable[Any]) -> tuple[float, float]:
    """The figure size (inches) of ``draw_lanes(events)``, the same at every cursor."""
    events = list(events)
    columns = min(len(events), WINDOW) or 1
    return theme.round_size(
        _LABEL + columns * _PITCH + 0.3, (len(_streams(events)) + 1) * _ROW + 1.0
    )


def draw_lanes(
    events: Iterable[Any], ax: Any = None, cursor: int | None = None, *, title: str | None = None
) -> Any:
    """Draw recorded events as lanes (the global log on top, one lane per stream).

    - ``events``: recorded events (``store.read_all()``): each has ``stream_id``,
      ``version`` and ``position``, in log order.
    - ``cursor``: a log position to highlight (0 for "before any event"); later positions are
      drawn faint.
    """
    from matplotlib.patches import FancyBboxPatch

    events = list(events)
    for index, event in enumerate(events):
        if not all(hasattr(event, name) for name in ("stream_id", "version", "position")):
            raise InvalidType(
                f"draw_lanes: item {index} is a {type(event).__name__}, not a recorded event "
                "(with stream_id, version and position: store.read_all() gives them)"
            )
    if cursor is not None and not 0 <= cursor <= len(events):
        raise InvalidValue(f"cursor={cursor} is not between 0 and {len(events)}")
    if ax is None:
        ax = theme.new_axes(lanes_figsize(events), fill=True)
    streams = _streams(events)
    lane_y = {"global log": 0.0} | {s: -(i + 1) * _ROW for i, s in enumerate(streams)}
    shown = _window(len(events), cursor)
    x_of = {number: _LABEL + (i + 0.5) * _PITCH for i, number in enumerate(shown)}

    for name, y in lane_y.items():
        ax.text(
            _LABEL - 0.15,
            y,
            theme.wrap_label(name, 16),
            ha="right",
            va="center",
            fontsize=theme.FONT_SIZE,
            fontweight="bold" if name == "global log" else "normal",
        )
        ax.plot(
            [_LABEL - 0.05, _LABEL + len(shown) * _PITCH],
            [y, y],
            color="#dddddd",
            linewidth=1,
            zorder=0,  # behind the boxes: a lane is background, not a line to read
            gid="guide",
        )

    for number in shown:
        event = events[number - 1]
        x = x_of[number]
        current = cursor is not None and number == cursor
        future = cursor is not None and number > cursor
        edge = theme.HIGHLIGHT if current else theme.GHOST_EDGE if future else theme.NODE_EDGE
        ink = theme.GHOST_TEXT if future else "#222222"
        width = 2.6 if current else 1.0
        stream_y = lane_y[event.stream_id]
        ax.plot(
            [x, x],
            [-_BOX_H / 2, stream_y + _BOX_H / 2],
            color=edge,
            linewidth=width * 0.6,
            linestyle="dotted" if future else "solid",
            zorder=1,
        )
        for y, text, fill in (
            (0.0, f"{number}: {event.type}", theme.NODE_FILL["event"]),
            (stream_y, f"v{event.version}", theme.NODE_FILL["producer"]),
        ):
            ax.add_patch(
                FancyBboxPatch(
                    (x - _BOX_W / 2, y - _BOX_H / 2),
                    _BOX_W,
                    _BOX_H,
                    boxstyle="round,pad=0.02,rounding_size=0.08",
                    facecolor=theme.GHOST_FILL if future else fill,
                    edgecolor=edge,
                    linewidth=width,
                    linestyle="dashed" if future else "solid",
                    zorder=2,
                )
            )
            ax.text(
                x,
                y,
                _fit(text, 15),
                ha="center",
                va="center",
                fontsize=theme.SMALL_FONT,
                color=ink,
                zorder=3,
                fontweight="bold" if current else "normal",
            )
    if shown and shown[0] > 1:
        ax.text(
            _LABEL - 0.05,
            _ROW * 0.62,
            f"… {shown[0] - 1} earlier",
            fontsize=theme.SMALL_FONT,
            color="#777777",
            ha="left",
            va="center",
        )
    if shown and shown[-1] < len(events):
        ax.text(
            _LABEL + len(shown) * _PITCH,
            _ROW * 0.62,
            f"{len(events) - shown[-1]} later …",
            fontsize=theme.SMALL_FONT,
            color="#777777",
            ha="right",
            va="center",
        )
    where = (
        ""
        if cursor is None
        else " (before any event)"
        if cursor == 0
        else f" (at position {cursor})"
    )
    ax.text(
        _LABEL + len(shown) * _PITCH / 2,
        _ROW * 0.95,
        (title or "streams and the global log") + where,
        ha="center",
        va="bottom",
        fontsize=theme.FONT_SIZE + 1,
    )
    ax.set_xlim(0, _LABEL + max(len(shown), 1) * _PITCH + 0.3)
    ax.set_ylim(-(len(streams) + 0.6) * _ROW, _ROW * 1.6)
    ax.set_axis_off()
    return ax


def _fit(text: str, width: int) -> str:
    """Short enough for a box: the start of the text, then an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"
