"""Pictures of what happened: flow graphs, timelines and values over time.

Every drawing reads a trace (``eda_kit.Tracer``) or plain values, never a component's insides,
and returns the matplotlib ``Axes`` it drew on, so you can add a title or save it::

    from eda_kit import viz
    graph = viz.flow_graph(tracer)          # a networkx.DiGraph you can inspect
    viz.draw_flow(tracer)                   # producers -> events -> consumers -> dead letters
    viz.timeline(tracer)                    # the sequence diagram: one lane per participant
    viz.plot_state([0, 500, 1000, 800], label="balance")

    viz.draw_saga_log(log, upto=6)          # a saga from its log, as it stood after 6 events
    viz.draw_lanes(store.read_all())        # streams and the global log as lanes
    viz.draw_cqrs(commands, projections, queries)   # the two sides of CQRS

The replay player lives here too (``viz.widgets``), with pictures that follow its cursor
(``viz.pictures``)::

    from eda_kit.viz import ReplayPlayer
    ReplayPlayer(events, apply, initial)    # play / step / slider; goto(n) without a browser
    ReplayPlayer(log, apply, {}, picture=viz.pictures.LanesPicture())

Pictures are deterministic: the same input gives the same image, run after run. Importing
this package loads nothing heavy: networkx loads with the first graph, matplotlib with the
first drawing, ipywidgets when a player is first shown.

In a notebook, called without ``ax``, each drawing makes one pyplot figure that Jupyter shows
once, at the end of the cell. To keep the returned Axes' text (``<Axes: >``) out of the
output, end the line with ``;`` or assign the result (``ax = viz.draw_flow(trace)``).
"""

from ..lazy import lazy_exports

# Public name -> the module of this package that defines it (imported on first use).
_EXPORTS = {
    "flow_graph": "flow",
    "draw_flow": "flow",
    "flow_layout": "flow",
    "flow_figsize": "flow",
    "node_id": "flow",
    "find_node": "flow",
    "edge_for": "flow",
    "service_graph": "flow",
    "find_overlaps": "overlaps",
    "timeline": "sequence",  # a module named timeline would shadow viz.timeline()
    "plot_state": "state",
    "draw_saga": "saga",
    "draw_saga_log": "saga",
    "saga_at": "saga",
    "draw_lanes": "lanes",
    "draw_cqrs": "cqrs_picture",
    "ReplayPlayer": "widgets",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(
    __name__,
    _EXPORTS,
    globals(),
    submodules=(
        "flow",
        "layered",
        "overlaps",
        "sequence",
        "state",
        "saga",
        "lanes",
        "cqrs_picture",
        "pictures",
        "changes",
        "checkpoints",
        "widgets",
    ),
)
