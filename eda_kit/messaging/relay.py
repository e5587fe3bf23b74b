"""The outbox relay: publish what was stored, at least once, in order, never losing any.

**The dual write.** A service that saves its change and *then* publishes an event does two
writes to two systems with no transaction around them::

    repo.save(order)                           # 1. committed
    bus.publish(Event("OrderPlaced", ...))     # 2. the process dies before this line

A crash between 1 and 2 loses the event for good: the order exists, and nobody downstream
ever hears of it. Publishing first is no better (a crash between the two announces an order
that was never saved).

**The outbox.** Write the event *in the same transaction as the change*, then let a separate
relay read it and publish it. Here the events table **is** the outbox: in an event-sourced
service the change *is* the append, so the event and the state can never disagree, the
store's global log already gives every event a position in commit order, and there is no
second table to keep in step. (A service that keeps its state in ordinary tables needs an
outbox table written in the same transaction as its rows; the relay works the same way over
it, through the small :class:`OutboxSource` protocol.) The cost: a relay process to run, a
little latency between the commit and the publish, and duplicates after a crash.

**The relay**, one event at a time (the names are its crash points)::

    read the next stored event after its position
    before_publish     -> target.publish(event)
    after_publish      -> save its position (a checkpoint in the store)
    after_checkpoint

- **Nothing is lost.** The position moves only *after* a publish succeeded, so a crash at any
  point leaves the event at or after the saved position: the next ``run()`` (in a fresh
  process, too) publishes it.
- **At least once, not exactly once.** A crash at ``after_publish`` (published, position not
  yet saved) publishes that event again on restart. Consumers must absorb duplicates: see
  :mod:`eda_kit.messaging.inbox`.
- **In order per stream.** Events go out in global-log order, so each stream's events go out
  in version order. A failed publish stops the relay at that event (``RelayStalled``); it never
  skips ahead.
- **One relay per name.** Two relays with the same name publish the same events twice (still
  at least once, but wasteful): run one.

The target is anything with ``publish(event)`` (:class:`Publisher`): the in-process
``EventBus``, or a broker adapter that returns once the broker has confirmed the message and
raises when it has not. The source is anything with ``read_all`` and checkpoints
(:class:`OutboxSource`): every eda_kit event store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol, runtime_checkable

from ..errors import InvalidType, InvalidValue, RelayStalled
from ..events import Event, RecordedEvent
from .crash import CrashSwitch

__all__ = ["Relay", "Publisher", "OutboxSource", "RELAY_CRASH_POINTS"]

#: Where a relay can be made to crash, in the order it passes them for each event.
RELAY_CRASH_POINTS: Final = ("before_publish", "after_publish", "after_checkpoint")


@runtime_checkable
class Publisher(Protocol):
    """Where a relay publishes: ``publish(event)`` returns once the event is handed over
    (delivered, or confirmed by the broker) and raises when it was not."""

    def publish(self, event: Event) -> Any: ...


@runtime_checkable
class OutboxSource(Protocol):
    """Where a relay reads: stored events in commit order, and a place for its position."""

    def read_all(self, from_position: int = 1, limit: int | None = None) -> list[RecordedEvent]: ...

    def load_checkpoint(self, name: str) -> int: ...

    def save_checkpoint(self, name: str, position: int) -> None: ...


class Relay:
    """Publishes ``source``'s stored events to ``target``, at least once, in order.

    - ``name``: the relay's checkpoint name in the source (its position survives restarts).
    - ``select``: publish only events for which ``select(event)`` is true (others are passed
      over, and the position moves past them); default: every event.
    - ``batch_size``: how many events to read at a time.
    - ``checkpoint_every``: save the position after every ``n`` events (and at the end of each
      run). 1, the default, saves after each event, so a crash re-publishes at most one; on a
      durable store each save is a commit that waits for the disk, so a larger ``n`` is
      faster and re-publishes up to ``n`` events after a crash.
    - ``crash_at`` / ``crash_skip`` / ``hard_crash``: a :class:`CrashSwitch`, for notebooks
      and tests: die at a point of :data:`RELAY_CRASH_POINTS`.

    ``published`` counts the events this object published; ``position`` is the last saved one.
    """

    def __init__(
        self,
        source: OutboxSource,
        target: Publisher,
        *,
        name: str = "relay",
        select: Callable[[RecordedEvent], bool] | None = None,
        batch_size: int = 100,
        checkpoint_every: int = 1,
        crash_at: str | None = None,
        crash_skip: int = 0,
        hard_crash: bool = False,
    ) -> None:
        for method in ("read_all", "load_checkpoint", "save_checkpoint"):
            if not callable(getattr(source, method, None)):
                raise InvalidType(
                    f"a relay reads from an event store; {source!r} has no {method}()"
                )
        if not callable(getattr(target, "publish", None)):
            raise InvalidType(f"a relay publishes to something with publish(event), not {target!r}")
        if not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"a relay needs a non-empty name, not {name!r}")
        if select is not None and not callable(select):
            raise InvalidType(f"select must be a function of an event, not {select!r}")
        if type(batch_size) is not int or batch_size < 1:
            raise InvalidValue(f"batch_size must be an int >= 1, not {batch_size!r}")
        if type(checkpoint_every) is not int or checkpoint_every < 1:
            raise InvalidValue(f"checkpoint_every must be an int >= 1, not {checkpoint_every!r}")
        self.source = source
        self.target = target
        self.name = name
        self.select = select
        self.batch_size = batch_size
        self.checkpoint_every = checkpoint_every
        self.crash = CrashSwitch(crash_at, skip=crash_skip, hard=hard_crash)
        self.crash.check_points(RELAY_CRASH_POINTS, "a relay")
        self.published = 0

    @property
    def position(self) -> int:
        """The position of the last event published *and* saved (0: nothing yet)."""
        return self.source.load_checkpoint(self.name)

    def pending(self) -> list[RecordedEvent]:
        """The stored events not published yet (after the saved position)."""
        return self.source.read_all(self.position + 1)

    def run(self, limit: int | None = None) -> int:
        """Publish every stored event after the saved position (at most ``limit``); return
        how many were published. Raises ``RelayStalled`` if the target refuses one."""
        if limit is not None and (type(limit) is not int or limit < 0):
            raise InvalidValue(f"limit must be None or an int >= 0, not {limit!r}")
        done = 0
        position = saved = self.position
        try:
            while limit is None or done < limit:
                want = self.batch_size if limit is None else min(self.batch_size, limit - done)
                batch = self.source.read_all(position + 1, want)
                if not batch:
                    break
                for event in batch:
                    if self.select is None or self.select(event):
                        self.crash.reached("before_publish")
                        try:
                            self.target.publish(event)
                        except Exception as error:
                            raise RelayStalled(self.name, event, error) from error
                        self.published += 1
                        done += 1
                        self.crash.reached("after_publish")
                    position = event.position
                    if position - saved >= self.checkpoint_every:
                        saved = self._save(position)
                    if limit is not None and done >= limit:
                        break
        finally:
            if position > saved and not self.crash.fired:  # a crash saves nothing more
                self._save(position)
        return done

    def _save(self, position: int) -> int:
        self.source.save_checkpoint(self.name, position)
        self.crash.reached("after_checkpoint")
        return position

    def __repr__(self) -> str:
        return f"<Relay {self.name!r} at position {self.position}: {self.published} published>"
