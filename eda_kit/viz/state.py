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

__all__ = ["plot_state"]


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
    """
    from matplotlib.ticker import MaxNLocator

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
    # a step line: the value holds until the next event changes it (and after the last one)
    cut = len(versions) if upto is None else versions.index(upto) + 1
    if cut < len(versions):  # the future, faint: from the cursor's value on
        ax.step(
            [*versions[cut - 1 :], versions[-1] + 0.4],
            [*values[cut - 1 :], values[-1]],
            where="post",
            color=theme.GHOST_EDGE,
            linestyle="dashed",
            linewidth=1.5,
            zorder=1,
        )
        ax.plot(versions[cut:], values[cut:], "o", color=theme.GHOST_EDGE, markersize=5, zorder=2)
    solid_x = [*versions[:cut], versions[cut - 1] + (0.4 if cut == len(versions) else 0)]
    ax.step(
        solid_x,
        [*values[:cut], values[cut - 1]],
        where="post",
        color="#4d79a7",
        linewidth=2,
        zorder=2,
    )
    ax.plot(versions[:cut], values[:cut], "o", color="#4d79a7", markersize=6, zorder=3)
    if len(values) <= 30:
        previous = None
        for number, (version, value) in enumerate(zip(versions, values, strict=True)):
            # The step line arrives from the previous value: after a drop it comes down from
            # above, so the label goes below the point to stay clear of it.
            dropped = previous is not None and value < previous
            ax.annotate(
                f"{value:g}",
                (version, value),
                textcoords="offset points",
                xytext=(0, -8 if dropped else 7),
                va="top" if dropped else "bottom",
                ha="center",
                fontsize=theme.SMALL_FONT,
                color="#333333" if number < cut else theme.GHOST_TEXT,
            )
            previous = value
    if mark is not None:
        value = values[versions.index(mark)]
        ax.axvline(mark, color=theme.HIGHLIGHT, linestyle=":", linewidth=1.5, zorder=1)
        ax.plot([mark], [value], "o", color=theme.HIGHLIGHT, markersize=10, zorder=4)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("version (events applied)")
    ax.set_ylabel(label)
    low, high = min(values), max(values)
    pad = (high - low) * 0.15 or abs(high) * 0.15 or 1
    ax.set_ylim(low - pad, high + 1.4 * pad)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#eeeeee")
    if title:
        ax.set_title(title, fontsize=theme.FONT_SIZE + 1)
    return ax
