"""Pictures that follow a replay's cursor: what the player draws beside the state.

A replay player (``widgets.ReplayPlayer``) shows the events and the state at its cursor; a
*picture* draws the same moment: the flow graph of the steps so far, the value over versions
up to now, the saga with its current step, the streams with the current event, the two sides
of CQRS with the read model being updated. Every picture here draws **only what has happened
by the cursor**; what comes later is faint or absent, never counted in.

    player = ReplayPlayer(tracer, apply, {}, picture=FlowPicture(tracer))
    player = ReplayPlayer(events, step, initial, picture=ValuePicture("balance"))

A picture is any object with these three methods (the classes below are examples to copy):

- ``figsize(player) -> (width, height)`` in inches, the same at every cursor (so the
  picture keeps still while it changes);
- ``key(player)``: positions with equal keys share one drawing (the player caches them);
- ``draw(ax, player)``: draw the picture at ``player.position`` on a fresh matplotlib Axes
  covering the figure.

and, optionally, ``watch(position, state, event)``: the player calls it once per position
during its one fold at construction (the ``ValuePicture`` keeps one number per version that
way, instead of folding again).

``render_png(picture, player)`` draws one as PNG bytes on a private figure (no pyplot).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InvalidType
from ..trace import Tracer, TraceRecord

__all__ = [
    "FlowPicture",
    "HighlightPicture",
    "ValuePicture",
    "SagaPicture",
    "LanesPicture",
    "CQRSPicture",
    "render_png",
]


def render_png(picture: Any, player: Any, dpi: int = 80) -> bytes:
    """The picture at the player's cursor as PNG bytes (a private Figure: nothing shown)."""
    from io import BytesIO

    from matplotlib.figure import Figure

    figure = Figure(figsize=picture.figsize(player), dpi=dpi)
    picture.draw(figure.add_axes((0.0, 0.0, 1.0, 1.0)), player)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


class FlowPicture:
    """The flow graph of the trace steps *so far*: counts and outcomes up to the cursor.

    At position ``k`` it draws ``flow_graph(records[:k])`` with the k-th step's edge
    highlighted; nodes and edges that appear later are drawn faint (``draw_flow``'s
    ``ghost``), in the layout of the whole trace, so nothing jumps as the cursor moves.
    The player's events must be these same records (a player over a trace).
    """

    def __init__(self, trace: Tracer | list[TraceRecord], *, title: str | None = None) -> None:
        from .flow import flow_graph, trace_records

        self.records = trace_records(trace)
        self.whole = flow_graph(self.records)
        self.title = title

    def graph_at(self, position: int) -> Any:
        """The flow graph of the first ``position`` steps."""
        from .flow import flow_graph

        return flow_graph(self.records[:position])

    def figsize(self, player: Any) -> tuple[float, float]:
        from .flow import flow_figsize

        return flow_figsize(self.whole, ghost=self.whole, title=self.title)

    def key(self, player: Any) -> Any:
        return player.position

    def draw(self, ax: Any, player: Any) -> None:
        from .flow import draw_flow, edge_for

        position = player.position
        step = self.records[position - 1] if position else None
        draw_flow(
            self.graph_at(position),
            ax=ax,
            highlight=None if step is None else edge_for(step),
            ghost=self.whole,
            title=self.title,
        )


class HighlightPicture:
    """A fixed flow graph with the cursor's edge (or node) highlighted.

    For a graph that is not the player's own trace (say, the flow drawn from another run):
    ``edge_of(event)`` says what to highlight; by default a ``TraceRecord``'s own edge or an
    ``Event``'s event node. Something not in the graph is simply not highlighted.
    """

    def __init__(self, graph: Any, edge_of: Callable[[Any], Any] | None = None) -> None:
        from .flow import as_graph

        self.graph = as_graph(graph)
        self.edge_of = edge_of

    def highlight(self, player: Any) -> Any:
        from .flow import edge_for, node_id, resolve_highlight

        event = player.event
        if event is None:
            return None
        if self.edge_of is not None:
            wanted = self.edge_of(event)
        elif isinstance(event, TraceRecord):
            wanted = edge_for(event)
        elif hasattr(event, "type"):
            wanted = node_id("event", str(event.type))
        else:
            return None
        try:
            resolve_highlight(self.graph, wanted)
        except (KeyError, ValueError, TypeError):
            return None  # not in this graph: draw it plain rather than fail the player
        return wanted

    def figsize(self, player: Any) -> tuple[float, float]:
        from .flow import flow_figsize

        return flow_figsize(self.graph)

    def key(self, player: Any) -> Any:
        return repr(self.highlight(player))

    def draw(self, ax: Any, player: Any) -> None:
        from .flow import draw_flow

        draw_flow(self.graph, ax=ax, highlight=self.highlight(player))


class ValuePicture:
    """One number of the state over versions (``plot_state``), the future faint.

    ``key``: which number: a dict key or attribute name, or a function of the state.
    """

    def __init__(
        self, key: str | Callable[[Any], Any], *, label: str | None = None, title: str = ""
    ) -> None:
        self.pick = key
        self.label = label or (key if isinstance(key, str) else "value")
        self.title = title
        self.values: list[Any] = []

    def watch(self, position: int, state: Any, event: Any) -> None:
        from .state import value_of

        if position == 0:
            self.values = []
        self.values.append(value_of(state, self.pick))

    def figsize(self, player: Any) -> tuple[float, float]:
        return (6.4, 3.0)

    def key(self, player: Any) -> Any:
        return player.position

    def draw(self, ax: Any, player: Any) -> None:
        from .state import plot_state

        ax.set_position((0.13, 0.17, 0.83, 0.72))  # room for the axis labels
        plot_state(self.values, ax, self.label, upto=player.position, title=self.title or None)
        _fit_inside(ax)  # wide tick labels (-12000) would push the axis label off the picture


def _fit_inside(ax: Any, margin: float = 4.0) -> None:
    """Move the axes' edges in until its labels, ticks and title sit inside its figure."""
    from matplotlib.backends.backend_agg import RendererAgg

    figure = ax.figure
    width, height = figure.bbox.width, figure.bbox.height
    renderer = RendererAgg(int(width), int(height), figure.dpi)
    for _ in range(2):  # a second pass settles what the first one moved
        outer, inner = ax.get_tightbbox(renderer), ax.get_window_extent(renderer)
        left = max(inner.x0 + margin - outer.x0, inner.x0)
        bottom = max(inner.y0 + margin - outer.y0, inner.y0)
        right = min(inner.x1 - (outer.x1 - width + margin), inner.x1)
        top = min(inner.y1 - (outer.y1 - height + margin), inner.y1)
        ax.set_position(
            (left / width, bottom / height, (right - left) / width, (top - bottom) / height)
        )


class SagaPicture:
    """A saga drawn from its log at the cursor: steps so far, the current one outlined.

    The player's events are the saga's log (``store.read_stream("saga-<id>")``).
    Compensations appear as the log records them.
    """

    def figsize(self, player: Any) -> tuple[float, float]:
        from .saga import saga_at

        steps = len(saga_at(player.events).steps)
        return (max(6.0, 2.2 * steps + 0.6), 3.3)

    def key(self, player: Any) -> Any:
        return player.position

    def draw(self, ax: Any, player: Any) -> None:
        from .saga import draw_saga, saga_at

        so_far = saga_at(player.events, player.position)
        if not so_far.steps:  # before SagaStarted: the steps are not known yet
            so_far = saga_at(player.events)
            so_far = type(so_far)(so_far.saga_id, so_far.name, "not started", [], so_far.steps)
        draw_saga(so_far, ax, current=so_far.current)


class LanesPicture:
    """Streams and the global log as lanes (``draw_lanes``), the cursor's event marked."""

    def __init__(self, *, title: str | None = None) -> None:
        self.title = title

    def figsize(self, player: Any) -> tuple[float, float]:
        from .lanes import lanes_figsize

        return lanes_figsize(player.events)

    def key(self, player: Any) -> Any:
        return player.position

    def draw(self, ax: Any, player: Any) -> None:
        from .lanes import draw_lanes

        draw_lanes(player.events, ax, cursor=player.position, title=self.title)


class CQRSPicture:
    """The two sides of CQRS (``draw_cqrs``), lit where the cursor's event goes.

    The player's events are the store's log; the picture lights the command that records
    the event's type, the store, and each projection that handles it with its read model.
    """

    def __init__(
        self,
        commands: Mapping[str, Any],
        projections: Any,
        queries: Mapping[str, str],
    ) -> None:
        if not isinstance(commands, Mapping) or not isinstance(queries, Mapping):
            raise InvalidType("CQRSPicture: commands and queries must be dicts")
        from .cqrs_picture import projection_types

        self.commands = {name: list(types) for name, types in commands.items()}
        self.projections = projection_types(projections)  # read once: names and types
        self.queries = dict(queries)

    def figsize(self, player: Any) -> tuple[float, float]:
        from .cqrs_picture import cqrs_figsize

        return cqrs_figsize(self.commands, self.projections, self.queries)

    def key(self, player: Any) -> Any:
        return player.position

    def draw(self, ax: Any, player: Any) -> None:
        from .cqrs_picture import draw_cqrs, handled_by

        event = player.event
        if event is None:
            note = "no event read yet"
        else:
            readers = handled_by(self.projections, str(event.type))
            note = f"event {player.position} of {len(player)}: " + (
                f"updates {', '.join(readers)}" if readers else "no projection handles it"
            )
        draw_cqrs(self.commands, self.projections, self.queries, ax, event=event, note=note)
