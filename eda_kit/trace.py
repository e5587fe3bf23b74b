"""Traces: who sent which event to whom, and how it ended.

Every component of eda_kit (emitter, bus, store subscriptions, saga...) can be given a
``Tracer``. As it works, it reports each step as one line of a trace::

    seq  source          event          target           outcome
    1    OrderService    order.created  -                sent
    2    OrderService    order.created  EmailService     delivered
    3    OrderService    order.created  InventoryService failed     (KeyError: 'sku')

The pictures (``eda_kit.viz``) and the replay player (``eda_kit.viz.widgets``) read traces; they
never look inside the components. That keeps the arrows one way: components -> trace -> views.

Tracing is opt-in and cheap: a component with no tracer skips it entirely, and a tracer keeps
plain tuples until someone reads ``records``::

    >>> tracer = Tracer()
    >>> tracer.record("OrderService", "order.created", None, "sent")
    >>> tracer.record("OrderService", "order.created", "EmailService", "delivered")
    >>> print(tracer.table())
    seq  source        event          target        outcome    detail
    1    OrderService  order.created  -             sent
    2    OrderService  order.created  EmailService  delivered
    >>> [r.target for r in tracer.where(outcome="delivered")]
    ['EmailService']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import InvalidType

__all__ = ["TraceRecord", "Tracer", "OUTCOMES", "handler_name"]

#: The outcomes the components report, and what each means.
OUTCOMES = {
    "sent": "the source emitted or published the event (target is None)",
    "delivered": "the target handled the event without raising",
    "failed": "the target raised while handling the event (detail holds the error)",
    "retried": "a failed delivery is being tried again (attempt counts from 1)",
    "dead_lettered": "the delivery gave up and was parked in the dead-letter queue",
    "unhandled": "nobody was listening: the event went nowhere",
    "started": "a saga step began (target is the step)",
    "done": "a saga step finished",
    "compensated": "a saga step was undone by its compensation",
}


def handler_name(handler: Any) -> str:
    """How traces, reports and errors name a handler: its qualified name, never an address.

    >>> def send_email(event): ...
    >>> handler_name(send_email)
    'send_email'
    >>> class Inventory:
    ...     def __call__(self, event): ...
    >>> handler_name(Inventory())
    'Inventory'
    """
    return getattr(handler, "__qualname__", None) or type(handler).__qualname__


class _Row(NamedTuple):
    source: str
    event: str
    target: str | None
    outcome: str
    attempt: int
    detail: str
    event_id: str | None
    via: str | None


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One step of a trace.

    - ``seq``: 1, 2, 3... in the order things happened.
    - ``source``: who sent the event (a service, an emitter, a saga).
    - ``event``: the event's type or topic.
    - ``target``: who received it (``None`` for the "sent" record itself).
    - ``outcome``: one of :data:`OUTCOMES` (or a component's own word).
    - ``attempt``: which delivery attempt this was (1 for the first).
    - ``detail``: extra text, e.g. the error of a failed delivery.
    - ``event_id``: the id of the ``Event``, when there was one.
    - ``via``: the route taken, e.g. the subscription pattern ``"order.*"``.
    """

    seq: int
    source: str
    event: str
    target: str | None
    outcome: str
    attempt: int = 1
    detail: str = ""
    event_id: str | None = None
    via: str | None = None

    def __str__(self) -> str:
        target = self.target if self.target is not None else "-"
        line = f"{self.seq:>3}  {self.source} --{self.event}--> {target}: {self.outcome}"
        if self.attempt > 1:
            line += f" (attempt {self.attempt})"
        if self.detail:
            line += f" [{self.detail}]"
        return line


class Tracer:
    """An append-only record of deliveries. Give one to a component; read it afterwards."""

    def __init__(self) -> None:
        self._rows: list[_Row] = []

    def record(
        self,
        source: str,
        event: str,
        target: str | None = None,
        outcome: str = "delivered",
        *,
        attempt: int = 1,
        detail: str = "",
        event_id: str | None = None,
        via: str | None = None,
    ) -> None:
        """Add one step. Components call this; learners usually only read."""
        self._rows.append(_Row(source, event, target, outcome, attempt, detail, event_id, via))

    @property
    def records(self) -> list[TraceRecord]:
        """All steps so far, oldest first (a fresh list: changing it changes nothing here)."""
        return [TraceRecord(i, *row) for i, row in enumerate(self._rows, start=1)]

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> TraceRecord:
        row = self._rows[index]
        seq = index + 1 if index >= 0 else len(self._rows) + index + 1
        return TraceRecord(seq, *row)

    def where(self, **fields: Any) -> list[TraceRecord]:
        """The steps whose fields equal the given values, e.g. ``where(outcome="failed")``."""
        unknown = set(fields) - set(TraceRecord.__dataclass_fields__)
        if unknown:
            raise InvalidType(f"TraceRecord has no field(s) {sorted(unknown)}")
        return [r for r in self.records if all(getattr(r, k) == v for k, v in fields.items())]

    def participants(self) -> list[str]:
        """Everyone who sent or received something, in order of first appearance."""
        seen: dict[str, None] = {}
        for row in self._rows:
            seen.setdefault(row.source, None)
            if row.target is not None:
                seen.setdefault(row.target, None)
        return list(seen)

    def extend(self, other: Tracer) -> None:
        """Append another tracer's steps after this one's (to join two traces into one)."""
        self._rows.extend(other._rows)

    def clear(self) -> None:
        """Forget every step."""
        self._rows.clear()

    def table(self) -> str:
        """The trace as an aligned text table, for printing."""
        header = ("seq", "source", "event", "target", "outcome", "detail")
        rows = [
            (
                str(r.seq),
                r.source,
                r.event,
                r.target or "-",
                r.outcome + (f" #{r.attempt}" if r.attempt > 1 else ""),
                r.detail,
            )
            for r in self.records
        ]
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in (header, *rows)
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Tracer: {len(self._rows)} steps>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython display
        printer.text(self.table() if self._rows else "<Tracer: empty>")
