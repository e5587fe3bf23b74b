"""The replay player: scrub through a list of events and watch the state change.

Event sourcing says *state is a fold over events*: start from ``initial`` and apply each event
in turn. ``ReplayPlayer`` lets you walk that fold back and forth::

    def apply(balance, event):                      # a pure fold step: returns the new state
        return balance + event.data["amount"]

    player = ReplayPlayer(events, apply, initial=0)
    player.goto(3).state      # the balance after the first 3 events
    player.step(); player.back(); player.position; player.event; len(player)
    player                    # in Jupyter: play / step / slider / speed, the event, the state

It works without a browser (tests and plain Python use ``goto``, ``step``, ``back``), and in
Jupyter it shows ipywidgets controls. ipywidgets is imported only when the controls are
first shown; matplotlib only when a graph is drawn.

**Checkpoints, so any jump is cheap.** Replaying from event 0 on every jump would cost up to
``len(events)`` calls of ``apply``. Instead, the player folds once at construction and keeps
a checkpoint (the state) every ``checkpoint_every`` events. ``goto(n)`` starts from the
nearest checkpoint at or before ``n`` (or from the current position, when that is closer and
on the way), so it calls ``apply`` at most ``checkpoint_every - 1`` times.

**Copies, so apply can't spoil a checkpoint.** Checkpoints are stored as deep copies, and a
jump folds from a fresh deep copy of one. So even an ``apply`` that changes its ``state``
argument in place (and returns it) gives right answers. Prefer a pure ``apply`` anyway: it is
what the course teaches, and it is cheaper (nothing to undo). ``initial`` is never changed.
``player.state`` is the player's working state: read it, don't change it.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from ..errors import InvalidType, InvalidValue
from ..trace import Tracer, TraceRecord

__all__ = ["ReplayPlayer", "tally", "describe_event", "format_state"]

DEFAULT_CHECKPOINT_EVERY = 100
#: How many events before and after the cursor the event view lists.
NEIGHBOURS = 2
_MAX_STATE_CHARS = 4000
# Long lines wrap rather than vanish under the graph beside them.
_ROW_STYLE = "padding:1px 6px;white-space:pre-wrap;overflow-wrap:anywhere;font-family:monospace;"
_STATE_STYLE = "margin:2px 0;max-height:320px;overflow:auto;white-space:pre-wrap;"
_SPEEDS = (("0.5×", 1600), ("1×", 800), ("2×", 400), ("4×", 200))


# -- how events and states are shown ----------------------------------------------------


def describe_event(event: Any, width: int = 110) -> str:
    """One readable line for an event: a trace step, an ``Event`` or anything else."""
    if isinstance(event, TraceRecord):
        if event.target is None:
            text = f"{event.source} emits {event.event}"
            if event.outcome != "sent":
                text += f": {event.outcome}"
        else:
            text = f"{event.source} --{event.event}--> {event.target}: {event.outcome}"
        if event.attempt > 1:
            text += f" (attempt {event.attempt})"
        if event.detail:
            text += f" [{event.detail}]"
    elif hasattr(event, "type") and hasattr(event, "data"):
        text = str(event.type)
        if getattr(event, "stream_id", ""):
            text = f"{event.stream_id} v{event.version}: {text}"
        if event.data:
            text += " " + json.dumps(_plain(event.data), ensure_ascii=False)
    else:
        text = repr(event)
    return text if len(text) <= width else text[: width - 1] + "…"


def _plain(value: Any) -> Any:
    """A JSON-ready copy of ``value`` for display (sets sorted, objects as their fields)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if _has_default_repr(value):
        # e.g. an Aggregate: its public attributes (a default repr would print an address)
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return repr(value)


def _has_default_repr(value: Any) -> bool:
    """An object with attributes but no ``__repr__`` of its own (its repr shows an address)."""
    repr_of_type: Any = type(value).__repr__
    return repr_of_type is object.__repr__ and hasattr(value, "__dict__")


def _pretty(value: Any, indent: int = 0) -> str:
    """JSON text, one line when it fits in 60 characters, else one item per line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) <= 60 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    items = [pad + _pretty(v, indent + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"


def format_state(state: Any) -> str:
    """The state as readable text: pretty JSON for data, fields for plain objects.

    Dicts, lists, numbers, strings and dataclasses print as JSON (short parts on one line);
    an object with no ``__repr__`` of its own prints as its class and public attributes;
    any other object (one with its own ``__repr__``, such as an ``Aggregate``) as its repr.
    """
    if _has_default_repr(state):
        text = f"{type(state).__name__} {_pretty(_plain(state))}"  # e.g. "Account {...}"
    elif (
        state is None
        or isinstance(state, (Mapping, list, tuple, set, frozenset, str, int, float, Enum))
        or (dataclasses.is_dataclass(state) and not isinstance(state, type))
    ):
        text = _pretty(_plain(state))
    else:
        text = repr(state)
    if len(text) > _MAX_STATE_CHARS:
        text = text[:_MAX_STATE_CHARS] + f"\n… ({len(text) - _MAX_STATE_CHARS} more characters)"
    return text


def tally(state: Mapping[str, Mapping[str, int]] | None, record: TraceRecord) -> dict:
    """A ready-made ``apply`` for traces: per participant, how often each outcome happened.

    Pure: returns a new dict and leaves ``state`` alone. The sender of a "sent" step is
    counted; for deliveries, the receiver. ::

        {"OrderService": {"sent": 2}, "EmailService": {"delivered": 2}}
    """
    who = record.source if record.target is None else record.target
    new = {name: dict(counts) for name, counts in (state or {}).items()}
    counts = new.setdefault(who, {})
    counts[record.outcome] = counts.get(record.outcome, 0) + 1
    return new


# -- the player ------------------------------------------------------------------------


class ReplayPlayer:
    """Step, jump and play through ``events``, showing the state folded so far.

    - ``events``: a list (or a ``Tracer``: its records).
    - ``apply(state, event) -> new state``: one fold step. ``initial``: the state before any.
    - ``graph``: a flow graph (``viz.flow_graph``) or a trace; the player then draws it with
      the current event's edge highlighted. ``edge_of(event)`` says which edge or node to
      highlight; by default a ``TraceRecord``'s own edge, or an ``Event``'s event node.
    - ``render(state) -> str`` (or an object with ``_repr_html_``): how to show the state;
      by default pretty JSON-like text.
    - ``checkpoint_every``: keep a checkpoint every k events; a jump costs < k ``apply`` calls.
    - ``start``: where the cursor starts (default 0: before any event).

    Position ``n`` means "after the first n events": 0 is the initial state and
    ``len(player)`` the final one. ``player.event`` is the event that led there.
    """

    def __init__(
        self,
        events: Iterable[Any] | Tracer,
        apply: Callable[[Any, Any], Any],
        initial: Any,
        graph: Any = None,
        render: Callable[[Any], Any] | None = None,
        edge_of: Callable[[Any], Any] | None = None,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        start: int = 0,
        title: str = "Replay",
    ) -> None:
        if isinstance(events, Tracer):
            events = events.records
        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
            raise InvalidType(f"events must be a list of events, not {type(events).__name__}")
        if not callable(apply):
            raise InvalidType(f"apply must be a function apply(state, event), not {apply!r}")
        if (
            isinstance(checkpoint_every, bool)
            or not isinstance(checkpoint_every, int)
            or checkpoint_every < 1
        ):
            raise InvalidValue(
                f"checkpoint_every must be a whole number >= 1, not {checkpoint_every!r}"
            )
        for name, fn in (("render", render), ("edge_of", edge_of)):
            if fn is not None and not callable(fn):
                raise InvalidType(f"{name} must be a function, not {fn!r}")
        self._events = list(events)
        self._apply = apply
        self._every = checkpoint_every
        self._render = render
        self._edge_of = edge_of
        self.title = title
        self._graph = None if graph is None else _as_flow_graph(graph)
        self._widgets: dict[str, Any] | None = None
        self._syncing = False
        self._png_cache: dict[Any, bytes] = {}

        # One full fold, keeping a deep copy of the state every k events.
        self._checkpoints = [copy.deepcopy(initial)]
        state = copy.deepcopy(initial)
        for number, event in enumerate(self._events, start=1):
            state = self._fold(state, event, number)
            if number % checkpoint_every == 0:
                self._checkpoints.append(copy.deepcopy(state))
        self._state = state
        self._position = len(self._events)
        self.goto(start)

    # -- the headless API --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._events)

    @property
    def position(self) -> int:
        """How many events have been applied (0 = the initial state)."""
        return self._position

    @property
    def state(self) -> Any:
        """The state after the first ``position`` events (the player's own: don't change it)."""
        return self._state

    @property
    def event(self) -> Any:
        """The event that led to the current state (``None`` at position 0)."""
        return self._events[self._position - 1] if self._position else None

    @property
    def events(self) -> tuple[Any, ...]:
        """All the events, in order."""
        return tuple(self._events)

    @property
    def checkpoint_every(self) -> int:
        """The distance between checkpoints: a jump costs fewer ``apply`` calls than this."""
        return self._every

    def goto(self, n: int) -> ReplayPlayer:
        """Move to the state after the first ``n`` events (0 <= n <= len); returns the player."""
        try:
            n = operator.index(n)
        except TypeError:
            raise InvalidType(f"goto() needs a whole number, not {type(n).__name__}") from None
        if not 0 <= n <= len(self._events):
            raise InvalidValue(
                f"goto({n}): the position must be between 0 and "
                f"{len(self._events)} (the number of events)"
            )
        base = (n // self._every) * self._every
        if not base <= self._position <= n:  # the cursor is not on the way: use a checkpoint
            self._state = copy.deepcopy(self._checkpoints[n // self._every])
            self._position = base
        for index in range(self._position, n):
            self._state = self._fold(self._state, self._events[index], index + 1)
            self._position = index + 1
        self._position = n
        self._refresh()
        return self

    def step(self) -> ReplayPlayer:
        """One event forward (stays put at the end)."""
        return self.goto(min(self._position + 1, len(self._events)))

    def back(self) -> ReplayPlayer:
        """One event back (stays put at the start)."""
        return self.goto(max(self._position - 1, 0))

    def _fold(self, state: Any, event: Any, number: int) -> Any:
        try:
            new = self._apply(state, event)
        except Exception as error:
            error.add_note(
                f"(ReplayPlayer: apply raised at event {number}: {describe_event(event)})"
            )
            raise
        if new is None and state is not None:
            raise InvalidType(
                f"apply returned None at event {number} ({describe_event(event)}): "
                "apply(state, event) must return the new state (a missing `return`?)"
            )
        return new

    # -- what is shown -----------------------------------------------------------------

    def _window(self) -> list[tuple[int, str]]:
        """(number, text) of the events around the cursor; number 0 is the start."""
        low = max(self._position - NEIGHBOURS, 0)
        high = min(self._position + NEIGHBOURS, len(self._events))
        rows = []
        for number in range(low, high + 1):
            if number == 0:
                rows.append((0, "start: no event applied yet"))
            else:
                rows.append((number, describe_event(self._events[number - 1])))
        return rows

    def _state_text(self) -> str:
        if self._render is None:
            return format_state(self._state)
        return str(self._render(self._state))

    def _headline(self) -> str:
        where = (
            "before any event"
            if self._position == 0
            else f"after event {self._position} of {len(self._events)}"
        )
        return f"{self.title}: {len(self._events)} events, {where}"

    def summary(self) -> str:
        """The player as plain text: where it is, the events around, the state."""
        lines = [self._headline()]
        for number, text in self._window():
            marker = "▶" if number == self._position else " "
            lines.append(f"  {marker} {number:>4}  {text}")
        lines.append("state:")
        lines.extend("  " + line for line in self._state_text().splitlines())
        return "\n".join(lines)

    def _event_html(self) -> str:
        rows = []
        for number, text in self._window():
            current = number == self._position
            style = (
                "background:#e7f1ff;color:#111111;font-weight:bold;"
                if current
                else "color:#888888;"
                if number > self._position
                else ""
            )
            rows.append(
                f'<div style="{style}{_ROW_STYLE}">'
                f"{'▶' if current else ' '} {number:>4}  {html.escape(text)}</div>"
            )
        return "".join(rows)

    def _state_html(self) -> str:
        if self._render is not None:
            shown = self._render(self._state)
            if hasattr(shown, "_repr_html_"):
                return f"<div><b>state</b></div>{shown._repr_html_()}"
            text = str(shown)
        else:
            text = format_state(self._state)
        return f'<div><b>state</b></div><pre style="{_STATE_STYLE}">{html.escape(text)}</pre>'

    def _static_html(self) -> str:
        return (
            '<div class="eda-replay-static" style="border:1px solid #dddddd;'
            'border-radius:6px;padding:6px 10px;">'
            f"<div><b>{html.escape(self._headline())}</b> "
            '<span style="color:#888888;">(run the notebook in Jupyter to play and scrub)'
            "</span></div>"
            f"{self._event_html()}{self._state_html()}</div>"
        )

    def __repr__(self) -> str:
        return f"<ReplayPlayer: {len(self._events)} events, at position {self._position}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Jupyter display: the live widget, plus stable text and HTML for static viewers.

        GitHub, nbviewer and nbconvert cannot run widgets; they show the text/html part.
        Both text parts are deterministic, so nbval compares them safely (it skips the widget
        part, whose model id changes every run).
        """
        data: dict[str, Any] = {"text/plain": self.summary(), "text/html": self._static_html()}
        try:
            root = self.widget
        except ImportError:  # ipywidgets not installed: the static view is all there is
            return data
        data["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2,
            "version_minor": 0,
            "model_id": root.model_id,
        }
        return data

    # -- the widgets -------------------------------------------------------------------

    @property
    def widget(self) -> Any:
        """The ipywidgets box with the controls and views (built on first use)."""
        if self._widgets is None:
            self._widgets = self._build()
            self._refresh()
        return self._widgets["root"]

    def show(self) -> None:
        """Display the player (same as ending a cell with it)."""
        from IPython.display import display

        display(self)

    def _build(self) -> dict[str, Any]:
        import ipywidgets as w

        n = len(self._events)
        play = w.Play(
            value=self._position,
            min=0,
            max=n,
            step=1,
            interval=800,
            description="play",
            tooltip="play / pause",
        )
        slider = w.IntSlider(
            value=self._position,
            min=0,
            max=n,
            description="event",
            continuous_update=True,
            layout=w.Layout(flex="1 1 auto", min_width="200px"),
        )
        w.jslink((play, "value"), (slider, "value"))
        back = w.Button(
            description="◀ back", tooltip="one event back", layout=w.Layout(width="auto")
        )
        back.add_class("eda-replay-back")
        step = w.Button(
            description="step ▶", tooltip="one event forward", layout=w.Layout(width="auto")
        )
        step.add_class("eda-replay-step")
        speed = w.Dropdown(
            options=_SPEEDS, value=800, description="speed", layout=w.Layout(width="150px")
        )
        speed.style.description_width = "45px"
        event_view = w.HTML()
        event_view.add_class("eda-replay-event")
        state_view = w.HTML()
        state_view.add_class("eda-replay-state")
        parts = {
            "play": play,
            "slider": slider,
            "back": back,
            "step": step,
            "speed": speed,
            "event": event_view,
            "state": state_view,
        }

        def on_speed(change: dict[str, Any]) -> None:
            play.interval = change["new"]

        def on_slider(change: dict[str, Any]) -> None:
            if not self._syncing:
                self.goto(change["new"])

        speed.observe(on_speed, "value")
        slider.observe(on_slider, "value")
        back.on_click(lambda _button: self.back())
        step.on_click(lambda _button: self.step())

        title = w.HTML(f"<b>{html.escape(self.title)}</b>")
        controls = w.HBox(
            [back, play, step, slider, speed],
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        left = w.VBox(
            [event_view, state_view], layout=w.Layout(flex="1 1 360px", min_width="300px")
        )
        body = [left]
        if self._graph is not None:
            graph_view = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
            graph_view.add_class("eda-replay-graph")
            parts["graph"] = graph_view
            body.append(graph_view)
        root = w.VBox(
            [
                title,
                controls,
                w.HBox(body, layout=w.Layout(flex_flow="row wrap", align_items="flex-start")),
            ]
        )
        root.add_class("eda-replay")
        parts["root"] = root
        return parts

    def _refresh(self) -> None:
        """Bring the widgets (if shown) in line with the cursor."""
        parts = self._widgets
        if parts is None:
            return
        self._syncing = True
        try:
            parts["slider"].value = self._position
            parts["event"].value = self._event_html()
            parts["state"].value = self._state_html()
            if "graph" in parts:
                parts["graph"].value = self._graph_png()
        finally:
            self._syncing = False

    def _highlight(self) -> Any:
        """What to highlight in the graph for the current event (``None``: nothing)."""
        from .flow import edge_for, node_id, resolve_highlight

        event = self.event
        if event is None:
            return None
        if self._edge_of is not None:
            wanted = self._edge_of(event)
        elif isinstance(event, TraceRecord):
            wanted = edge_for(event)
        elif hasattr(event, "type"):
            wanted = node_id("event", str(event.type))
        else:
            return None
        try:
            resolve_highlight(self._graph, wanted)
        except (KeyError, ValueError, TypeError):
            return None  # not in this graph: draw it plain rather than fail the player
        return wanted

    def _graph_png(self) -> bytes:
        """The flow picture with the current edge highlighted, as PNG (cached per edge)."""
        highlight = self._highlight()
        key = repr(highlight)
        if key not in self._png_cache:
            self._png_cache[key] = render_flow_png(self._graph, highlight)
        return self._png_cache[key]


def render_flow_png(graph: Any, highlight: Any = None, dpi: int = 80) -> bytes:
    """``viz.draw_flow`` as PNG bytes, on a private figure (no pyplot, nothing shown inline)."""
    from io import BytesIO

    from matplotlib.figure import Figure

    from .flow import draw_flow, flow_figsize

    figure = Figure(figsize=flow_figsize(graph), dpi=dpi)
    draw_flow(graph, ax=figure.add_axes((0.0, 0.0, 1.0, 1.0)), highlight=highlight)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _as_flow_graph(graph: Any) -> Any:
    from .flow import as_graph

    return as_graph(graph)
