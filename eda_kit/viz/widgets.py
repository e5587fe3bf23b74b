"""The replay player: scrub through a list of events and watch the state change.

Event sourcing says *state is a fold over events*: start from ``initial`` and apply each event
in turn. ``ReplayPlayer`` lets you walk that fold back and forth, like a time-travel debugger::

    def apply(balance, event):                      # a pure fold step: returns the new state
        return balance + event.data["amount"]

    player = ReplayPlayer(events, apply, initial=0)
    player.goto(3).state      # the balance after the first 3 events
    player.change             # what event 3 changed: [Change('changed', (), 250, 300)]
    player.step(); player.back(); player.position; player.event; len(player)
    player.only(type="Deposited")   # step and back now skip to the next deposit
    player                    # in Jupyter: play / step / slider / speed, the event, the
                              # state with the change marked, and a picture of the moment

It works without a browser (tests and plain Python use ``goto``, ``step``, ``back``), and in
Jupyter it shows ipywidgets controls. ipywidgets is imported only when the controls are
first shown; matplotlib only when a picture is drawn.

**A picture at the cursor.** ``picture=`` draws the moment beside the state (see
``viz.pictures``): the flow graph of the trace so far, a value over versions, a saga's steps,
streams as lanes, the two sides of CQRS. ``graph=`` a trace (the player's own records) is the
flow graph *at the cursor*: counts and outcomes of the first ``k`` steps only, the current
edge highlighted, what comes later faint. Every picture shows only what has happened.

**What changed.** The state panel marks the keys the event at the cursor added or changed,
and a line per change says what it was (``~ orders.A1.status: "placed" → "paid"``; see
``viz.changes``). ``only(type=..., stream=...)`` (the "show" menu in Jupyter) makes step and
back skip to the events you care about; the state is still the fold of *all* events.

**Checkpoints, so any jump is cheap.** Replaying from event 0 on every jump would cost up to
``len(events)`` calls of ``apply``. Instead, the player folds once at construction and keeps
checkpoints (copies of the state) along the way, at least ``checkpoint_every`` events apart
and further apart as the state grows (``viz.checkpoints``): building costs O(n), the
checkpoints hold at most 64 bytes per event, and ``goto(n)`` starts from the nearest
checkpoint at or before ``n`` (or from the current position, when that is on the way), so it
calls ``apply`` at most ``player.longest_jump`` times.

**Copies, so apply can't spoil a checkpoint.** Checkpoints are private copies, and a jump
folds from a fresh copy of one. So even an ``apply`` that changes its ``state`` argument in
place (and returns it) gives right answers. Prefer a pure ``apply`` anyway: it is what the
course teaches. ``initial`` is never changed. ``player.state`` is the player's working
state: read it, don't change it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from ..errors import InvalidType, InvalidValue
from ..trace import Tracer, TraceRecord
from .changes import Change, diff, mark_of, state_lines, wrap
from .checkpoints import BYTES_PER_EVENT, Checkpoints, capture, restore

__all__ = ["ReplayPlayer", "tally", "describe_event", "format_state", "facets"]

DEFAULT_CHECKPOINT_EVERY = 100
#: How many events before and after the cursor the event view lists.
NEIGHBOURS = 2
_MAX_STATE_CHARS = 4000
_MAX_CHANGES = 12  # change lines shown; the rest are counted
_WRAP = 72  # state lines are broken (at item and word boundaries) past this many characters
_PICTURES_CACHED = 64
# Long lines wrap at spaces only: a word is never cut ("statu" / "s"); a word longer than
# the column scrolls sideways instead.
_WRAP_STYLE = "white-space:pre-wrap;overflow-wrap:normal;word-break:normal;"
# a hanging indent: a wrapped row continues under its text, not under its number
_ROW_STYLE = (
    f"padding:1px 6px 1px calc(6px + 8ch);text-indent:-8ch;{_WRAP_STYLE}font-family:monospace;"
)
_STATE_STYLE = f"margin:2px 0;max-height:320px;overflow:auto;{_WRAP_STYLE}"
_MARK_STYLE = {
    "added": "background:#d9f2d9;",
    "changed": "background:#fff0c2;",
    "removed": "background:#f9d6d5;text-decoration:line-through;",
}
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


def _pretty(value: Any) -> str:
    """JSON text, one line per item when it is long, long lines wrapped at item boundaries."""
    return "\n".join(
        part for text, _path, _whole in state_lines(value) for part in wrap(text, _WRAP)
    )


def _shows_as_data(state: Any) -> bool:
    return (
        state is None
        or isinstance(state, (Mapping, list, tuple, set, frozenset, str, int, float, Enum))
        or (dataclasses.is_dataclass(state) and not isinstance(state, type))
    )


def format_state(state: Any) -> str:
    """The state as readable text: pretty JSON for data, fields for plain objects.

    Dicts, lists, numbers, strings and dataclasses print as JSON (short parts on one line);
    an object with no ``__repr__`` of its own prints as its class and public attributes;
    any other object (one with its own ``__repr__``, such as an ``Aggregate``) as its repr.
    """
    if _has_default_repr(state):
        text = f"{type(state).__name__} {_pretty(_plain(state))}"  # e.g. "Account {...}"
    elif _shows_as_data(state):
        text = _pretty(_plain(state))
    else:
        text = repr(state)
    if len(text) > _MAX_STATE_CHARS:
        text = text[:_MAX_STATE_CHARS] + f"\n… ({len(text) - _MAX_STATE_CHARS} more characters)"
    return text


def facets(event: Any) -> list[tuple[str, str]]:
    """What an event can be filtered by: ``[("type", ...), ("stream", ...)]`` for an Event,
    ``[("event", ...), ("participant", sender), ("participant", receiver)]`` for a trace step.
    """
    if isinstance(event, TraceRecord):
        found = [("event", event.event), ("participant", event.source)]
        if event.target is not None:
            found.append(("participant", event.target))
        return found
    found = []
    if hasattr(event, "type"):
        found.append(("type", str(event.type)))
    if getattr(event, "stream_id", ""):
        found.append(("stream", str(event.stream_id)))
    return found


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
    - ``picture``: what to draw beside the state at the cursor (``viz.pictures``).
    - ``graph``: a flow graph (``viz.flow_graph``) or a trace. When it is the player's own
      trace, the picture is the flow graph *at the cursor* (``pictures.FlowPicture``);
      otherwise the given graph with the current event's edge highlighted, where
      ``edge_of(event)`` says which edge or node (by default a ``TraceRecord``'s own edge,
      or an ``Event``'s event node).
    - ``render(state) -> str`` (or an object with ``_repr_html_``): how to show the state;
      by default pretty JSON-like text with the change at the cursor marked.
    - ``checkpoint_every``: the least distance between checkpoints (they spread out further
      as the state grows: see ``viz.checkpoints``).
    - ``start``: where the cursor starts (default 0: before any event).

    Position ``n`` means "after the first n events": 0 is the initial state and
    ``len(player)`` the final one. ``player.event`` is the event that led there, and
    ``player.change`` what it changed.
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
        picture: Any = None,
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
        if picture is not None and not all(
            callable(getattr(picture, method, None)) for method in ("figsize", "key", "draw")
        ):
            raise InvalidType(
                f"picture must have figsize, key and draw methods (see viz.pictures), "
                f"not {type(picture).__name__}"
            )
        self._events = list(events)
        self._apply = apply
        self._render = render
        self.title = title
        self._picture = picture
        if picture is None and graph is not None:
            self._picture = _picture_for(graph, self._events, edge_of)
        self._widgets: dict[str, Any] | None = None
        self._syncing = False
        self._png_cache: OrderedDict[Any, bytes] = OrderedDict()
        self._match: dict[str, str] = {}
        self._before: Any = _UNKNOWN  # the plain state before the cursor's event, once known
        watch = getattr(self._picture, "watch", None)

        # One full fold, keeping checkpoints spaced by the state's size.
        self._checkpoints = Checkpoints(checkpoint_every, BYTES_PER_EVENT)
        state = restore(capture(initial))  # a private copy: initial is never changed
        self._checkpoints.keep_if_due(0, state)
        if watch is not None:
            watch(0, state, None)
        for number, event in enumerate(self._events, start=1):
            state = self._fold(state, event, number)
            self._checkpoints.keep_if_due(number, state)
            if watch is not None:
                watch(number, state, event)
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
        """The least distance between checkpoints (small states are kept this often)."""
        return self._checkpoints.every

    @property
    def checkpoints(self) -> Checkpoints:
        """The kept states: their ``positions``, ``sizes`` and ``total_bytes``."""
        return self._checkpoints

    @property
    def longest_jump(self) -> int:
        """The most ``apply`` calls any ``goto`` can need (from a checkpoint to the target)."""
        return self._checkpoints.longest_fold

    @property
    def picture(self) -> Any:
        """What the player draws beside the state (``None``: no picture)."""
        return self._picture

    @property
    def graph(self) -> Any:
        """The flow graph the picture shows at the cursor (``None`` without a flow picture).

        For a player over its own trace: ``flow_graph(records[:position])``.
        """
        if hasattr(self._picture, "graph_at"):
            return self._picture.graph_at(self._position)
        return getattr(self._picture, "graph", None)

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
        if n != self._position:
            self._before = _UNKNOWN
        base = self._checkpoints.position_before(n)
        if not base <= self._position <= n:  # the cursor is not on the way: use a checkpoint
            self._position, self._state = self._checkpoints.before(n)
        watching = self._widgets is not None  # shown: the change panel needs the state before
        for index in range(self._position, n):
            if watching and index == n - 1:
                self._before = _plain(self._state)
            self._state = self._fold(self._state, self._events[index], index + 1)
            self._position = index + 1
        self._position = n
        self._refresh()
        return self

    def step(self) -> ReplayPlayer:
        """One event forward (to the next event ``only`` lets through); stays put at the end."""
        later = [p for p in self._shown_positions(self._position + 1, len(self._events))]
        return self.goto(later[0] if later else self._position)

    def back(self) -> ReplayPlayer:
        """One event back (to the previous one ``only`` lets through, or the start)."""
        earlier = self._shown_positions(1, self._position - 1)
        return self.goto(earlier[-1] if earlier else 0)

    def only(self, **wanted: str | None) -> ReplayPlayer:
        """Let step and back stop only at events with these facets; ``only()`` lets all through.

        ``only(type="OrderPaid")``, ``only(stream="order-A1")`` for events;
        ``only(event="order.created")``, ``only(participant="Kitchen")`` for trace steps
        (see :func:`facets`). The state is still the fold of every event.
        """
        kinds = {kind for event in self._events for kind, _ in facets(event)}
        unknown = [k for k in wanted if k not in kinds]
        if unknown:
            raise InvalidValue(
                f"only({unknown[0]}=...): these events can be filtered by "
                f"{sorted(kinds) or 'nothing'}"
            )
        self._match = {k: str(v) for k, v in wanted.items() if v is not None}
        self._refresh()
        return self

    @property
    def matches(self) -> tuple[int, ...]:
        """The positions whose event ``only`` lets through (all of them without a filter)."""
        return tuple(self._shown_positions(1, len(self._events)))

    def _lets_through(self, event: Any) -> bool:
        if not self._match:
            return True
        found = facets(event)
        return all((kind, value) in found for kind, value in self._match.items())

    def _shown_positions(self, low: int, high: int) -> list[int]:
        return [p for p in range(max(low, 1), high + 1) if self._lets_through(self._events[p - 1])]

    @property
    def change(self) -> list[Change]:
        """What the event at the cursor changed in the state (``[]`` at position 0).

        Computed on the plain form of the states (what the state panel prints): keys added,
        changed and removed, each with its path (see ``viz.changes``).
        """
        if self._position == 0:
            return []
        if self._before is _UNKNOWN:  # fold the state just before the cursor, on the side
            at, state = self._checkpoints.before(self._position - 1)
            for index in range(at, self._position - 1):
                state = self._fold(state, self._events[index], index + 1)
            self._before = _plain(state)
        return diff(self._before, _plain(self._state))

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
        """(number, text) of the events around the cursor that ``only`` lets through."""
        earlier = self._shown_positions(1, self._position - 1)[-NEIGHBOURS:]
        later = self._shown_positions(self._position + 1, len(self._events))[:NEIGHBOURS]
        rows = []
        for number in [*([0] if len(earlier) < NEIGHBOURS else []), *earlier]:
            rows.append((number, self._describe(number)))
        if self._position or not rows:
            rows.append((self._position, self._describe(self._position)))
        rows.extend((number, self._describe(number)) for number in later)
        return rows

    def _describe(self, number: int) -> str:
        if number == 0:
            return "start: no event applied yet"
        return describe_event(self._events[number - 1])

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
        shown = ""
        if self._match:
            which = ", ".join(f"{k} {v}" for k, v in self._match.items())
            shown = f" (showing {which}: {len(self.matches)} events)"
        return f"{self.title}: {len(self._events)} events, {where}{shown}"

    def _change_lines(self) -> list[tuple[str, str]]:
        """(kind, text) per change at the cursor; kind "" for the words around them."""
        if self._position == 0:
            return [("", "what changed: nothing yet (no event applied)")]
        changes = self.change
        if not changes:
            return [
                ("", f"what changed: no change (event {self._position} left the state as it was)")
            ]
        lines = [("", f"what changed at event {self._position}:")]
        lines.extend((c.kind, str(c)) for c in changes[:_MAX_CHANGES])
        if len(changes) > _MAX_CHANGES:
            lines.append(("", f"… and {len(changes) - _MAX_CHANGES} more changes"))
        return lines

    def summary(self) -> str:
        """The player as plain text: where it is, the events around, what changed, the state."""
        lines = [self._headline()]
        for number, text in self._window():
            marker = "▶" if number == self._position else " "
            lines.append(f"  {marker} {number:>4}  {text}")
        lines.extend(text if not kind else "  " + text for kind, text in self._change_lines())
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

    def _change_html(self) -> str:
        rows = []
        for kind, text in self._change_lines():
            if kind:
                rows.append(
                    f'<div class="eda-{kind}" style="{_MARK_STYLE[kind]}{_ROW_STYLE}">'
                    f"{html.escape(text)}</div>"
                )
            else:
                rows.append(f"<div><b>{html.escape(text)}</b></div>")
        return "".join(rows)

    def _marked_state_html(self) -> str:
        """The state's lines, those the cursor's event added or changed marked like a diff."""
        plain = _plain(self._state)
        changes = self.change
        prefix = f"{type(self._state).__name__} " if _has_default_repr(self._state) else ""
        rows = []
        for number, (text, path, whole) in enumerate(state_lines(plain)):
            shown = "\n".join(wrap((prefix if number == 0 else "") + text, _WRAP))
            kind = mark_of(path, whole, changes)
            if kind:
                rows.append(
                    f'<span class="eda-{kind}" style="{_MARK_STYLE[kind]}">'
                    f"{html.escape(shown)}</span>"
                )
            else:
                rows.append(html.escape(shown))
        return "\n".join(rows)

    def _state_html(self) -> str:
        if self._render is not None:
            shown = self._render(self._state)
            if hasattr(shown, "_repr_html_"):
                return f"<div><b>state</b></div>{shown._repr_html_()}"
            body = html.escape(str(shown))
        elif _has_default_repr(self._state) or _shows_as_data(self._state):
            body = self._marked_state_html()
        else:
            body = html.escape(format_state(self._state))
        return f'<div><b>state</b></div><pre style="{_STATE_STYLE}">{body}</pre>'

    def _caption(self) -> str:
        if self._position == 0:
            return f"picture before any event (0 of {len(self._events)})"
        return (
            f"picture after event {self._position} of {len(self._events)}: "
            f"{self._describe(self._position)}"
        )

    def _static_html(self) -> str:
        return (
            '<div class="eda-replay-static" style="border:1px solid #dddddd;'
            'border-radius:6px;padding:6px 10px;">'
            f"<div><b>{html.escape(self._headline())}</b> "
            '<span style="color:#888888;">(run the notebook in Jupyter to play and scrub)'
            "</span></div>"
            f"{self._event_html()}{self._change_html()}{self._state_html()}</div>"
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

    def _filter_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [("all events", _ALL)]
        seen: dict[tuple[str, str], None] = {}
        for event in self._events:
            for facet in facets(event):
                seen.setdefault(facet, None)
        for kind in ("type", "stream", "event", "participant"):
            options.extend((f"{kind}: {value}", (kind, value)) for k, value in seen if k == kind)
        return options

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
        options = self._filter_options()
        show = w.Dropdown(
            options=options,
            value=_ALL,
            description="show",
            tooltip="step and back stop only at these events",
            layout=w.Layout(width="260px"),
        )
        show.style.description_width = "40px"
        show.add_class("eda-replay-filter")
        event_view = w.HTML()
        event_view.add_class("eda-replay-event")
        change_view = w.HTML()
        change_view.add_class("eda-replay-change")
        state_view = w.HTML()
        state_view.add_class("eda-replay-state")
        parts = {
            "play": play,
            "slider": slider,
            "back": back,
            "step": step,
            "speed": speed,
            "show": show,
            "event": event_view,
            "change": change_view,
            "state": state_view,
        }

        def on_speed(change: dict[str, Any]) -> None:
            play.interval = change["new"]

        def on_slider(change: dict[str, Any]) -> None:
            if not self._syncing:
                self.goto(change["new"])

        def on_show(change: dict[str, Any]) -> None:
            chosen = change["new"]
            self.only(**({} if chosen == _ALL else {chosen[0]: chosen[1]}))

        speed.observe(on_speed, "value")
        slider.observe(on_slider, "value")
        show.observe(on_show, "value")
        back.on_click(lambda _button: self.back())
        step.on_click(lambda _button: self.step())

        title = w.HTML(f"<b>{html.escape(self.title)}</b>")
        controls = w.HBox(
            [back, play, step, slider, speed] + ([show] if len(options) > 2 else []),
            layout=w.Layout(align_items="center", flex_flow="row wrap"),
        )
        left = w.VBox(
            [event_view, change_view, state_view],
            layout=w.Layout(flex="1 1 360px", min_width="300px"),
        )
        body = [left]
        if self._picture is not None:
            picture_view = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
            picture_view.add_class("eda-replay-graph")
            caption = w.HTML()
            caption.add_class("eda-replay-caption")
            parts["graph"] = picture_view
            parts["caption"] = caption
            body.append(w.VBox([picture_view, caption], layout=w.Layout(max_width="100%")))
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
            parts["change"].value = self._change_html()
            parts["state"].value = self._state_html()
            if "graph" in parts:
                parts["graph"].value = self._picture_png()
                parts[
                    "caption"
                ].value = (
                    f'<div style="color:#555555;{_WRAP_STYLE}">{html.escape(self._caption())}</div>'
                )
        finally:
            self._syncing = False

    def _picture_png(self) -> bytes:
        """The picture at the cursor, as PNG (the most recent drawings are cached by key)."""
        from .pictures import render_png

        key = self._picture.key(self)
        if key in self._png_cache:
            self._png_cache.move_to_end(key)
        else:
            self._png_cache[key] = render_png(self._picture, self)
            if len(self._png_cache) > _PICTURES_CACHED:
                self._png_cache.popitem(last=False)
        return self._png_cache[key]

    def _graph_png(self) -> bytes:
        return self._picture_png()


_UNKNOWN = object()
_ALL = "all"  # the "show" menu's value for "all events" (None would show as no choice)


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


def _picture_for(graph: Any, events: list[Any], edge_of: Callable[[Any], Any] | None) -> Any:
    """The picture for ``graph=``: the flow at the cursor for the player's own trace."""
    from .pictures import FlowPicture, HighlightPicture

    records = graph.records if isinstance(graph, Tracer) else graph
    own_trace = (
        edge_of is None
        and isinstance(records, (list, tuple))
        and len(records) == len(events)
        and all(isinstance(r, TraceRecord) for r in records)
        and all(a is b or a == b for a, b in zip(records, events, strict=True))
    )
    if own_trace:
        return FlowPicture(list(records))
    return HighlightPicture(graph, edge_of)
