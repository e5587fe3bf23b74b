"""The sequence diagram: who talked to whom, in what order.

One vertical lane per participant (in order of first appearance), time running down the page,
one row per trace step::

    OrderService        EmailService     InventoryService
         |  sends order.created  |                |
         |---- order.created --->|                |
         |---------------- order.created -------->X failed: KeyError 'sku'

A send is a dot on the sender's lane; a delivery is an arrow from sender to receiver, grey when
it went well, red dashed with an ``x`` when it failed, orange for a retry; a dead-lettered
delivery is an arrow from the receiver to a "dead letters" lane. A delivery whose listener did
more before it ended (emitted events, or ran later as a coroutine) is an arrow when it was
handed over ("dispatched") and a square (or an ``x``) on the receiver's lane when it ended, so
what it caused sits between the two. This is the picture people
draw on whiteboards when they explain an incident.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import InvalidValue
from ..trace import Tracer, TraceRecord
from . import theme
from .flow import DEAD_LETTERS, trace_records

__all__ = ["timeline"]

_ROW = 0.42  # inches per step
_LANE_MIN = 1.45  # inches between lanes, at least
_HEAD = 0.55  # room for the lane titles
_SEQ = 0.45  # room for the step numbers on the left


def _lanes(records: list[TraceRecord]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        seen.setdefault(record.source, None)
        if record.target is not None:
            seen.setdefault(record.target, None)
    if any(r.outcome == "dead_lettered" for r in records):
        seen.setdefault(DEAD_LETTERS, None)
    return list(seen)


def _short(text: str, width: int = 34) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _draw_ending(
    ax: Any, record: TraceRecord, lane: float, y: float, color: str, last: bool
) -> None:
    """How a delivery dispatched on an earlier row ended: a mark and a word on the target's lane."""
    failed = record.outcome == "failed"
    ax.plot([lane], [y], marker="X" if failed else "s", markersize=7, color=color, zorder=6)
    words = f"{record.event}: {record.outcome.replace('_', '-')}"
    if record.detail:
        words += f" ({record.detail})"
    ax.text(
        lane + (-0.12 if last else 0.12),
        y,
        _short(words, 40),
        ha="right" if last else "left",
        va="center",
        color=color,
        fontsize=theme.SMALL_FONT,
        style="italic",
    )


def timeline(
    trace: Tracer | Iterable[TraceRecord],
    ax: Any = None,
    *,
    max_steps: int = 40,
    title: str | None = None,
) -> Any:
    """Draw the trace as a swimlane / sequence diagram and return the matplotlib Axes.

    Shows the first ``max_steps`` steps (and says how many more there were).
    """
    from matplotlib.patches import FancyArrowPatch

    if max_steps < 1:
        raise InvalidValue(f"max_steps must be at least 1, not {max_steps}")
    records = trace_records(trace)
    shown = records[:max_steps]
    lanes = _lanes(shown)
    widths = [
        max(len(theme.wrap_label(n, 16).split("\n")[0]) * 0.085 + 0.5, _LANE_MIN) for n in lanes
    ]
    x: dict[str, float] = {}
    right = _SEQ
    for lane, width in zip(lanes, widths, strict=True):
        x[lane] = right + width / 2
        right += width
    rows = max(len(shown), 1) + (1 if len(records) > len(shown) else 0)
    top = _HEAD + (0.35 if title else 0.0)
    bottom = -rows * _ROW - 0.2
    if ax is None:
        ax = theme.new_axes(theme.round_size(max(right + 0.1, 3.0), top - bottom), fill=True)
    ax.set_axis_off()
    ax.set_xlim(0, max(right + 0.1, 3.0))
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    if title:
        ax.text(
            right / 2,
            top - 0.1,
            title,
            ha="center",
            va="top",
            fontsize=theme.FONT_SIZE + 1,
            fontweight="bold",
        )
    if not records:
        ax.text(
            right / 2 if lanes else 1.5,
            -_ROW,
            "empty trace: nothing happened yet",
            ha="center",
            va="center",
            color="#777777",
            fontsize=theme.FONT_SIZE,
        )
        return ax

    for lane in lanes:  # titles and lifelines
        fill = theme.NODE_FILL["dead_letter" if lane == DEAD_LETTERS else "producer"]
        ax.text(
            x[lane],
            _HEAD / 2,
            theme.wrap_label(lane, 16),
            ha="center",
            va="center",
            fontsize=theme.SMALL_FONT + 0.5,
            zorder=3,
            bbox={
                "boxstyle": "round,pad=0.35",
                "facecolor": fill,
                "edgecolor": theme.NODE_EDGE,
                "linewidth": 1.0,
            },
        )
        ax.plot(
            [x[lane], x[lane]],
            [0.05, bottom + 0.1],
            color="#bbbbbb",
            linewidth=1,
            linestyle=(0, (4, 3)),
            zorder=1,
            gid="guide",  # background: messages and their labels cross it
        )

    def arrow(start: float, end: float, y: float, color: str, linestyle: str) -> None:
        ax.add_patch(
            FancyArrowPatch(
                (start, y),
                (end, y),
                arrowstyle="-|>",
                mutation_scale=11,
                color=color,
                linestyle=linestyle,
                linewidth=1.5,
                shrinkA=0,
                shrinkB=1,
                zorder=4,
            )
        )

    in_flight: dict[tuple, int] = {}  # dispatched deliveries still waiting for their outcome
    for i, record in enumerate(shown):
        y = -(i + 0.6) * _ROW
        color, linestyle = theme.style_of(record.outcome)
        ax.text(
            _SEQ - 0.1,
            y,
            str(record.seq),
            ha="right",
            va="center",
            color="#888888",
            fontsize=theme.SMALL_FONT,
        )
        delivery = (record.source, record.event, record.target, record.event_id, record.attempt)
        if record.outcome == "dispatched":
            in_flight[delivery] = in_flight.get(delivery, 0) + 1
        elif in_flight.get(delivery):  # the end of a delivery drawn earlier: a mark on its lane
            in_flight[delivery] -= 1
            _draw_ending(ax, record, x[str(record.target)], y, color, lanes[-1] == record.target)
            continue
        source = x[record.source]
        if record.target is None:  # a send: a dot on the sender's lane
            ax.plot([source], [y], marker="o", markersize=6, color=color, zorder=4)
            words = f"{'emits' if record.outcome == 'sent' else record.outcome}: {record.event}"
            last = record.source == lanes[-1]
            ax.text(
                source + (-0.12 if last else 0.12),
                y,
                _short(words),
                ha="right" if last else "left",
                va="center",
                color=color,
                fontsize=theme.SMALL_FONT,
                style="italic",
            )
            continue
        start, end = source, x[record.target]
        if record.outcome == "dead_lettered":
            start, end = x[record.target], x[DEAD_LETTERS]
        if start == end:  # a participant sending to itself: a small hook
            end = start + 0.45
        arrow(start, end, y, color, linestyle)
        text = record.event
        if record.outcome not in ("delivered", "done", "dispatched"):
            text += f" ({record.outcome.replace('_', '-')}"
            text += f" #{record.attempt})" if record.attempt > 1 else ")"
        ax.text(
            (start + end) / 2,
            y + 0.03,
            _short(text),
            ha="center",
            va="bottom",
            color=color,
            fontsize=theme.SMALL_FONT,
            bbox={
                "boxstyle": "round,pad=0.08",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.8,
            },
            zorder=5,
        )
        if record.outcome == "failed":
            ax.plot([end], [y], marker="X", markersize=9, color=color, zorder=6)
            if record.detail:
                ax.text(
                    (start + end) / 2,
                    y - 0.04,
                    _short(record.detail, 40),
                    ha="center",
                    va="top",
                    color=color,
                    fontsize=theme.SMALL_FONT - 1,
                    style="italic",
                    zorder=5,
                )
    if len(records) > len(shown):
        ax.text(
            right / 2,
            -(len(shown) + 0.6) * _ROW,
            f"… and {len(records) - len(shown)} more steps (max_steps={max_steps})",
            ha="center",
            va="center",
            color="#777777",
            fontsize=theme.SMALL_FONT,
        )
    return ax
