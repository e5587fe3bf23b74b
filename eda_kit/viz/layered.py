"""A layered (Sugiyama-style) layout: boxes in columns, few crossings, labels that fit.

The flow pictures are drawn left to right in layers, the way people draw them on a
whiteboard. This module decides where everything goes, in inches, without drawing anything:

1. **Layers.** Given (the topic view: one layer per kind of node) or computed: a service's
   layer is the longest path to it once the edges that close a cycle are turned round
   (choreography has cycles: payment.declined goes back to the inventory).
2. **Order within a layer.** An edge that skips layers gets invisible waypoints in the layers
   it crosses. Then, several times left to right and right to left, each layer is sorted by
   the mean position of its neighbours in the layer before (the *barycentre* heuristic); the
   order with the fewest crossings wins. Ties keep the order things first happened.
3. **Rows.** Each box moves towards the mean height of its neighbours, keeping its order and
   a minimum distance from the next box.
4. **Labels.** Each edge label tries spots along its own line, just above or below it, and
   takes the first that touches no box, no line and no other label. When a label finds no
   room, the gap between its two layers widens and everything is placed again.

Everything is deterministic: no randomness, and sizes come from the font itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from . import theme

__all__ = [
    "Box",
    "Label",
    "Plan",
    "plan_layers",
    "place_labels",
    "text_size",
    "cycle_breaking_layers",
]

Rect = tuple[float, float, float, float]  # left, bottom, right, top (inches)

#: Measures in inches.
COLUMN_GAP = 0.9  # between the widest boxes of two layers, at least
ROW_GAP = 0.3  # between two boxes of one layer, at least
LABEL_CLEARANCE = 0.04  # between a label and its own line
STUB = 0.14  # a line runs level at least this far out of a box before it turns
PAD = 0.45 * theme.FONT_SIZE / 72  # a box's padding around its text (boxstyle pad=0.45)
LABEL_PAD = 0.1 * theme.SMALL_FONT / 72  # an edge label's padding (boxstyle pad=0.1)


@cache
def text_size(text: str, size: float, bold: bool = False) -> tuple[float, float]:
    """Width and height (inches) of ``text`` at font ``size``, measured with the Agg fonts."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    font = FontProperties(size=size, weight="bold" if bold else "normal")
    lines = text.split("\n")
    widths = [
        TextToPath().get_text_width_height_descent(line, font, ismath=False)[0] for line in lines
    ]
    # matplotlib spaces lines 1.2 font sizes apart; a line is about 1.17 font sizes tall.
    height = size * (1.2 * (len(lines) - 1) + 1.17)
    return max(widths) / 72, height / 72


@dataclass
class Box:
    """A node: its centre and size (inches), its layer and its place in that layer."""

    x: float
    y: float
    width: float
    height: float
    layer: int

    @property
    def rect(self) -> Rect:
        return (
            self.x - self.width / 2,
            self.y - self.height / 2,
            self.x + self.width / 2,
            self.y + self.height / 2,
        )


@dataclass
class Label:
    """An edge label placed at (x, y), its centre, with its size."""

    x: float
    y: float
    width: float
    height: float

    @property
    def rect(self) -> Rect:
        w, h = self.width / 2, self.height / 2
        return self.x - w, self.y - h, self.x + w, self.y + h


@dataclass
class Plan:
    """Where everything goes: boxes, each edge's route (a list of points), label spots."""

    boxes: dict[Hashable, Box]
    routes: dict[tuple[Hashable, Hashable], list[tuple[float, float]]]
    labels: dict[tuple[Hashable, Hashable], Label]
    layer_x: list[float]
    top: float  # the highest point of boxes, routes and labels
    bottom: float
    left: float
    right: float
    crossings: int = 0
    reversed_edges: set[tuple[Hashable, Hashable]] = field(default_factory=set)


def cycle_breaking_layers(
    nodes: list[Hashable], edges: list[tuple[Hashable, Hashable]]
) -> tuple[dict[Hashable, int], set[tuple[Hashable, Hashable]]]:
    """Layers by longest path, after turning round the edges that close a cycle.

    ``nodes`` in the order they first happened: a depth-first walk from each in turn finds the
    edges that lead back to a node still on the walk (those close a cycle) and reverses them.
    Returns each node's layer and the set of edges that were turned round.
    """
    successors: dict[Hashable, list[Hashable]] = {n: [] for n in nodes}
    for u, v in edges:
        if u != v:
            successors[u].append(v)
    state: dict[Hashable, int] = {}  # 1 = on the walk, 2 = done
    back: set[tuple[Hashable, Hashable]] = set()
    for start in nodes:
        if start in state:
            continue
        stack: list[tuple[Hashable, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node, i = stack[-1]
            if i < len(successors[node]):
                stack[-1] = (node, i + 1)
                nxt = successors[node][i]
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                stack.pop()
    forward: dict[Hashable, list[Hashable]] = {n: [] for n in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for u, v in edges:
        if u == v:
            continue
        a, b = (v, u) if (u, v) in back else (u, v)
        if b not in forward[a]:
            forward[a].append(b)
            indegree[b] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    while ready:
        node = ready.pop(0)
        for nxt in forward[node]:
            layer[nxt] = max(layer[nxt], layer[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return layer, back


def _crossings(order: list[list[Hashable]], links: list[tuple[Hashable, Hashable]]) -> int:
    """How many pairs of links between adjacent layers cross."""
    index = {n: i for layer in order for i, n in enumerate(layer)}
    level = {n: k for k, layer in enumerate(order) for n in layer}
    by_gap: dict[int, list[tuple[int, int]]] = {}
    for u, v in links:
        if level[u] > level[v]:
            u, v = v, u
        by_gap.setdefault(level[u], []).append((index[u], index[v]))
    total = 0
    for pairs in by_gap.values():
        for i, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[i + 1 :]:
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total


def _order_layers(
    order: list[list[Hashable]], links: list[tuple[Hashable, Hashable]], sweeps: int = 6
) -> tuple[list[list[Hashable]], int]:
    """Barycentre sweeps; returns the order with the fewest crossings and that number."""
    level = {n: k for k, layer in enumerate(order) for n in layer}
    before: dict[Hashable, list[Hashable]] = {n: [] for layer in order for n in layer}
    after: dict[Hashable, list[Hashable]] = {n: [] for layer in order for n in layer}
    for u, v in links:
        if level[u] > level[v]:
            u, v = v, u
        after[u].append(v)
        before[v].append(u)
    best = [list(layer) for layer in order]
    best_count = _crossings(best, links)
    current = [list(layer) for layer in order]
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        ks = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for k in ks:
            fixed = current[k - 1] if down else current[k + 1]
            where = {n: i for i, n in enumerate(fixed)}
            neighbours = before if down else after
            mine = {n: i for i, n in enumerate(current[k])}

            def barycentre(
                n: Hashable, where: dict = where, mine: dict = mine, near_of: dict = neighbours
            ) -> float:
                near = [where[m] for m in near_of[n] if m in where]
                return sum(near) / len(near) if near else float(mine[n])

            current[k] = sorted(current[k], key=lambda n: (barycentre(n), mine[n]))
        count = _crossings(current, links)
        if count < best_count:
            best, best_count = [list(layer) for layer in current], count
    return best, best_count


def _pack(desired: list[float], heights: list[float], gap: float) -> list[float]:
    """Centres as close to ``desired`` as possible, top to bottom, boxes ``gap`` apart."""
    placed: list[float] = []
    for i, y in enumerate(desired):
        if placed:
            lowest = placed[-1] - heights[i - 1] / 2 - gap - heights[i] / 2
            y = min(y, lowest)
        placed.append(y)
    shift = (sum(desired) - sum(placed)) / len(placed) if placed else 0.0
    return [y + shift for y in placed]


def _segment_hits(rect: Rect, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Does the segment a-b pass through the rectangle? (Liang-Barsky clipping.)"""
    left, bottom, right, top = rect
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x1 - left), (dx, right - x1), (-dy, y1 - bottom), (dy, top - y1)):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def _rects_meet(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _grow(rect: Rect, by: float) -> Rect:
    return rect[0] - by, rect[1] - by, rect[2] + by, rect[3] + by


def plan_layers(
    nodes: list[Hashable],
    edges: list[tuple[Hashable, Hashable]],
    sizes: dict[Hashable, tuple[float, float]],
    label_sizes: dict[tuple[Hashable, Hashable], tuple[float, float]],
    *,
    layer_of: Callable[[Hashable], int] | None = None,
    reserved: list[Rect] | None = None,
) -> Plan:
    """Place ``nodes`` (in order of first appearance) and route ``edges``, labels included.

    - ``sizes``: each node's box (width, height), in inches;
    - ``label_sizes``: the size of each labelled edge's label;
    - ``layer_of``: a fixed layer per node; by default the longest-path layers of
      :func:`cycle_breaking_layers`;
    - ``reserved``: extra rectangles labels must keep clear of (e.g. column headings), given
      as functions of the plan would be nicer; here they are rebuilt by the caller.
    """
    if not nodes:
        return Plan({}, {}, {}, [], 0.0, 0.0, 0.0, 0.0)
    gaps: dict[int, float] = {}
    pitch_extra = 0.0
    for _attempt in range(8):
        plan, trouble = _plan_once(
            nodes, edges, sizes, label_sizes, layer_of, gaps, pitch_extra, reserved or []
        )
        if not trouble:
            return plan
        for gap in trouble:
            gaps[gap] = gaps.get(gap, 0.0) + 0.45
        pitch_extra += 0.12
    return plan


def _plan_once(
    nodes: list[Hashable],
    edges: list[tuple[Hashable, Hashable]],
    sizes: dict[Hashable, tuple[float, float]],
    label_sizes: dict[tuple[Hashable, Hashable], tuple[float, float]],
    layer_of: Callable[[Hashable], int] | None,
    extra_gap: dict[int, float],
    pitch_extra: float,
    reserved: list[Rect],
) -> tuple[Plan, set[int]]:
    if layer_of is None:
        layers, back = cycle_breaking_layers(nodes, edges)
    else:
        layers, back = {n: layer_of(n) for n in nodes}, set()
        back = {(u, v) for u, v in edges if layers[u] > layers[v]}
    # compress layer numbers (a fixed layer may be unused)
    used = sorted(set(layers.values()))
    rank = {k: i for i, k in enumerate(used)}
    layers = {n: rank[k] for n, k in layers.items()}
    count = len(used)

    # waypoints for edges that skip layers
    order: list[list[Hashable]] = [[] for _ in range(count)]
    for n in nodes:
        order[layers[n]].append(n)
    chains: dict[tuple[Hashable, Hashable], list[Hashable]] = {}
    links: list[tuple[Hashable, Hashable]] = []
    for u, v in edges:
        if u == v:
            chains[(u, v)] = [u, v]
            continue
        lo, hi = sorted((layers[u], layers[v]))
        start, end = (u, v) if layers[u] <= layers[v] else (v, u)
        chain = [start]
        for k in range(lo + 1, hi):
            dummy = ("waypoint", u, v, k)
            order[k].append(dummy)
            chain.append(dummy)
        chain.append(end)
        if hi == lo:  # same layer (a fixed layer can force it): straight across
            chain = [u, v]
        links.extend(zip(chain, chain[1:], strict=False))
        chains[(u, v)] = chain if start == u else list(reversed(chain))
    order, crossings = _order_layers(order, [lk for lk in links if lk[0] != lk[1]])

    def size(n: Hashable) -> tuple[float, float]:
        return sizes[n] if n in sizes else (0.0, 0.12)

    # rows: stacked, then drawn towards their neighbours
    neighbours: dict[Hashable, list[Hashable]] = {n: [] for layer in order for n in layer}
    for a, b in links:
        if a != b:
            neighbours[a].append(b)
            neighbours[b].append(a)
    y: dict[Hashable, float] = {}
    gap = ROW_GAP + pitch_extra
    for layer in order:
        heights = [size(n)[1] for n in layer]
        total = sum(heights) + gap * (len(layer) - 1)
        top = total / 2
        for n, h in zip(layer, heights, strict=True):
            y[n] = top - h / 2
            top -= h + gap
    for sweep in range(6):
        ks = range(count) if sweep % 2 == 0 else range(count - 1, -1, -1)
        for k in ks:
            layer = order[k]
            desired = [
                sum(y[m] for m in neighbours[n]) / len(neighbours[n]) if neighbours[n] else y[n]
                for n in layer
            ]
            heights = [size(n)[1] for n in layer]
            for n, value in zip(layer, _pack(desired, heights, gap), strict=True):
                y[n] = value
    # columns: each as wide as its widest box, gaps wide enough for the labels across them
    widths = [max((size(n)[0] for n in layer), default=0.0) for layer in order]
    need = dict.fromkeys(range(count - 1), COLUMN_GAP)
    for (u, v), (w, _h) in label_sizes.items():
        if u == v:
            continue
        lo, hi = sorted((layers[u], layers[v]))
        for k in range(lo, max(hi, lo + 1)):
            if k in need:
                need[k] = max(need[k], w + 0.3 + 2 * STUB if hi - lo == 1 else COLUMN_GAP)
    layer_x: list[float] = []
    right = 0.0
    for k in range(count):
        if k == 0:
            x = widths[0] / 2
        else:
            x = right + need[k - 1] + extra_gap.get(k - 1, 0.0) + widths[k] / 2
        layer_x.append(x)
        right = x + widths[k] / 2

    boxes = {n: Box(layer_x[layers[n]], y[n], *sizes[n], layers[n]) for n in nodes}
    point = {n: (layer_x[k], y[n]) for k, layer in enumerate(order) for n in layer}
    routes: dict[tuple[Hashable, Hashable], list[tuple[float, float]]] = {}
    for (u, v), chain in chains.items():
        if u == v:
            box = boxes[u]
            top = box.y + box.height / 2
            half = max(box.width / 4, label_sizes.get((u, v), (0.0, 0.0))[0] / 2 + 0.1)
            routes[(u, v)] = [  # a loop over the box: up, across, down into it
                (box.x - half, top + 2 / 72),
                (box.x - half, top + 0.2),
                (box.x + half, top + 0.2),
                (box.x + half, top),
            ]
            continue
        # Leave and enter each box sideways, through the edge of its column: a line then
        # never cuts through another box of the same column on its way.
        route: list[tuple[float, float]] = []
        for i, n in enumerate(chain):
            x, y_n = point[n]
            if n not in boxes:  # a waypoint
                route.append((x, y_n))
                continue
            # as far as the column's edge, and always a little clear of the box, so arrowheads
            # arrive level and never clip a box's corner
            half = max(widths[layers[n]] / 2, boxes[n].width / 2 + STUB)
            if i > 0:  # entering: from the side the line comes from
                side = 1.0 if point[chain[i - 1]][0] > x else -1.0
                route.append((x + side * half, y_n))
            route.append((x, y_n))
            if i < len(chain) - 1:  # leaving: towards the next point
                side = 1.0 if point[chain[i + 1]][0] > x else -1.0
                route.append((x + side * half, y_n))
        routes[(u, v)] = route
    # two edges between the same pair, both ways: side by side instead of on top of each other
    for u, v in list(routes):
        if u != v and (v, u) in routes:
            offset = 0.07 if (u, v) in back or layers[u] > layers[v] else -0.07
            routes[(u, v)] = [(x, y_p + offset) for x, y_p in routes[(u, v)]]

    labels, trouble = place_labels(boxes, routes, edges, label_sizes, reserved)
    rects = [b.rect for b in boxes.values()] + [lab.rect for lab in labels.values()]
    xs = [p[0] for route in routes.values() for p in route]
    ys = [p[1] for route in routes.values() for p in route]
    plan = Plan(
        boxes=boxes,
        routes=routes,
        labels=labels,
        layer_x=layer_x,
        top=max([r[3] for r in rects] + ys),
        bottom=min([r[1] for r in rects] + ys),
        left=min([r[0] for r in rects] + xs),
        right=max([r[2] for r in rects] + xs),
        crossings=crossings,
        reversed_edges=back,
    )
    return plan, {min(k, count - 2) for k in trouble} if count > 1 else set()


def place_labels(
    boxes: dict[Hashable, Box],
    routes: dict[tuple[Hashable, Hashable], list[tuple[float, float]]],
    edges: list[tuple[Hashable, Hashable]],
    label_sizes: dict[tuple[Hashable, Hashable], tuple[float, float]],
    reserved: list[Rect] | None = None,
    preferred: dict[tuple[Hashable, Hashable], Label] | None = None,
) -> tuple[dict[tuple[Hashable, Hashable], Label], set[int]]:
    """The first free spot along each labelled edge's line, in the order of ``edges``.

    ``preferred``: spots known to be free for bigger labels (the whole trace's, in a replay):
    a label that fits in its edge's preferred spot goes there, on the same side of its line,
    so a replay's labels stay put and never collide. Returns the spots and the gaps (layer
    numbers) where some label found no room.
    """
    labels: dict[tuple[Hashable, Hashable], Label] = {}
    trouble: set[int] = set()
    obstacles = [_grow(b.rect, 0.03) for b in boxes.values()] + list(reserved or [])
    for (u, v), route in routes.items():  # arrowheads are wider than their lines
        if v in boxes and len(route) >= 2:
            x, y = route[-1] if u == v else leave_box(boxes[v], route[-1], route[-2])
            obstacles.append((x - 0.14, y - 0.1, x + 0.14, y + 0.1))
    segments = [(a, b) for route in routes.values() for a, b in zip(route, route[1:], strict=False)]
    fan_out: dict[Hashable, int] = {}
    fan_in: dict[Hashable, int] = {}
    for u, v in routes:
        fan_out[u] = fan_out.get(u, 0) + 1
        fan_in[v] = fan_in.get(v, 0) + 1
    for edge in edges:
        if edge not in label_sizes:
            continue
        w, h = label_sizes[edge]
        known = (preferred or {}).get(edge)
        if known is not None and w <= known.width + 1e-9 and h <= known.height + 1e-9:
            (a, b), x = _piece_at(routes[edge], known.x), known.x
            above = known.y > _line_y(a, b, x)
            y = known.y - known.height / 2 + h / 2 if above else known.y + known.height / 2 - h / 2
            labels[edge] = Label(x, y, w, h)
            continue
        u, v = edge
        spread = (fan_out.get(u, 0), fan_in.get(v, 0))
        order = (
            _MIDDLE if max(spread) <= 1 else _NEAR_START if spread[0] <= spread[1] else _NEAR_END
        )
        spot = _find_spot(edge, routes[edge], boxes, w, h, obstacles, segments, labels, order)
        if spot is None:
            u, v = edge
            trouble.add(min(boxes[u].layer, boxes[v].layer))
            spot = _nearest_free_spot(routes[edge], w, h, obstacles, segments, labels)
        labels[edge] = spot
    return labels, trouble


def leave_box(
    box: Box, start: tuple[float, float], towards: tuple[float, float]
) -> tuple[float, float]:
    """Where the line from ``start`` (the box's centre) to ``towards`` leaves the box (plus the
    two points arrows keep clear of a box)."""
    (x1, y1), (x2, y2) = start, towards
    margin = 2 / 72
    half_w, half_h = box.width / 2 + margin, box.height / 2 + margin
    dx, dy = x2 - x1, y2 - y1
    scale = min(half_w / abs(dx) if dx else float("inf"), half_h / abs(dy) if dy else float("inf"))
    if scale == float("inf"):
        return start
    return x1 + dx * scale, y1 + dy * scale


def _piece_at(
    route: list[tuple[float, float]], x: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The piece of a route that spans ``x`` (the first one, for a loop)."""
    pieces = list(zip(route, route[1:], strict=False))
    for a, b in pieces:
        if min(a[0], b[0]) <= x <= max(a[0], b[0]) and a[0] != b[0]:
            return a, b
    return pieces[0]


def _line_y(a: tuple[float, float], b: tuple[float, float], x: float) -> float:
    (x1, y1), (x2, y2) = a, b
    if x2 == x1:
        return (y1 + y2) / 2
    return y1 + (y2 - y1) * (x - x1) / (x2 - x1)


#: Where along a line a label tries first (0 = the line's start, 1 = its end).
_MIDDLE = (0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6, 0.05, 0.95)
_NEAR_START = (0.1, 0.2, 0.3, 0.4, 0.5, 0.0, 0.6, 0.7, 0.8, 0.9, 1.0)
_NEAR_END = tuple(1 - t for t in _NEAR_START)


def _find_spot(
    edge: tuple[Hashable, Hashable],
    route: list[tuple[float, float]],
    boxes: dict[Hashable, Box],
    width: float,
    height: float,
    obstacles: list[Rect],
    segments: list[tuple[tuple[float, float], tuple[float, float]]],
    labels: dict[Any, Label],
    order: tuple[float, ...] = (),
) -> Label | None:
    """Spots just beside the line first; then, if none is free, a little further away.

    ``order``: where along the line to try first (0 = its start, 1 = its end): near the end
    where fewer lines meet, so a label is next to its own line and no other.
    """
    for away in (0.0, 0.1, 0.22):
        spot = _spot_at(
            edge, route, boxes, width, height, obstacles, segments, labels, away, order or _MIDDLE
        )
        if spot is not None:
            return spot
    return None


def _spot_at(
    edge: tuple[Hashable, Hashable],
    route: list[tuple[float, float]],
    boxes: dict[Hashable, Box],
    width: float,
    height: float,
    obstacles: list[Rect],
    segments: list[tuple[tuple[float, float], tuple[float, float]]],
    labels: dict[Any, Label],
    away: float,
    order: tuple[float, ...],
) -> Label | None:
    u, v = edge
    pieces = list(zip(route, route[1:], strict=False))
    for index, (a, b) in enumerate(pieces):
        left_end, right_end = sorted((a[0], b[0]))
        if index == 0 and u in boxes:  # keep clear of the boxes the line leaves and enters
            box = boxes[u]
            left_end, right_end = _trim(left_end, right_end, box)
        if index == len(pieces) - 1 and v in boxes:
            left_end, right_end = _trim(left_end, right_end, boxes[v])
        room = right_end - left_end - width - 0.1
        if room < 0:
            continue
        for t in order:
            along = t if a[0] <= b[0] else 1 - t  # t runs from the line's start, whichever side
            cx = left_end + 0.05 + width / 2 + room * along
            # a line going down gets its label below it, one going up above it: the outside
            # of a fan, away from its neighbours
            falling = (b[1] - a[1]) * (b[0] - a[0]) < 0 and abs(b[1] - a[1]) > 0.05
            for above in (False, True) if falling else (True, False):
                ya = _line_y(a, b, cx - width / 2)
                yb = _line_y(a, b, cx + width / 2)
                if above:
                    cy = max(ya, yb) + LABEL_CLEARANCE + away + height / 2
                else:
                    cy = min(ya, yb) - LABEL_CLEARANCE - away - height / 2
                spot = Label(cx, cy, width, height)
                rect = _grow(spot.rect, 0.02)
                if any(_rects_meet(rect, o) for o in obstacles):
                    continue
                if any(_rects_meet(rect, lab.rect) for lab in labels.values()):
                    continue
                if any(_segment_hits(rect, p, q) for p, q in segments):
                    continue
                return spot
    return None


def _trim(left: float, right: float, box: Box) -> tuple[float, float]:
    """The part of [left, right] outside the box's column span."""
    box_left, box_right = box.x - box.width / 2, box.x + box.width / 2
    if box_left <= left <= box_right:
        left = box_right
    if box_left <= right <= box_right:
        right = box_left
    return left, right


def _nearest_free_spot(
    route: list[tuple[float, float]],
    width: float,
    height: float,
    obstacles: list[Rect],
    segments: list[tuple[tuple[float, float], tuple[float, float]]],
    labels: dict[Any, Label],
) -> Label:
    """The free spot nearest the middle of the route, however far (a crowded corner)."""
    import math

    (x1, y1), (x2, y2) = route[len(route) // 2 - 1], route[len(route) // 2]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    for step in range(1, 80):
        radius = 0.08 * step
        for k in range(16):
            angle = 2 * math.pi * k / 16
            spot = Label(
                cx + radius * math.cos(angle), cy + radius * math.sin(angle), width, height
            )
            rect = _grow(spot.rect, 0.02)
            if any(_rects_meet(rect, o) for o in obstacles):
                continue
            if any(_rects_meet(rect, lab.rect) for lab in labels.values()):
                continue
            if any(_segment_hits(rect, p, q) for p, q in segments):
                continue
            return spot
    return Label(cx, cy + radius, width, height)
