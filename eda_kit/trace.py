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

import itertools
import operator
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import InvalidType, InvalidValue

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
    "dispatched": "the target was handed the event; a later step says how it ended",
    "skipped": "the target never got the event: an earlier listener raised and stopped the emit",
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
    """An append-only record of deliveries. Give one to a component; read it afterwards.

    ``Tracer(max_records=n)`` keeps only the newest ``n`` steps: a long-running program can
    trace forever in bounded memory. The oldest steps are dropped, :attr:`dropped` counts them,
    and the kept ones keep their ``seq`` (so a table that starts at seq 1001 says so). Without
    ``max_records`` a tracer grows with every step: give long runs a cap, or ``clear()`` it.

    Thread-safe: components on several threads may report to one tracer.
    """

    def __init__(self, max_records: int | None = None) -> None:
        if max_records is not None and (
            isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1
        ):
            raise InvalidValue(
                f"max_records must be a whole number >= 1 or None, not {max_records!r}"
            )
        self.max_records = max_records
        self._rows: deque[_Row] = deque(maxlen=max_records)
        self._total = 0  # steps ever recorded: the seq of the newest one
        self._pending: dict[int, _Row] = {}  # dispatched, outcome still to come (by seq)
        self._lock = threading.Lock()

    @property
    def dropped(self) -> int:
        """How many of the oldest steps were dropped to keep within ``max_records``."""
        return self._total - len(self._rows)

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
        row = _Row(source, event, target, outcome, attempt, detail, event_id, via)
        with self._lock:
            self._rows.append(row)
            self._total += 1

    def dispatch(
        self,
        source: str,
        event: str,
        target: str,
        *,
        attempt: int = 1,
        event_id: str | None = None,
        via: str | None = None,
    ) -> int:
        """Record that ``target`` was handed ``event`` (outcome ``"dispatched"``); return its seq.

        Call :meth:`finish` with that seq when the handler ends. So a trace lists a cause
        before its effects even when the handler emits more events or runs later (a coroutine).
        """
        row = _Row(source, event, target, "dispatched", attempt, "", event_id, via)
        with self._lock:
            self._rows.append(row)
            self._total += 1
            self._pending[self._total] = row
            return self._total

    def finish(self, seq: int, outcome: str = "delivered", *, detail: str = "") -> None:
        """The handler dispatched at ``seq`` (see :meth:`dispatch`) ended with ``outcome``.

        When nothing was recorded in between, the "dispatched" step itself becomes the outcome:
        one step, as for a plain call. Otherwise the outcome is a new step, after the steps the
        handler caused: the trace never shows an effect before its cause.
        """
        with self._lock:
            try:
                started = self._pending.pop(seq)
            except KeyError:
                raise InvalidValue(
                    f"finish: seq {seq} is not a dispatched step still waiting for its outcome"
                ) from None
            ended = started._replace(outcome=outcome, detail=detail)
            if seq == self._total and self._rows:
                self._rows[-1] = ended
            else:
                self._rows.append(ended)
                self._total += 1

    @property
    def records(self) -> list[TraceRecord]:
        """All steps kept, oldest first (a fresh list: changing it changes nothing here)."""
        with self._lock:
            first, rows = self.dropped + 1, list(self._rows)
        return [TraceRecord(seq, *row) for seq, row in enumerate(rows, start=first)]

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> TraceRecord:
        with self._lock:
            row = self._rows[index]
            position = index if index >= 0 else len(self._rows) + index
            return TraceRecord(self.dropped + position + 1, *row)

    def where(self, **fields: Any) -> list[TraceRecord]:
        """The steps whose fields equal the given values, e.g. ``where(outcome="failed")``.

        Only the matching steps are built into records, so a query over a million steps
        costs one pass over plain tuples.
        """
        unknown = set(fields) - set(TraceRecord.__dataclass_fields__)
        if unknown:
            raise InvalidType(f"TraceRecord has no field(s) {sorted(unknown)}")
        with self._lock:
            first, rows = self.dropped + 1, list(self._rows)
        if "seq" in fields:  # a position, not a field of the stored rows
            seq = fields.pop("seq")
            whole = isinstance(seq, int)
            index = seq - first if whole else -1
            rows = rows[index : index + 1] if 0 <= index < len(rows) else []
            first = seq if whole else first
        if not fields:
            return [TraceRecord(seq, *row) for seq, row in enumerate(rows, start=first)]
        names = tuple(fields)
        values = tuple(fields.values())
        pick = operator.itemgetter(*(_Row._fields.index(name) for name in names))
        wanted = values[0] if len(names) == 1 else values
        # One pass in C: pick each row's fields, compare, keep the positions that match.
        same = map(operator.eq, map(pick, rows), itertools.repeat(wanted))
        matches = itertools.compress(itertools.count(), same)
        return [TraceRecord(first + i, *rows[i]) for i in matches]

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
        rows = list(other._rows)
        with self._lock:
            self._rows.extend(rows)
            self._total += len(rows)

    def clear(self) -> None:
        """Forget every step (seq starts again from 1)."""
        with self._lock:
            self._rows.clear()
            self._pending.clear()
            self._total = 0

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
        if self.dropped:
            rows.insert(0, ("…", f"{self.dropped} older steps dropped", "", "", "", ""))
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in (header, *rows)
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        cap = "" if self.max_records is None else f", newest {self.max_records} kept"
        dropped = f", {self.dropped} dropped" if self.dropped else ""
        return f"<Tracer: {len(self._rows)} steps{cap}{dropped}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython display
        printer.text(self.table() if self._rows else "<Tracer: empty>")
