"""Pictures of what happened: flow graphs, timelines and values over time.

Every drawing reads a trace (``eda_kit.Tracer``) or plain values, never a component's insides,
and returns the matplotlib ``Axes`` it drew on, so you can add a title or save it::

    from eda_kit import viz
    graph = viz.flow_graph(tracer)          # a networkx.DiGraph you can inspect
    viz.draw_flow(tracer)                   # producers -> events -> consumers -> dead letters
    viz.timeline(tracer)                    # the sequence diagram: one lane per participant
    viz.plot_state([0, 500, 1000, 800], label="balance")

The replay player lives here too (``viz.widgets``)::

    from eda_kit.viz import ReplayPlayer
    ReplayPlayer(events, apply, initial)    # play / step / slider; goto(n) without a browser

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
    "timeline": "timeline",
    "plot_state": "state",
    "draw_saga": "saga",
    "ReplayPlayer": "widgets",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(
    __name__, _EXPORTS, globals(), submodules=("flow", "timeline", "state", "saga", "widgets")
)
