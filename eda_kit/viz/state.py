"""A value over versions: the balance after each event, the stock after each order.

Event sourcing rebuilds state by folding events; this picture shows that fold as a line, one
point per version (version 0 is the state before any event), so "time travel" (the state at
version 2) is something you can point at::

    viz.plot_state([0, 500, 1000, 800], label="balance", mark=2)

In a replay, ``upto=n`` draws the versions after ``n`` faint (they have not happened yet at
that point) and marks version ``n``: the replay player's picture for a value over versions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

from ..errors import InvalidType, InvalidValue
from . import theme

__all__ = ["plot_state", "short"]


def value_of(state: Any, key: str | Callable[[Any], Any] | None) -> Any:
    """The number to plot from one state: the state itself, a key, an attribute or key(state)."""
    if key is None:
        return state
    if callable(key):
        return key(state)
    if isinstance(state, Mapping):
        return state[key]
    return getattr(state, key)


def plot_state(
    states: Sequence[Any] | Mapping[int, Any],
    ax: Any = None,
    label: str = "value",
    *,
    key: str | Callable[[Any], Any] | None = None,
    mark: int | None = None,
    upto: int | None = None,
    title: str | None = None,
) -> Any:
    """Plot a value after each version and return the matplotlib Axes.

    - ``states``: the value at versions 0, 1, 2, ... (a list), or ``{version: value}``.
    - ``key``: when the states are dicts or objects, which number to plot: a key or attribute
      name (``key="balance"``) or a function (``key=lambda s: s["balance"]``).
    - ``mark``: a version to point at (drawn as a highlighted point and a dotted line).
    - ``upto``: the replay's cursor: versions after it are drawn faint, and it is marked.

    Each point with room for it is labelled with its value (``short``: 12.5k, 1.62M), on the
    side its line does not come from; a crowded axis leaves the values to the y axis.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if isinstance(states, Mapping):
        versions = sorted(states)
        raw = [states[v] for v in versions]
    else:
        raw = list(states)
        versions = list(range(len(raw)))
    if not raw:
        raise InvalidValue("plot_state needs at least one state (version 0, before any event)")
    values: list[float] = []
    for version, state in zip(versions, raw, strict=True):
        value = value_of(state, key)
        if isinstance(value, bool) or not isinstance(value, Real):
            raise InvalidType(
                f"plot_state: the value at version {version} is {value!r} "
                f"({type(value).__name__}), not a number; pass key= to pick one"
            )
        values.append(float(value))
    if upto is not None:
        if upto not in versions:
            raise InvalidValue(
                f"upto={upto!r} is not one of the versions {versions[0]}..{versions[-1]}"
            )
        mark = upto if mark is None else mark
    if mark is not None and mark not in versions:
        raise InvalidValue(
            f"mark={mark!r} is not one of the versions {versions[0]}..{versions[-1]}"
        )

    if ax is None:
        ax = theme.new_axes((6.4, 3.0))
    # A step line: the value holds until the next event changes it (and after the last one).
    # Drawn as its own corners (not drawstyle="steps-post"), so the line measured is the line
    # seen. Version n's point has the line leaving it to the right; it arrives from below
    # after a rise and from above after a drop.
    cut = len(versions) if upto is None else versions.index(upto) + 1
    if cut < len(versions):  # the future, faint: from the cursor's value on
        ax.plot(
            *_stepped(versions[cut - 1 :], values[cut - 1 :], versions[-1] + 0.4),
            color=theme.GHOST_EDGE,
            linestyle="dashed",
            linewidth=1.5,
            zorder=1,
        )
        ax.plot(versions[cut:], values[cut:], "o", color=theme.GHOST_EDGE, markersize=5, zorder=2)
    end = versions[cut - 1] + (0.4 if cut == len(versions) else 0)
    ax.plot(*_stepped(versions[:cut], values[:cut], end), color="#4d79a7", linewidth=2, zorder=2)
    ax.plot(versions[:cut], values[:cut], "o", color="#4d79a7", markersize=6, zorder=3)

    low, high = min(values), max(values)
    pad = (high - low) * 0.15 or abs(high) * 0.15 or 1
    # room at both ends for half a value label, however few points per inch there are
    half = _label_width(values) / 2 + 3
    width_points = ax.get_position().width * ax.figure.get_figwidth() * 72
    left = right = 0.6
    for _ in range(3):
        per_version = width_points / (versions[-1] - versions[0] + left + right)
        left, right = max(0.5, half / per_version), max(0.7, half / per_version)
    ax.set_xlim(versions[0] - left, versions[-1] + right)
    ax.set_ylim(low - 1.6 * pad, high + 2.0 * pad)  # room for a label under the lowest point
    marked = versions.index(mark) if mark is not None else None
    for index in _labelled(ax, versions, values):
        version, value = versions[index], values[index]
        # After a drop the line comes down into the point from above: label below it.
        dropped = index > 0 and value < values[index - 1]
        ax.annotate(
            short(value),
            (version, value),
            textcoords="offset points",
            xytext=(0, -9 if dropped else 9),
            va="top" if dropped else "bottom",
            ha="center",
            fontsize=theme.SMALL_FONT,
            color="#333333" if index < cut else theme.GHOST_TEXT,
        )
    if marked is not None:
        value = values[marked]
        # a pin from the point to the edge, on the side away from its label
        dropped = marked > 0 and value < values[marked - 1]
        ax.plot(
            [mark, mark],
            [value, high + 2.0 * pad] if dropped else [low - 1.6 * pad, value],
            color=theme.HIGHLIGHT,
            linestyle=":",
            linewidth=1.5,
            zorder=1,
        )
        ax.plot([mark], [value], "o", color=theme.HIGHLIGHT, markersize=10, zorder=4)
    # Ticks only inside the limits: a tick outside them is not drawn, but would still be a
    # label somewhere (measured, and in the way).
    x_lo, x_hi = ax.get_xlim()
    x_ticks = MaxNLocator(integer=True).tick_values(x_lo, x_hi)
    ax.set_xticks([t for t in x_ticks if x_lo <= t <= x_hi])
    y_lo, y_hi = ax.get_ylim()
    y_ticks = MaxNLocator(nbins=5).tick_values(y_lo, y_hi)
    ax.set_yticks([t for t in y_ticks if y_lo <= t <= y_hi])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda tick, _: short(tick)))  # no "1e6" offset
    ax.set_xlabel("version (events applied)")
    ax.set_ylabel(label)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    if title:
        ax.set_title(title, fontsize=theme.FONT_SIZE + 1)
    return ax


def _stepped(xs: list[int], ys: list[float], end: float) -> tuple[list[float], list[float]]:
    """The corners of a step line through (xs, ys) that holds each value until the next x."""
    corners_x: list[float] = [xs[0]]
    corners_y: list[float] = [ys[0]]
    for x, y in zip(xs[1:], ys[1:], strict=True):
        corners_x += [x, x]
        corners_y += [corners_y[-1], y]
    corners_x.append(end)
    corners_y.append(ys[-1])
    return corners_x, corners_y


def short(value: float) -> str:
    """A value label of at most about six characters: 42, 1250, 0.1235, 12.5k, 1.62M."""
    rounded = float(f"{value:.3g}")  # 999999 is "1M", not "1e+03k"
    for at_least, size, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(rounded) >= at_least:
            return f"{rounded / size:.3g}{suffix}"
    return f"{value:.4g}"


def _label_width(values: list[float]) -> float:
    """The widest value label, in points (estimated from its characters; a little wide)."""
    return max(len(short(value)) for value in values) * theme.SMALL_FONT * 0.66 + 6


def _labelled(ax: Any, versions: list[int], values: list[float]) -> list[int]:
    """The points with room for a value label: no other point, riser or label within a label's
    width of them (so on a crowded axis, none: the y axis tells the values)."""
    figure = ax.figure
    width_points = ax.get_position().width * figure.get_figwidth() * 72
    low, high = ax.get_xlim()
    per_version = width_points / (high - low)  # points per version along the axis
    widest = _label_width(values)
    far = float("inf")
    room = []
    for index, version in enumerate(versions):
        before = version - versions[index - 1] if index > 0 else far
        after = versions[index + 1] - version if index + 1 < len(versions) else far
        if min(before, after) * per_version >= widest:
            room.append(index)
    return room
