"""Pictures of what happened: flow graphs, timelines and values over time.

Every drawing reads a trace (``eda_kit.Tracer``) or plain values, never a component's insides,
and returns the matplotlib ``Axes`` it drew on, so you can add a title or save it::

    from eda_kit import viz
    graph = viz.flow_graph(tracer)          # a networkx.DiGraph you can inspect
    viz.draw_flow(tracer)                   # producers -> events -> consumers -> dead letters
    viz.timeline(tracer)                    # the sequence diagram: one lane per participant
    viz.plot_state([0, 500, 1000, 800], label="balance")

Pictures are deterministic: the same input gives the same image, run after run. Importing
this module loads networkx (matplotlib loads when you first draw); ``import eda_kit`` alone
loads neither.

In a notebook, called without ``ax``, each drawing makes one pyplot figure that Jupyter shows
once, at the end of the cell. To keep the returned Axes' text (``<Axes: >``) out of the
output, end the line with ``;`` or assign the result (``ax = viz.draw_flow(trace)``).
"""

from .flow import (
    draw_flow,
    edge_for,
    find_node,
    flow_figsize,
    flow_graph,
    flow_layout,
    node_id,
)
from .saga import draw_saga
from .state import plot_state
from .timeline import timeline

__all__ = [
    "flow_graph",
    "draw_flow",
    "flow_layout",
    "flow_figsize",
    "node_id",
    "find_node",
    "edge_for",
    "timeline",
    "plot_state",
    "draw_saga",
]
