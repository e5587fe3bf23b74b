r"""After a publish: the report of what happened, and the dead-letter queue.

``EventBus.publish`` (see :mod:`eda_kit.pubsub.bus`) never raises because a handler did. Instead it
tells you what happened in a :class:`PublishReport`, and parks deliveries that failed for good
in a :class:`DeadLetterQueue` of :class:`DeadLetter`\ s, from where ``redeliver()`` can try them
again after a fix (and say what it did in a :class:`RedeliveryReport`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, overload

from ..errors import InvalidValue
from ..events import Event

if TYPE_CHECKING:
    from .bus import Subscription

__all__ = ["DeadLetter", "DeadLetterQueue", "PublishReport", "RedeliveryReport"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that failed every attempt: parked here instead of being lost.

    - ``event``: what could not be delivered;
    - ``subscriber``: the name of the subscription that kept failing;
    - ``error``: the last error, as text (``"KeyError: 'sku'"``);
    - ``attempts``: how many times delivery was tried, redeliveries included;
    - ``pattern``, ``source``: the route it took and who published it.
    """

    event: Event
    subscriber: str
    error: str
    attempts: int
    pattern: str = ""
    source: str = "publisher"
    subscription: Subscription | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"DeadLetter({self.event.type!r} {self.event.id} -> {self.subscriber}, "
            f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}: {self.error})"
        )


class DeadLetterQueue(Sequence[DeadLetter]):
    """``bus.dead_letters``: the failed deliveries, oldest first. Read it like a list.

    The bus adds to it; ``EventBus.redeliver()`` takes out what gets through; ``clear()``
    discards everything (only when you are sure nobody needs those deliveries any more).

    It grows with every delivery that fails for good. To bound it, give the bus a cap:
    ``EventBus(max_dead_letters=n)`` keeps the newest ``n`` and drops the oldest, counting them
    in :attr:`dropped` (RabbitMQ's ``x-max-length`` does the same to a queue). A dropped dead
    letter is a delivery lost for good: watch ``len(bus.dead_letters)`` and ``dropped`` and
    alert well before the cap, rather than counting on it.
    """

    def __init__(self, max_letters: int | None = None) -> None:
        if max_letters is not None and (
            isinstance(max_letters, bool) or not isinstance(max_letters, int) or max_letters < 1
        ):
            raise InvalidValue(
                f"max_dead_letters must be a whole number >= 1 or None, not {max_letters!r}"
            )
        self.max_letters = max_letters
        self.dropped = 0  # the oldest letters dropped to keep within max_letters
        self._letters: list[DeadLetter] = []

    @overload
    def __getitem__(self, index: int) -> DeadLetter: ...
    @overload
    def __getitem__(self, index: slice) -> list[DeadLetter]: ...
    def __getitem__(self, index: int | slice) -> DeadLetter | list[DeadLetter]:
        return self._letters[index]

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(list(self._letters))  # a snapshot: redelivery may change the queue

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeadLetterQueue):
            return self._letters == other._letters
        return isinstance(other, list) and self._letters == other

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable, like a list

    def clear(self) -> None:
        """Discard every dead letter."""
        self._letters.clear()

    def _append(self, letter: DeadLetter) -> None:
        self._letters.append(letter)
        if self.max_letters is not None and len(self._letters) > self.max_letters:
            del self._letters[0]
            self.dropped += 1

    def _remove(self, letter: DeadLetter) -> None:
        for index, held in enumerate(self._letters):
            if held is letter:
                del self._letters[index]
                return

    def __repr__(self) -> str:
        dropped = f", {self.dropped} oldest dropped" if self.dropped else ""
        if not self._letters:
            return f"DeadLetterQueue([]{dropped})"
        lines = "".join(f"\n  {letter!r}," for letter in self._letters)
        return f"DeadLetterQueue([{lines}\n]{dropped})"


# --- reports --------------------------------------------------------------------------------


class Trouble(NamedTuple):
    """A delivery that did not succeed at the first attempt (dead_letter None: it got through).

    The bus builds these while it delivers; a ``PublishReport`` reads them. Not for callers.
    """

    subscription: Subscription
    attempts: int
    dead_letter: DeadLetter | None


class PublishReport:
    """What happened to one published event: who got it, who failed, what was dead-lettered.

    - ``subscribers``: the names the topic routed to, in delivery order;
    - ``delivered``: those whose handler succeeded (perhaps after retries);
    - ``failed``: those whose delivery ended in ``bus.dead_letters``;
    - ``dead_letters``: those dead letters; ``attempts``: name -> attempts used;
    - ``ok``: nothing failed; ``unhandled``: nobody was subscribed;
    - ``queued``: published by a handler during a delivery, not delivered yet (see the
      module docs); ``followups``: reports of events handlers published meanwhile.
    """

    # _route is None while the report is queued; _followups is only set when there are some.
    # The bus fills these slots directly on its hot path (see EventBus.publish).
    __slots__ = ("event", "_route", "_trouble", "_followups")
    event: Event
    _route: tuple[Subscription, ...] | None
    _trouble: list[Trouble] | None
    _followups: tuple[PublishReport, ...]

    def __init__(
        self,
        event: Event,
        route: tuple[Subscription, ...] | None,
        trouble: list[Trouble] | None = None,
    ) -> None:
        self.event = event
        self._route = route
        self._trouble = trouble

    @property
    def topic(self) -> str:
        return self.event.type

    @property
    def queued(self) -> bool:
        return self._route is None

    @property
    def subscribers(self) -> tuple[str, ...]:
        return tuple(sub.name for sub in self._route or ())

    def _dead(self) -> dict[int, DeadLetter]:
        return {
            id(t.subscription): t.dead_letter
            for t in self._trouble or ()
            if t.dead_letter is not None
        }

    @property
    def delivered(self) -> tuple[str, ...]:
        dead = self._dead()
        return tuple(sub.name for sub in self._route or () if id(sub) not in dead)

    @property
    def failed(self) -> tuple[str, ...]:
        dead = self._dead()
        return tuple(sub.name for sub in self._route or () if id(sub) in dead)

    @property
    def dead_letters(self) -> tuple[DeadLetter, ...]:
        dead = self._dead()
        return tuple(dead[id(sub)] for sub in self._route or () if id(sub) in dead)

    @property
    def attempts(self) -> dict[str, int]:
        used = {id(t.subscription): t.attempts for t in self._trouble or ()}
        return {sub.name: used.get(id(sub), 1) for sub in self._route or ()}

    @property
    def ok(self) -> bool:
        return self._route is not None and not self._dead()

    @property
    def unhandled(self) -> bool:
        return self._route == ()

    @property
    def followups(self) -> tuple[PublishReport, ...]:
        return getattr(self, "_followups", ())

    def _fill(self, route: tuple[Subscription, ...], trouble: list[Trouble] | None) -> None:
        self._route, self._trouble = route, trouble

    def __repr__(self) -> str:
        head = f"<PublishReport {self.event.type!r}"
        if self._route is None:
            return f"{head}: queued, goes out when the current delivery finishes>"
        if not self._route:
            return f"{head}: nobody subscribed>"
        attempts = self.attempts
        parts = []
        delivered = [
            name + (f" (attempt {attempts[name]})" if attempts[name] > 1 else "")
            for name in self.delivered
        ]
        if delivered:
            parts.append("delivered to " + ", ".join(delivered))
        for letter in self.dead_letters:
            parts.append(
                f"dead-lettered {letter.subscriber} after {letter.attempts} "
                f"attempt{'s' if letter.attempts != 1 else ''} ({letter.error})"
            )
        if self.followups:
            count = len(self.followups)
            parts.append(f"then {count} follow-up event{'s' if count != 1 else ''}")
        return f"{head}: {'; '.join(parts)}>"


#: ``blank_report(PublishReport)`` makes a report without calling ``__init__``: the bus fills
#: its slots itself on the publish hot path (make bench: "Bus: publish to 3 matching subscribers").
blank_report = object.__new__


@dataclass(frozen=True)
class RedeliveryReport:
    """What ``redeliver()`` did: which dead letters got through, which failed again.

    - ``delivered``: the dead letters now delivered (they left the queue);
    - ``failed``: the *new* dead letters of deliveries that failed again (attempts add up);
    - ``skipped``: dead letters left alone because their subscriber is gone.
    """

    delivered: tuple[DeadLetter, ...] = ()
    failed: tuple[DeadLetter, ...] = ()
    skipped: tuple[DeadLetter, ...] = ()
    followups: tuple[PublishReport, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def __repr__(self) -> str:
        def names(letters: tuple[DeadLetter, ...]) -> str:
            return ", ".join(f"{d.subscriber} <- {d.event.type!r}" for d in letters) or "none"

        return (
            f"<RedeliveryReport delivered: {names(self.delivered)}; "
            f"failed again: {names(self.failed)}; skipped: {names(self.skipped)}>"
        )
