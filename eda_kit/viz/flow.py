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
from dataclasses import replace
from typing import Any

import networkx as nx

from ..errors import InvalidType, InvalidValue, NodeNotFound
from ..trace import Tracer, TraceRecord
from . import theme
from .layered import Plan

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
                by_source={},
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
        if record.target is not None and record.outcome != "dead_lettered":
            senders = data["by_source"].setdefault(record.source, {})
            if record.outcome != "dispatched":
                senders[record.outcome] = senders.get(record.outcome, 0) + 1
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


# -- the service view ------------------------------------------------------------------------

VIEWS = ("auto", "topics", "services")


def choose_view(graph: nx.DiGraph, view: str = "auto") -> str:
    """``"services"`` when someone both receives and sends (so would be drawn twice), else
    ``"topics"``; or the view asked for."""
    if view not in VIEWS:
        raise InvalidValue(f"view must be one of {list(VIEWS)}, not {view!r}")
    if view != "auto":
        return view
    senders = {d["label"] for _, d in graph.nodes(data=True) if d["kind"] == "producer"}
    receivers = {
        d["label"] for _, d in graph.nodes(data=True) if d["kind"] in ("consumer", "dead_letter")
    }
    return "services" if senders & receivers else "topics"


def _service(label: str) -> str:
    return node_id("dead_letter", label) if label == DEAD_LETTERS else f"service:{label}"


def service_graph(graph: nx.DiGraph, shape: nx.DiGraph | None = None) -> nx.DiGraph:
    """The service view of a flow graph: each participant once, events as labelled edges.

    Nodes: ``"service:<name>"`` (kind ``"service"``) for everyone who sends or receives, the
    dead-letter node, and an ``"event:<type>"`` node for each event nobody received (it went
    nowhere). Edges: sender -> receiver, with ``events`` = {event type: {outcome: count}} and
    the same ``count`` / ``outcomes`` / ``first_seq`` as the flow graph's edges.

    ``shape``: the service view of the whole trace, when ``graph`` is its first steps. An event
    sent but not delivered yet then goes along the arrows it takes in the whole picture,
    rather than to an event box that would vanish once it is delivered.
    """
    graph = _with_defaults(graph)
    view = nx.DiGraph()

    def add_node(nid: str, kind: str, label: str, data: dict[str, Any]) -> None:
        if nid not in view:
            view.add_node(nid, kind=kind, label=label, first_seq=data["first_seq"])
        else:
            view.nodes[nid]["first_seq"] = min(view.nodes[nid]["first_seq"], data["first_seq"])

    def add(u: str, v: str, event: str, outcomes: dict[str, int], data: dict[str, Any]) -> None:
        if not view.has_edge(u, v):
            view.add_edge(
                u, v, events={}, outcomes={}, count=0, via=[], first_seq=data.get("first_seq", 0)
            )
        edge = view.edges[u, v]
        edge["first_seq"] = min(edge["first_seq"], data.get("first_seq", 0))
        per_event = edge["events"].setdefault(event, {})
        for outcome, n in outcomes.items():
            per_event[outcome] = per_event.get(outcome, 0) + n
            edge["outcomes"][outcome] = edge["outcomes"].get(outcome, 0) + n
        edge["count"] += sum(n for o, n in outcomes.items() if o not in ("sent",))
        edge["via"] = sorted({*edge["via"], *data.get("via", [])})

    for _node, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["first_seq"]):
        if data["kind"] == "event":
            continue
        kind = "dead_letter" if data["label"] == DEAD_LETTERS else "service"
        add_node(_service(str(data["label"])), kind, str(data["label"]), data)
    for event, data in graph.nodes(data=True):
        if data["kind"] != "event":
            continue
        label = str(data["label"])
        producers = list(graph.predecessors(event))
        consumers = list(graph.successors(event))
        if not consumers:  # it went nowhere (yet): draw where it went
            for p in producers:
                edge = graph.edges[p, event]
                sender = _service(graph.nodes[p]["label"])
                later: list[str] = []
                if shape is not None and sender in shape:
                    later = [
                        v
                        for _, v, d in shape.out_edges(sender, data=True)
                        if label in d["events"] and v != event
                    ]
                    for target in later:
                        if target not in view:
                            whole = shape.nodes[target]
                            add_node(target, whole["kind"], whole["label"], data)
                if not later:
                    add_node(event, "event", label, data)
                for target in later or [event]:
                    add(sender, target, label, edge["outcomes"], edge)
            continue
        deliverers: dict[str, None] = {}  # who handed the event to its consumers
        for c in consumers:
            edge = graph.edges[event, c]
            by_source = (
                edge["by_source"]
                if "by_source" in edge
                else {  # hand-built graph
                    graph.nodes[p]["label"]: edge["outcomes"] for p in producers[:1]
                }
            )
            target = _service(graph.nodes[c]["label"])
            for source, outcomes in by_source.items():
                deliverers.setdefault(source, None)
                add(_service(source), target, label, outcomes, edge)
        for p in producers:  # a sender whose events someone else delivered (a store, a relay)
            sender = str(graph.nodes[p]["label"])
            if deliverers and sender not in deliverers:
                edge = graph.edges[p, event]
                for deliverer in deliverers:
                    add(_service(sender), _service(deliverer), label, edge["outcomes"], edge)
    for u, v, data in graph.edges(data=True):
        if graph.nodes[v]["kind"] == "dead_letter":
            source = _service(graph.nodes[u]["label"])
            for event, n in (data.get("events") or {"?": data.get("count", 1)}).items():
                add(source, _service(DEAD_LETTERS), event, {"dead_lettered": n}, data)
    return view


def _service_marks(
    graph: nx.DiGraph, view: nx.DiGraph, nodes: set[str], edges: set[tuple]
) -> tuple[set[str], set[tuple]]:
    """Translate highlighted nodes and edges of the flow graph into the service view."""
    out_nodes: set[str] = set()
    out_edges: set[tuple] = set()
    for node in nodes:
        data = graph.nodes[node]
        if data["kind"] == "event":
            out_nodes.add(node) if node in view else None
        else:
            out_nodes.add(_service(str(data["label"])))
    for u, v in edges:
        ku, kv = graph.nodes[u]["kind"], graph.nodes[v]["kind"]
        event = graph.nodes[v if ku == "producer" else u]["label"]
        for a, b, data in view.edges(data=True):
            if kv == "dead_letter":
                hit = a == _service(graph.nodes[u]["label"]) and view.nodes[b]["kind"] == kv
            elif ku == "producer":
                hit = a == _service(graph.nodes[u]["label"]) and event in data["events"]
            else:
                hit = b == _service(graph.nodes[v]["label"]) and event in data["events"]
            if hit:
                out_edges.add((a, b))
                out_nodes.update((a, b))
    return out_nodes, out_edges


# -- labels and looks ----------------------------------------------------------------------


def _counts_words(outcomes: dict[str, int]) -> str:
    """ "" when all went well once; "×3" when three went well; "2 ok, 1 failed" when not. A saga
    step's "started" is a beginning, not an outcome: how the step ended is what is counted."""
    begun = outcomes.get("started", 0)
    quiet = sum(outcomes.get(o, 0) for o in _QUIET if o != "started")
    problems = [f"{outcomes[o]} {word}" for o, word in _PROBLEM_WORDS.items() if outcomes.get(o)]
    problems += [
        f"{n} {o}"
        for o, n in outcomes.items()  # a component's own words
        if n and o not in _QUIET and o not in _PROBLEM_WORDS and o != "dispatched"
    ]
    if not problems:
        return f"×{quiet}" if quiet > 1 else ("" if quiet or not begun else f"{begun} started")
    return ", ".join([f"{quiet} ok"] * bool(quiet) + problems)


def _edge_label(data: dict[str, Any], view: str, via: list[str]) -> str:
    if view == "services" and "events" in data and data["events"]:
        lines = []
        for event, outcomes in data["events"].items():
            words = _counts_words(outcomes)
            lines.append(
                f"{event} {words}"
                if words.startswith("×")
                else f"{event}: {words}"
                if words
                else event
            )
        text = "\n".join(lines)
    else:
        text = _counts_words(data.get("outcomes", {}))
    if via and text:
        text += f" via {', '.join(via)}"
    return text


def edge_style(outcomes: dict[str, int]) -> tuple[str, str, str | None]:
    """(colour, line style, legend words) of an edge, from how its deliveries ended.

    A delivery that was retried and then got through is orange; one that failed for good (more
    failures than retries) or was dead-lettered is red and dashed; nobody listening is dotted
    grey; a listener that never ran (skipped) is faint.
    """
    n = {o: outcomes.get(o, 0) for o in (*EDGE_OUTCOMES, "compensated")}
    if n["dead_lettered"] or n["failed"] > n["retried"]:
        return (*theme.style_of("failed"), "failed / dead-lettered")
    if n["retried"]:
        return (*theme.style_of("retried"), "retried, then delivered")
    if n["compensated"]:
        return (*theme.style_of("compensated"), "compensated")
    if n["unhandled"] and not any(n[o] for o in ("delivered", "sent")):
        return (*theme.style_of("unhandled"), "nobody listening")
    if n["skipped"] and not any(n[o] for o in ("delivered", "sent", "failed")):
        return (*theme.style_of("skipped"), "skipped (an earlier listener raised)")
    return (*theme.DEFAULT_STYLE, None)


#: Measures of the picture, in inches.
_MARGIN = 0.2
_HEADER = 0.35  # room for the column headings (topic view)
_TITLE = 0.38
_LEGEND = 0.36


def _box_size(label: str) -> tuple[float, float]:
    """Width and height (inches) of a node's box, from its wrapped label at its true size."""
    from .layered import PAD, text_size

    width, height = text_size(theme.wrap_label(label), theme.FONT_SIZE)
    return width + 2 * PAD, height + 2 * PAD


def _label_size(text: str) -> tuple[float, float]:
    from .layered import LABEL_PAD, text_size

    width, height = text_size(text, theme.SMALL_FONT)
    return width + 2 * LABEL_PAD, height + 2 * LABEL_PAD


class _Picture:
    """Everything draw_flow needs: the graph drawn, its view, the plan, labels and styles."""

    def __init__(
        self, drawn: nx.DiGraph, ghost: nx.DiGraph | None, view: str, show_via: bool
    ) -> None:
        from .layered import place_labels, plan_layers

        whole_flow = with_ghost(drawn, ghost)
        self.view = choose_view(whole_flow, view)
        if self.view == "services":
            shape = None if ghost is None else service_graph(ghost)
            self.graph = with_ghost(service_graph(drawn, shape), shape)
        else:
            self.graph = whole_flow
        g = self.graph
        self.nodes = sorted(g.nodes, key=lambda n: g.nodes[n]["first_seq"])
        self.edges = sorted(g.edges, key=lambda e: (g.edges[e].get("first_seq", 0), e))
        self.label_text = {}
        for u, v in self.edges:
            data = g.edges[u, v]
            if data.get("ghost"):
                continue
            via = [p for p in data.get("via", []) if p != g.nodes[u]["label"]] if show_via else []
            text = _edge_label(data, self.view, via)
            if text:
                self.label_text[(u, v)] = text
        sizes = {n: _box_size(str(g.nodes[n]["label"])) for n in g.nodes}
        layer_of = None
        if self.view == "topics":
            kinds = theme.KINDS

            def layer_of(n: Any) -> int:
                return kinds.index(g.nodes[n]["kind"])

        drawn_sizes = {e: _label_size(t) for e, t in self.label_text.items()}
        self.frame: _Picture = self  # the picture whose size and places are kept
        self.plan: Plan
        if ghost is not None:  # the whole trace's picture: nothing moves as the cursor moves
            whole = _Picture(ghost, None, self.view, show_via)
            if set(whole.graph.nodes) == set(g.nodes) and set(whole.graph.edges) == set(g.edges):
                self.frame = whole
                self.plan = replace(whole.plan)
                self.plan.labels, _ = place_labels(
                    whole.plan.boxes,
                    whole.plan.routes,
                    self.edges,
                    drawn_sizes,
                    preferred=whole.plan.labels,
                )
                return
        self.plan = plan_layers(self.nodes, self.edges, sizes, drawn_sizes, layer_of=layer_of)

    def extent(self, title: str | None) -> tuple[float, float, float, float]:
        """left, right, bottom, top (inches), margins, headings, title and legend included.

        With a ghost, the extent of the whole trace's picture: the same at every step.
        """
        frame = self.frame
        plan = frame.plan
        if not frame.nodes:
            return -1.5, 1.5, -0.8, 0.8
        legend = frame is not self or bool(frame.legend_entries(marked=False))
        top = plan.top + _MARGIN + (_HEADER if frame.view == "topics" else 0.0)
        top += _TITLE if title else 0.0
        bottom = plan.bottom - _MARGIN - (_LEGEND if legend else 0.0)
        left, right = plan.left - _MARGIN, plan.right + _MARGIN
        wanted = max(frame.legend_width(), _title_width(title))
        if right - left < wanted:
            grow = (wanted - (right - left)) / 2
            left, right = left - grow, right + grow
        return left, right, bottom, top

    def legend_entries(
        self, marked: bool, marked_edges: set[tuple] | None = None
    ) -> list[tuple[str, str, str]]:
        seen: dict[str, tuple[str, str, str]] = {}
        for u, v in self.edges:
            data = self.graph.edges[u, v]
            if data.get("ghost") or (u, v) in (marked_edges or set()):
                continue  # drawn faint, or blue: their colour is not on the page
            color, style, words = edge_style(data.get("outcomes", {}))
            if words and words not in seen:
                seen[words] = (color, style, words)
        entries = sorted(seen.values(), key=lambda e: _LEGEND_ORDER.index(e[2]))
        if any(self.graph.nodes[n].get("ghost") for n in self.nodes) or any(
            self.graph.edges[e].get("ghost") for e in self.edges
        ):
            entries.append((theme.GHOST_EDGE, "dotted", "not yet"))
        if marked:
            entries.append((theme.HIGHLIGHT, "solid", "highlighted"))
        return entries

    def legend_width(self) -> float:
        """The widest the legend can be: every colour used, "not yet" and "highlighted"."""
        from .layered import text_size

        words = {w for *_, w in self.legend_entries(marked=True)} | {"not yet", "highlighted"}
        em = theme.SMALL_FONT / 72
        return sum(text_size(w, theme.SMALL_FONT)[0] + 4.2 * em for w in words) + 0.2


_LEGEND_ORDER = [
    "failed / dead-lettered",
    "retried, then delivered",
    "compensated",
    "nobody listening",
    "skipped (an earlier listener raised)",
]


def _title_width(title: str | None) -> float:
    if not title:
        return 0.0
    from .layered import text_size

    return text_size(title, theme.FONT_SIZE + 1, bold=True)[0] + 0.3


def flow_layout(graph: Any, *, ghost: Any = None, view: str = "auto") -> dict[str, tuple]:
    """Positions (in inches) of the boxes of ``draw_flow(graph, ghost=..., view=...)``.

    Keyed by the node ids of the view drawn: the flow graph's own ids in the topic view,
    ``"service:<name>"`` in the service view. Deterministic: same graph, same positions.
    """
    picture = _Picture(as_graph(graph), None if ghost is None else as_graph(ghost), view, False)
    return {str(n): (b.x, b.y) for n, b in picture.plan.boxes.items()}


def flow_figsize(
    graph: Any, *, ghost: Any = None, title: str | None = None, view: str = "auto"
) -> tuple[float, float]:
    """The natural figure size (inches) of ``draw_flow(graph, ghost=ghost)``: text at its size.

    With a ``ghost``, the size of the whole picture, ghosts included: the same for every
    prefix of a trace, so a replay's picture keeps its size as the cursor moves.
    """
    picture = _Picture(as_graph(graph), None if ghost is None else as_graph(ghost), view, False)
    left, right, bottom, top = picture.extent(title)
    return theme.round_size(right - left, top - bottom)


def draw_flow(
    graph_or_trace: Any,
    ax: Any = None,
    highlight: Any = None,
    *,
    title: str | None = None,
    show_via: bool = False,
    ghost: Any = None,
    view: str = "auto",
) -> Any:
    """Draw a flow graph (or a trace) in layers, left to right, and return the matplotlib Axes.

    - ``view``: ``"topics"`` draws producers -> events -> consumers -> dead letters, one
      column each; ``"services"`` draws each participant once, with the events as labelled
      arrows between them (choreography: who reacts to whom). ``"auto"`` (default) picks the
      service view when someone both receives and sends, who would otherwise be drawn twice.
    - ``ax``: draw there; when ``None``, a new figure at the picture's natural size
      (:func:`flow_figsize`), shown once inline in a notebook.
    - ``highlight``: a node (id such as ``"consumer:EmailService"``, or its label), an edge
      ``(u, v)`` or a ``TraceRecord`` (its edge): drawn thick and blue.
    - Arrows: grey = fine; red dashed = failed for good or dead-lettered; orange = retried,
      then delivered; dotted grey = nobody listened; faint dashed, to a faint box = a listener
      that never ran because an earlier one raised. Labels say what went wrong (``2 ok,
      1 failed``) and count repeats (``×3``); a single delivery that went well has no label.
      The legend lists exactly the colours used.
    - ``show_via``: also name the subscription pattern that routed a delivery, when it is not
      the event's own name (``×2 via order.*``): how topic wildcards matched.
    - ``ghost``: a bigger flow graph (or trace), usually the whole trace while ``graph`` is
      its first k steps: what ``graph`` lacks of it is drawn faint, and the layout is that of
      the whole, so nothing moves as a replay's cursor moves (``flow_figsize(graph,
      ghost=...)`` gives the figure size, the same at every k).

    The layout is layered (Sugiyama-style, see ``eda_kit.viz.layered``): few crossings, and
    labels that never sit on a box, a line or another label.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    from .layered import leave_box

    drawn = as_graph(graph_or_trace)
    marked_nodes, marked_edges = resolve_highlight(drawn, highlight)
    ghost_graph = None if ghost is None else as_graph(ghost)
    picture = _Picture(drawn, ghost_graph, view, show_via)
    graph, plan = picture.graph, picture.plan
    if picture.view == "services":
        marked_nodes, marked_edges = _service_marks(drawn, graph, marked_nodes, marked_edges)
    left, right, bottom, top = picture.extent(title)
    if ax is None:
        ax = theme.new_axes(theme.round_size(right - left, top - bottom), fill=True)
    ax.set_axis_off()
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    if title:
        ax.text(
            (left + right) / 2,
            top - 0.1,
            title,
            ha="center",
            va="top",
            fontsize=theme.FONT_SIZE + 1,
            fontweight="bold",
            gid="flow-title",
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

    if picture.view == "topics":  # column headings
        heading_y = plan.top + 0.08
        for kind in theme.KINDS:
            xs = [plan.boxes[n].x for n in picture.nodes if graph.nodes[n]["kind"] == kind]
            if xs:
                ax.text(
                    xs[0],
                    heading_y,
                    theme.COLUMN_TITLE[kind],
                    ha="center",
                    va="bottom",
                    color="#777777",
                    fontsize=theme.SMALL_FONT,
                    style="italic",
                    gid="flow-heading",
                )

    boxes = {}
    for node in picture.nodes:  # boxes first: arrows are clipped to them
        data = graph.nodes[node]
        marked = node in marked_nodes
        faint = data.get("ghost", False) or _only_skipped(graph, node)
        box = plan.boxes[node]
        boxes[node] = ax.text(
            box.x,
            box.y,
            theme.wrap_label(str(data["label"])),
            ha="center",
            va="center",
            fontsize=theme.FONT_SIZE,
            zorder=3,
            color=theme.GHOST_TEXT if faint else "black",
            gid="flow-node",
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

    for u, v in picture.edges:
        data = graph.edges[u, v]
        route = plan.routes[(u, v)]
        if data.get("ghost", False):  # still to come: a faint line, no label
            color, linestyle, width, zorder, scale = theme.GHOST_EDGE, "dotted", 1.0, 2, 12
        else:
            marked = (u, v) in marked_edges
            color, linestyle, _words = edge_style(data.get("outcomes", {}))
            width = 1.2 + 0.5 * min(max(data.get("count", 1), 1), 9) ** 0.5
            zorder, scale = 4, 14
            if marked:
                color, linestyle, width, zorder = theme.HIGHLIGHT, "solid", 3.2, 5
        if len(route) > 2 and u != v:  # start where the line leaves the box, not its centre
            route = [leave_box(plan.boxes[u], route[0], route[1]), *route[1:]]
        for a, b in zip(route[:-2], route[1:-1], strict=False):  # through the waypoints
            ax.add_line(
                Line2D(
                    [a[0], b[0]],
                    [a[1], b[1]],
                    color=color,
                    linestyle=linestyle,  # type: ignore[arg-type]
                    linewidth=width,
                    zorder=zorder,
                    gid="flow-edge",
                )
            )
        ax.add_patch(
            FancyArrowPatch(
                route[-2],
                route[-1],
                arrowstyle="-|>",
                mutation_scale=scale,
                color=color,
                linestyle=linestyle,
                linewidth=width,
                shrinkA=0 if len(route) > 2 else 2,
                shrinkB=2,
                zorder=zorder,
                patchA=None if len(route) > 2 else boxes[u].get_bbox_patch(),
                patchB=boxes[v].get_bbox_patch(),
                gid="flow-edge",
            )
        )
        spot = plan.labels.get((u, v))
        text = picture.label_text.get((u, v))
        if spot is not None and text and not data.get("ghost", False):
            ax.text(
                spot.x,
                spot.y,
                text,
                ha="center",
                va="center",
                fontsize=theme.SMALL_FONT,
                color=color,
                zorder=6,
                gid="flow-label",
                bbox={
                    "boxstyle": "round,pad=0.1",
                    "facecolor": "white",
                    "edgecolor": "none",
                    "alpha": 0.85,
                },
            )

    entries = picture.legend_entries(bool(marked_edges or marked_nodes), marked_edges)
    if entries:
        ax.legend(
            handles=[
                Line2D([], [], color=c, linestyle=ls, linewidth=1.8, label=w)  # type: ignore[arg-type]
                for c, ls, w in entries
            ],
            loc="lower center",
            ncols=len(entries),
            frameon=False,
            fontsize=theme.SMALL_FONT,
            handlelength=2.2,
            borderaxespad=0.1,
            columnspacing=1.0,
        )
    return ax
