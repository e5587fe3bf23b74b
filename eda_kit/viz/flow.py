"""The flow picture: who sends which events, and who receives them.

A trace is a list of steps ("OrderService sent order.created", "EmailService got it").
:func:`flow_graph` folds those steps into a graph, and :func:`draw_flow` draws that graph in
four columns, left to right, the way people draw it on a whiteboard::

    producers  ->  events / topics  ->  consumers  ->  dead letters

How a trace becomes a graph (the trace conventions of ``eda_kit.trace``):

- a ``"sent"`` (or ``"unhandled"``) step, target ``None``: edge producer -> event;
- a delivery step (``"delivered"``, ``"failed"``, ``"retried"``, ``"compensated"``, ...):
  edge event -> consumer;
- a ``"dead_lettered"`` step: edge consumer -> the dead-letter node.

Every step lands on exactly one edge (:func:`edge_for`), which is how the replay player
knows which arrow to light up.

Node ids are the kind and the name joined by a colon: ``"producer:OrderService"``,
``"event:order.created"``, ``"consumer:EmailService"``, ``"dead_letter:dead letters"``. So a
producer and an event may share a name without clashing. Each node also has a ``label`` (the
name as drawn) and a ``kind``; :func:`find_node` finds a node by its label. A service that both
listens and emits appears twice: once as a consumer (what it hears) and once as a producer
(what it says). Topics of the bus are ``"event"`` nodes too: a topic *is* the event's name.

Each edge carries ``count`` (how many steps landed on it), one integer per outcome
(``sent``, ``delivered``, ``failed``, ``retried``, ``dead_lettered``, ``compensated``,
``unhandled``), an ``outcomes`` dict with every outcome seen (also the saga's ``started`` and
``done``), ``via`` (the subscription patterns that routed it, sorted), ``events`` (for
dead-letter edges: which events were parked) and ``first_seq`` / ``last_seq``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from ..errors import InvalidType, InvalidValue, NodeNotFound
from ..trace import Tracer, TraceRecord
from . import theme

__all__ = [
    "flow_graph",
    "draw_flow",
    "flow_layout",
    "flow_figsize",
    "node_id",
    "find_node",
    "edge_for",
]

#: Outcomes every edge has a counter for (zero when it never happened).
EDGE_OUTCOMES = (
    "sent",
    "delivered",
    "failed",
    "retried",
    "dead_lettered",
    "compensated",
    "unhandled",
    "skipped",
)
#: Outcomes of a send (target None): they belong on the producer -> event edge.
SEND_OUTCOMES = ("sent", "unhandled")
DEAD_LETTERS = "dead letters"
#: What an edge label calls each troublesome outcome.
_PROBLEM_WORDS = {
    "failed": "failed",
    "retried": "retried",
    "dead_lettered": "dead-lettered",
    "compensated": "compensated",
    "unhandled": "unhandled",
    "skipped": "skipped",
}
_QUIET = ("sent", "delivered", "started", "done")


def node_id(kind: str, name: str) -> str:
    """The id of a node in a flow graph: ``node_id("producer", "Shop") == "producer:Shop"``."""
    if kind not in theme.KINDS:
        raise InvalidValue(f"unknown node kind {kind!r}; expected one of {list(theme.KINDS)}")
    return f"{kind}:{name}"


def edge_for(record: TraceRecord) -> tuple[str, str]:
    """The edge of the flow graph that one trace step belongs to."""
    if record.target is None:
        return node_id("producer", record.source), node_id("event", record.event)
    if record.outcome == "dead_lettered":
        return node_id("consumer", record.target), node_id("dead_letter", DEAD_LETTERS)
    return node_id("event", record.event), node_id("consumer", record.target)


def trace_records(trace: Tracer | Iterable[TraceRecord]) -> list[TraceRecord]:
    """The steps of a Tracer or of a list of TraceRecords, checked."""
    records = trace.records if isinstance(trace, Tracer) else list(trace)
    for i, record in enumerate(records):
        if not isinstance(record, TraceRecord):
            raise InvalidType(
                f"trace item {i} is a {type(record).__name__}, not a TraceRecord "
                "(pass a Tracer or a list of its records)"
            )
    return records


def flow_graph(trace: Tracer | Iterable[TraceRecord]) -> nx.DiGraph:
    """Fold a trace into a directed graph of producers, events, consumers and dead letters.

    Same trace, same graph: nodes and edges are added in the order they first appear.
    """
    graph = nx.DiGraph()

    def add_node(kind: str, name: str, seq: int) -> str:
        nid = node_id(kind, name)
        if nid not in graph:
            graph.add_node(nid, kind=kind, label=name, first_seq=seq)
        return nid

    def add_edge(u: str, v: str, seq: int) -> dict[str, Any]:
        if not graph.has_edge(u, v):
            graph.add_edge(
                u,
                v,
                count=0,
                **dict.fromkeys(EDGE_OUTCOMES, 0),
                outcomes={},
                via=[],
                events={},
                first_seq=seq,
                last_seq=seq,
            )
        return graph.edges[u, v]

    for record in trace_records(trace):
        seq = record.seq
        producer = add_node("producer", record.source, seq)
        event = add_node("event", record.event, seq)
        sent = add_edge(producer, event, seq)  # a delivery implies its send, even untraced
        if record.target is None:
            data = sent
        elif record.outcome == "dead_lettered":
            consumer = add_node("consumer", record.target, seq)
            add_edge(event, consumer, seq)
            data = add_edge(consumer, add_node("dead_letter", DEAD_LETTERS, seq), seq)
        else:
            data = add_edge(event, add_node("consumer", record.target, seq), seq)
        data["last_seq"] = seq
        if record.outcome == "dispatched":
            continue  # handed over, still running: its outcome is a later step
        data["count"] += 1
        data["outcomes"][record.outcome] = data["outcomes"].get(record.outcome, 0) + 1
        if record.outcome in EDGE_OUTCOMES:
            data[record.outcome] += 1
        if record.via is not None and record.via not in data["via"]:
            data["via"] = sorted([*data["via"], record.via])
        if record.outcome == "dead_lettered":
            data["events"][record.event] = data["events"].get(record.event, 0) + 1
    return graph


def find_node(graph: nx.DiGraph, label: str, kind: str | None = None) -> str:
    """The id of the node drawn as ``label`` (narrowed to ``kind`` when given).

    Raises ``KeyError`` when no node has that label, and ``ValueError`` when several do
    (a producer and an event named alike): then pass ``kind=``.
    """
    if kind is not None and kind not in theme.KINDS:
        raise InvalidValue(f"unknown node kind {kind!r}; expected one of {list(theme.KINDS)}")
    matches = [
        n
        for n, d in graph.nodes(data=True)
        if d.get("label") == label and (kind is None or d.get("kind") == kind)
    ]
    if not matches:
        where = f" of kind {kind!r}" if kind else ""
        raise NodeNotFound(f"no node{where} labelled {label!r} in the graph")
    if len(matches) > 1:
        raise InvalidValue(
            f"label {label!r} names {len(matches)} nodes ({', '.join(map(repr, matches))}); "
            "pass kind='producer', 'event', 'consumer' or 'dead_letter'"
        )
    return matches[0]


def as_graph(graph_or_trace: Any) -> nx.DiGraph:
    if isinstance(graph_or_trace, nx.DiGraph):
        for node, data in graph_or_trace.nodes(data=True):
            if data.get("kind") not in theme.KINDS:
                raise InvalidValue(
                    f"node {node!r} has kind {data.get('kind')!r}; draw_flow draws graphs made "
                    "by flow_graph (node kinds producer, event, consumer, dead_letter)"
                )
        return _with_defaults(graph_or_trace)
    if isinstance(graph_or_trace, (Tracer, list, tuple)):
        return flow_graph(graph_or_trace)
    raise InvalidType(
        f"draw_flow needs a flow graph, a Tracer or a list of TraceRecords, "
        f"not {type(graph_or_trace).__name__}"
    )


def _with_defaults(graph: nx.DiGraph) -> nx.DiGraph:
    """A hand-built graph (kinds only) gets what flow_graph would have given it."""
    nodes_ok = all("label" in d and "first_seq" in d for _, d in graph.nodes(data=True))
    edges_ok = all({"count", "outcomes", "via"} <= d.keys() for *_, d in graph.edges(data=True))
    if nodes_ok and edges_ok:
        return graph
    filled = graph.copy()
    for i, (node, data) in enumerate(filled.nodes(data=True), start=1):
        data.setdefault("label", str(node))
        data.setdefault("first_seq", i)
    for *_, data in filled.edges(data=True):
        data.setdefault("count", 0)
        data.setdefault("outcomes", {})
        data.setdefault("via", [])
    return filled


#: Layout measures, in inches at the default figure size (boxes are sized by their text).
_COLUMN_GAP = 1.4
_ROW_GAP = 0.34
_MARGIN = 0.25
_HEADER = 0.4
_FOOTER = 0.4


def _box_size(label: str) -> tuple[float, float]:
    """Width and height (inches) of a node's box, estimated from its wrapped label."""
    lines = theme.wrap_label(label).split("\n")
    pad = 2 * 0.45 * theme.FONT_SIZE / 72
    width = max(len(line) for line in lines) * 0.6 * theme.FONT_SIZE / 72 + pad
    return width, len(lines) * 1.25 * theme.FONT_SIZE / 72 + pad


def _pack(desired: list[float], pitch: float) -> list[float]:
    """Rows as close as possible to ``desired`` (top to bottom), at least ``pitch`` apart."""
    placed: list[float] = []
    for y in desired:
        placed.append(min(y, placed[-1] - pitch) if placed else y)
    shift = (sum(desired) - sum(placed)) / len(placed) if placed else 0.0
    return [y + shift for y in placed]


def flow_layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Positions (in inches) for the layered drawing: one column per kind, one row per node.

    Deterministic, with no randomness at all: events are grouped by their first producer and
    kept in the order they first happened; producers, consumers and dead letters sit level
    with the neighbours they connect to, which keeps arrows short and crossings few.
    """
    data = graph.nodes
    kinds = [k for k in theme.KINDS if any(d["kind"] == k for _, d in data(data=True))]
    column = {k: [n for n, d in data(data=True) if d["kind"] == k] for k in kinds}
    sizes = {n: _box_size(str(d["label"])) for n, d in data(data=True)}
    pitch = max((h for _, h in sizes.values()), default=0.0) + _ROW_GAP
    rows: dict[str, float] = {}

    def first_producer_seq(event: str) -> int:
        producers = [data[p]["first_seq"] for p in graph.predecessors(event)]
        return min(producers, default=data[event]["first_seq"])

    def stack(kind: str) -> None:  # evenly, centred on 0, in the current order
        nodes = column[kind]
        for i, node in enumerate(nodes):
            rows[node] = ((len(nodes) - 1) / 2 - i) * pitch

    def level_with(kind: str, neighbours: Any) -> None:
        def desired(node: str) -> float:
            ys = [rows[m] for m in neighbours(node) if m in rows]
            return sum(ys) / len(ys) if ys else 0.0

        nodes = sorted(column[kind], key=lambda n: (-desired(n), data[n]["first_seq"]))
        column[kind] = nodes
        rows.update(zip(nodes, _pack([desired(n) for n in nodes], pitch), strict=True))

    if "event" in column:
        column["event"].sort(key=lambda n: (first_producer_seq(n), data[n]["first_seq"]))
        stack("event")
    if "producer" in column:
        level_with("producer", graph.successors)
    if "consumer" in column:
        level_with("consumer", graph.predecessors)
    if "dead_letter" in column:
        level_with("dead_letter", graph.predecessors)

    x: dict[str, float] = {}
    right = 0.0
    for kind in kinds:
        half = max(sizes[n][0] for n in column[kind]) / 2
        x[kind] = right + half if x else 0.0
        right = x[kind] + half + _COLUMN_GAP
    return {n: (x[data[n]["kind"]], rows[n]) for n in graph.nodes}


def flow_figsize(graph: Any, *, ghost: Any = None) -> tuple[float, float]:
    """The natural figure size (inches) of ``draw_flow(graph, ghost=ghost)``: text at its size.

    With a ``ghost``, the size of the whole picture, ghosts included: the same for every
    prefix of a trace, so a replay's picture keeps its size as the cursor moves.
    """
    whole = with_ghost(as_graph(graph), None if ghost is None else as_graph(ghost))
    left, right, bottom, top = _extent(whole, flow_layout(whole))
    return theme.round_size(right - left, top - bottom)


def with_ghost(graph: nx.DiGraph, ghost: nx.DiGraph | None) -> nx.DiGraph:
    """``graph`` plus every node and edge of ``ghost`` it lacks, those marked ``ghost=True``.

    Nodes come in the ghost's order (the order of the whole trace), so the layout of the union
    is the layout of the ghost: the same for every prefix of a trace. The graph's own counts
    win on the nodes and edges it has.
    """
    if ghost is None:
        return graph
    whole = nx.DiGraph()
    for node, data in ghost.nodes(data=True):
        whole.add_node(node, **{**data, "ghost": node not in graph})
    for node, data in graph.nodes(data=True):
        if node in whole:  # keep the ghost's first_seq: the layout must not move
            whole.nodes[node].update({**data, "first_seq": whole.nodes[node]["first_seq"]})
            whole.nodes[node]["ghost"] = False
        else:
            whole.add_node(node, **data, ghost=False)
    for u, v, data in ghost.edges(data=True):
        whole.add_edge(u, v, **{**data, "ghost": not graph.has_edge(u, v)})
    for u, v, data in graph.edges(data=True):
        whole.add_edge(u, v, **data, ghost=False)
    return whole


def _extent(graph: nx.DiGraph, pos: dict[str, tuple[float, float]]) -> tuple[float, ...]:
    """left, right, bottom, top of the drawing (inches), margins included."""
    if not pos:
        return -1.5, 1.5, -0.8, 0.8
    half_w = {n: _box_size(str(graph.nodes[n]["label"]))[0] / 2 for n in pos}
    half_h = {n: _box_size(str(graph.nodes[n]["label"]))[1] / 2 for n in pos}
    return (
        min(x - half_w[n] for n, (x, _) in pos.items()) - _MARGIN,
        max(x + half_w[n] for n, (x, _) in pos.items()) + _MARGIN,
        min(y - half_h[n] for n, (_, y) in pos.items()) - _FOOTER,
        max(y + half_h[n] for n, (_, y) in pos.items()) + _HEADER,
    )


def _edge_label(data: dict[str, Any]) -> str:
    """ "×3" when all went well; "2 ok, 1 failed" when not."""
    quiet = sum(data["outcomes"].get(o, 0) for o in _QUIET)
    problems = [
        f"{data['outcomes'][o]} {word}"
        for o, word in _PROBLEM_WORDS.items()
        if data["outcomes"].get(o)
    ]
    problems += [
        f"{n} {o}"
        for o, n in data["outcomes"].items()  # a component's own words
        if o not in _QUIET and o not in _PROBLEM_WORDS
    ]
    if not problems:
        return f"×{quiet}" if quiet else ""
    return ", ".join([f"{quiet} ok"] * bool(quiet) + problems)


def _only_skipped(graph: nx.DiGraph, node: str) -> bool:
    """A listener that never ran: every delivery to it was skipped (drawn as a ghost)."""
    incoming = [d["outcomes"] for *_, d in graph.in_edges(node, data=True)]
    return bool(incoming) and all(set(o) == {"skipped"} for o in incoming)


def resolve_highlight(graph: nx.DiGraph, highlight: Any) -> tuple[set[str], set[tuple]]:
    """Turn ``highlight`` (node id, label, edge, TraceRecord) into nodes and edges to mark."""
    if highlight is None:
        return set(), set()

    def node(ref: Any) -> str:
        if ref in graph:
            return ref
        if isinstance(ref, str):
            return find_node(graph, ref)
        raise InvalidValue(f"highlight: {ref!r} is not a node of this graph")

    if isinstance(highlight, TraceRecord):
        highlight = edge_for(highlight)
    if isinstance(highlight, tuple) and len(highlight) == 2:
        u, v = node(highlight[0]), node(highlight[1])
        if not graph.has_edge(u, v):
            raise InvalidValue(f"highlight: the graph has no edge {u!r} -> {v!r}")
        return {u, v}, {(u, v)}
    if isinstance(highlight, str):
        return {node(highlight)}, set()
    raise InvalidType(
        "highlight must be a node id or label, an edge (u, v) or a TraceRecord, "
        f"not {type(highlight).__name__}"
    )


def draw_flow(
    graph_or_trace: Any,
    ax: Any = None,
    highlight: Any = None,
    *,
    title: str | None = None,
    show_via: bool = False,
    ghost: Any = None,
) -> Any:
    """Draw a flow graph (or a trace) in layered columns and return the matplotlib Axes.

    - ``ax``: draw there; when ``None``, a new figure at the graph's natural size
      (:func:`flow_figsize`), shown once inline in a notebook.
    - ``highlight``: a node (id such as ``"consumer:EmailService"``, or its label), an edge
      ``(u, v)`` or a ``TraceRecord`` (its edge): drawn thick and blue.
    - Arrows: grey = fine; red dashed = failed or dead-lettered; orange = retried;
      dotted grey = nobody listened. Labels count the steps: ``×3``, ``2 ok, 1 failed``.
    - ``show_via``: also name the subscription pattern that routed a delivery, when it is not
      the event's own name (``×2 via order.*``): how topic wildcards matched.
    - ``ghost``: a bigger flow graph (or trace), usually the whole trace while ``graph`` is
      its first k steps: what ``graph`` lacks of it is drawn faint, and the layout is that of
      the whole, so nothing moves as a replay's cursor moves (``flow_figsize(graph,
      ghost=...)`` gives the figure size, the same at every k).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    drawn = as_graph(graph_or_trace)
    marked_nodes, marked_edges = resolve_highlight(drawn, highlight)
    graph = with_ghost(drawn, None if ghost is None else as_graph(ghost))
    pos = flow_layout(graph)
    left, right, bottom, top = _extent(graph, pos)
    if title:
        top += 0.35
    if ax is None:
        width, height = theme.round_size(right - left, top - bottom)
        ax = theme.new_axes((width, height), fill=True)
    ax.set_axis_off()
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    if title:
        ax.text(
            (left + right) / 2,
            top - 0.12,
            title,
            ha="center",
            va="top",
            fontsize=theme.FONT_SIZE + 1,
            fontweight="bold",
        )
    if graph.number_of_nodes() == 0:
        ax.text(
            0,
            0,
            "empty trace: nothing happened yet",
            ha="center",
            va="center",
            color="#777777",
            fontsize=theme.FONT_SIZE,
        )
        return ax

    heading_y = (
        max(y + _box_size(str(graph.nodes[n]["label"]))[1] / 2 for n, (_, y) in pos.items()) + 0.1
    )
    for kind in theme.KINDS:  # column headings
        xs = {pos[n][0] for n, d in graph.nodes(data=True) if d["kind"] == kind}
        if xs:
            ax.text(
                xs.pop(),
                heading_y,
                theme.COLUMN_TITLE[kind],
                ha="center",
                va="bottom",
                color="#777777",
                fontsize=theme.SMALL_FONT,
                style="italic",
            )

    boxes = {}
    for node, data in graph.nodes(data=True):  # boxes first: arrows are clipped to them
        marked = node in marked_nodes
        faint = data.get("ghost", False) or _only_skipped(graph, node)
        boxes[node] = ax.text(
            *pos[node],
            theme.wrap_label(str(data["label"])),
            ha="center",
            va="center",
            fontsize=theme.FONT_SIZE,
            zorder=3,
            color=theme.GHOST_TEXT if faint else "black",
            bbox={
                "boxstyle": "round,pad=0.45",
                "facecolor": theme.GHOST_FILL if faint else theme.NODE_FILL[data["kind"]],
                "edgecolor": theme.HIGHLIGHT
                if marked
                else (theme.GHOST_EDGE if faint else theme.NODE_EDGE),
                "linewidth": 2.8 if marked else 1.0,
                "linestyle": "dashed" if faint else "solid",
            },
        )

    used: dict[tuple[str, Any], list[str]] = {}  # (colour, matplotlib line style) -> words
    for u, v, data in graph.edges(data=True):
        if data.get("ghost", False):  # still to come: a faint line, no label
            ax.add_patch(
                FancyArrowPatch(
                    pos[u],
                    pos[v],
                    arrowstyle="-|>",
                    mutation_scale=12,
                    color=theme.GHOST_EDGE,
                    linestyle="dotted",
                    linewidth=1.0,
                    shrinkA=2,
                    shrinkB=2,
                    zorder=2,
                    patchA=boxes[u].get_bbox_patch(),
                    patchB=boxes[v].get_bbox_patch(),
                )
            )
            continue
        marked = (u, v) in marked_edges
        worst = theme.worst_outcome(data["outcomes"])
        color, linestyle = theme.style_of(worst)
        if worst is not None and worst not in _QUIET:
            words = used.setdefault((color, linestyle), [])
            words.extend(
                o.replace("_", "-")
                for o in data["outcomes"]
                if o not in _QUIET
                and theme.style_of(o) == (color, linestyle)
                and o.replace("_", "-") not in words
            )
        if marked:
            color, linestyle = theme.HIGHLIGHT, "solid"
        width = 3.2 if marked else 1.2 + 0.5 * min(data["count"], 9) ** 0.5
        ax.add_patch(
            FancyArrowPatch(
                pos[u],
                pos[v],
                arrowstyle="-|>",
                mutation_scale=14,
                color=color,
                linestyle=linestyle,
                linewidth=width,
                shrinkA=2,
                shrinkB=2,
                zorder=5 if marked else 4,
                patchA=boxes[u].get_bbox_patch(),
                patchB=boxes[v].get_bbox_patch(),
            )
        )
        label = _edge_label(data)
        via = [p for p in data["via"] if p != graph.nodes[u]["label"]]
        if show_via and via and label:
            label += f" via {', '.join(via)}"
        if label:  # just above the visible part of the arrow
            (x1, y1), (x2, y2) = pos[u], pos[v]
            gap_start = x1 + _box_size(str(graph.nodes[u]["label"]))[0] / 2
            gap_end = x2 - _box_size(str(graph.nodes[v]["label"]))[0] / 2
            # a fan of arrows: stagger its labels along the arrows, so they don't stack up
            fan = sorted(graph.successors(u), key=lambda n: -pos[n][1])
            along = 0.5 if len(fan) == 1 else 0.22 + 0.5 * fan.index(v) / (len(fan) - 1)
            x = gap_start + (gap_end - gap_start) * along
            half = len(label) * 0.28 * theme.SMALL_FONT / 72  # about half the label's width
            if gap_end - gap_start > 2 * half + 0.1:  # keep the label clear of both boxes
                x = min(max(x, gap_start + half + 0.05), gap_end - half - 0.05)
            else:  # a long label: centred between the boxes is the best we can do
                x = (gap_start + gap_end) / 2
            y = y1 + (y2 - y1) * (x - x1) / (x2 - x1) if x2 != x1 else (y1 + y2) / 2
            ax.text(
                x,
                y + 0.05,
                label,
                ha="center",
                va="bottom",
                fontsize=theme.SMALL_FONT,
                color=color,
                zorder=6,
                fontweight="bold" if marked else "normal",
                bbox={
                    "boxstyle": "round,pad=0.1",
                    "facecolor": "white",
                    "edgecolor": "none",
                    "alpha": 0.85,
                },
            )

    legend = [
        Line2D([], [], color=c, linestyle=ls, linewidth=1.8, label=" / ".join(words))
        for (c, ls), words in used.items()
    ]
    if any(ghostly for _, ghostly in graph.nodes(data="ghost")) or any(
        ghostly for *_, ghostly in graph.edges(data="ghost")
    ):
        legend.append(Line2D([], [], color=theme.GHOST_EDGE, linestyle="dotted", label="not yet"))
    if marked_edges or marked_nodes:
        legend.append(Line2D([], [], color=theme.HIGHLIGHT, linewidth=3, label="highlighted"))
    if legend:
        ax.legend(
            handles=legend,
            loc="lower center",
            ncols=len(legend),
            frameon=False,
            fontsize=theme.SMALL_FONT,
            handlelength=2.2,
            borderaxespad=0.1,
        )
    return ax
