"""EventBus: in-process publish/subscribe with topic routing, retries and dead letters.

A publisher announces *what happened*; it does not know who cares. Subscribers say which
topics they care about, with AMQP patterns (see :mod:`eda_kit.pubsub.topics`)::

    bus = EventBus()
    bus.subscribe("order.created", send_email, name="EmailService")
    bus.subscribe("order.*", update_inventory, name="InventoryService", max_attempts=3)
    bus.subscribe("#", audit, name="AuditLog")

    report = bus.publish(Event("order.created", {"order_id": "A1"}))
    report.delivered      # ('EmailService', 'InventoryService', 'AuditLog')
    bus.dead_letters      # deliveries that failed for good, with the error and attempt count

The topic of an event is its ``type``. The rules of delivery, each of which fixes a real
failure of a naive bus (a dict of handler lists and a loop, or ``Promise.all``):

1. **Isolation.** Handlers run in subscription order, and a handler that raises never stops
   the others, nor does it make ``publish`` raise: one broken subscriber can't take the
   publisher, or its neighbours, down with it.
2. **Retries.** A failing handler is tried again, up to its subscription's ``max_attempts``:
   at once in ``publish``; after an exponential backoff (``backoff_base``, doubled each
   time, capped at ``backoff_max``) in ``publish_async``.
3. **Dead letters.** A delivery that is still failing is parked in ``bus.dead_letters`` as a
   :class:`DeadLetter` (the event, the subscriber's name, the error text, the attempts), not
   dropped. Fix the cause, then ``bus.redeliver()`` (or ``await bus.redeliver_async()``);
   what gets through leaves the queue.
   Delivery is therefore *at least once*: a handler may see an event again (a retry after it
   did half its work, a redelivery), so handlers should be idempotent.
4. **A report.** ``publish`` returns a :class:`PublishReport`: who got the event, who
   failed, what was dead-lettered.
5. **Publishing from a handler is queued.** If a handler publishes while the bus is
   delivering, the new event waits until the current delivery is finished, then goes out
   (the message-bus rule of *Cosmic Python*). Every handler of event A sees A before any
   handler sees the events A caused, and nothing is delivered in a half-finished state. The
   handler gets back a report marked ``queued``; it fills in once the bus has delivered the
   event, before the outermost ``publish`` returns, which lists it in ``followups``.

``publish_async`` runs an event's subscribers concurrently (``asyncio.gather``), with the same
isolation; coroutine handlers are awaited. ``publish`` (synchronous) can't await: a handler
that returns a coroutine counts as a failed delivery that tells you to use ``publish_async``.

Routing is cached: the first publish to a topic matches it against every pattern; later ones
look the answer up in a dict. Any subscribe or unsubscribe clears the cache. With no tracer,
a publish does nothing but that lookup and the handler calls, so it stays close to calling
the handlers by hand. An event goes to the subscriptions that matched when it was published
(Node's emitter copies its listener list the same way): a subscribe or unsubscribe made by a
handler counts from the next event on. An ``EventBus`` belongs to one thread (like an asyncio
event loop).

With a ``Tracer``, each publish is traced as one "sent" step (or "unhandled" if nobody
subscribed) from ``source``, then one step per delivery attempt to each subscriber:
"delivered", "failed" (detail = the error), "retried" (attempt = the new attempt's number)
and "dead_lettered", with ``via`` = the subscription's pattern. An event a handler publishes
is traced as sent by that handler's subscriber; a redelivery as sent by "dead letters".
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, NamedTuple

from ..causation import Cause, cause_of, done_handling, handling
from ..errors import InvalidType, InvalidValue, describe_error
from ..events import Event
from ..trace import Tracer, handler_name
from .delivery import (
    DeadLetter,
    DeadLetterQueue,
    PublishReport,
    RedeliveryReport,
    Trouble,
    blank_report,
)
from .topics import TopicPattern, parse_topic

__all__ = [
    "EventBus",
    "Subscription",
    "DeadLetter",
    "DeadLetterQueue",
    "PublishReport",
    "RedeliveryReport",
]

Handler = Callable[[Event], Any]
Sleep = Callable[[float], Awaitable[Any]]

#: How many topics the routing cache remembers before it starts over (topics such as
#: ``order.A1.created`` could otherwise grow it without bound).
MAX_CACHED_TOPICS = 4096

#: The "source" of the trace steps of a redelivery: the dead-letter queue sends the event again
#: (a "sent" step), then the delivery is traced as usual, its attempts counting on.
DEAD_LETTER_SOURCE = "dead letters"


def _source_of(event: Event, source: str | None) -> str:
    """Who published: the ``source`` argument, else ``metadata["source"]``, else "publisher"."""
    if source:
        return source
    from_metadata = event.metadata.get("source")
    return str(from_metadata) if from_metadata else "publisher"


def _refuse_awaitable(subscription: Subscription, result: object) -> None:
    """A synchronous publish can't await a coroutine: say so instead of silently skipping it."""
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never started: close it, so Python doesn't warn it was never awaited
        raise InvalidType(
            f"{subscription.name} is an async handler: publish with "
            "`await bus.publish_async(event)`, not bus.publish(event)"
        )


# --- subscriptions ---------------------------------------------------------


class Subscription:
    """One handler listening on one pattern. Returned by :meth:`EventBus.subscribe`.

    ``unsubscribe()`` stops further deliveries; calling it again does nothing.
    """

    __slots__ = ("pattern", "handler", "name", "max_attempts", "_matcher", "_bus", "active")

    def __init__(
        self, bus: EventBus, pattern: str, handler: Handler, name: str, max_attempts: int
    ) -> None:
        self._matcher = TopicPattern(pattern)  # checks the pattern: ValueError if bad
        self.pattern = pattern
        self.handler = handler
        self.name = name
        self.max_attempts = max_attempts
        self._bus = bus
        self.active = True

    def matches(self, topic: str) -> bool:
        """Would this subscription receive an event of type ``topic``?"""
        parse_topic(topic)
        return self._matcher.matches(topic)

    def unsubscribe(self) -> None:
        """Stop receiving events. Idempotent: a second call is harmless."""
        if self.active:
            self.active = False
            self._bus._remove(self)

    def __repr__(self) -> str:
        retries = f", max_attempts={self.max_attempts}" if self.max_attempts != 1 else ""
        state = "" if self.active else " (unsubscribed)"
        return f"<Subscription {self.pattern!r} -> {self.name}{retries}{state}>"


# Which buses are delivering asynchronously in the current task, and the queue each uses for
# events published meanwhile. A ContextVar, not an attribute: the tasks asyncio.gather starts
# inherit it (so a handler's publish is recognised as nested), while an unrelated task that
# publishes at the same time does not (its publish goes out at once, as it should).
_ASYNC_QUEUES: ContextVar[dict[EventBus, deque[_Held]] | None] = ContextVar(
    "eda_kit_bus_async_queues", default=None
)


# The subscriber whose handler runs in the current asyncio task (for publish_async).
_RUNNING: ContextVar[Subscription | None] = ContextVar("eda_kit_bus_running", default=None)


class _Held(NamedTuple):
    """An event published during a delivery, waiting for its turn."""

    event: Event
    source: str | None
    report: PublishReport


# --- the bus --------------------------------------------------------------------------------


class EventBus:
    """Publish/subscribe inside one process. See the module docs for the delivery rules.

    - ``tracer``: a :class:`~eda_kit.trace.Tracer` to record every step (sent, delivered,
      failed, retried, dead_lettered) for the pictures; ``None`` (default) records nothing.
    - ``backoff_base``: seconds ``publish_async`` waits before the first retry; each later
      retry waits twice as long as the one before, up to ``backoff_max``.
    - ``sleep``: the coroutine used to wait (default ``asyncio.sleep``); tests pass a fake.
    - ``max_dead_letters``: keep at most this many dead letters, dropping the oldest (counted
      in ``bus.dead_letters.dropped``); ``None`` (default) keeps every one.
    """

    def __init__(
        self,
        tracer: Tracer | None = None,
        *,
        backoff_base: float = 0.1,
        backoff_max: float = 30.0,
        sleep: Sleep | None = None,
        max_dead_letters: int | None = None,
    ) -> None:
        if tracer is not None and not callable(getattr(tracer, "record", None)):
            raise InvalidType(f"tracer must be a Tracer or None, not {type(tracer).__name__}")
        for label, value in (("backoff_base", backoff_base), ("backoff_max", backoff_max)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidValue(f"{label} must be a number of seconds >= 0, got {value!r}")
        self._tracer = tracer
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._subscriptions: list[Subscription] = []
        self._routes: dict[str, tuple[Subscription, ...]] = {}  # topic -> who gets it
        self.dead_letters = DeadLetterQueue(max_dead_letters)
        # Whose handler a synchronous delivery is running; None when not delivering. (One
        # attribute for both, to keep publish() lean.)
        self._running: Subscription | None = None
        self._cause_event: Event | None = None  # the event being delivered (see cause_now)
        self._held: deque[_Held] = deque()  # events published during that delivery
        self._async_deliveries = 0  # publish_async calls under way (in any task)

    # --- subscribing ------------------------------------------------------------------------

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        name: str | None = None,
        max_attempts: int = 1,
    ) -> Subscription:
        """Call ``handler(event)`` for every published event whose topic matches ``pattern``.

        ``name`` identifies the subscriber in reports, traces and dead letters (default: the
        handler's ``__qualname__``). ``max_attempts``: how many times a failing delivery is
        tried before it is dead-lettered (1 = no retries).
        """
        if not callable(handler):
            raise InvalidType(f"handler must be callable, got {type(handler).__name__}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
            raise InvalidType(f"max_attempts must be an int, got {type(max_attempts).__name__}")
        if max_attempts < 1:
            raise InvalidValue(
                f"max_attempts must be 1 or more (1 = no retries), got {max_attempts}"
            )
        if name is None:
            name = handler_name(handler)
        elif not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"name must be a non-empty str, got {name!r}")
        subscription = Subscription(self, pattern, handler, name, max_attempts)
        self._subscriptions.append(subscription)
        self._routes.clear()  # the cached routes may now be missing this subscriber
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        self._subscriptions.remove(subscription)
        self._routes.clear()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The active subscriptions, in the order they were made (= delivery order)."""
        return tuple(self._subscriptions)

    def route(self, topic: str) -> tuple[Subscription, ...]:
        """The subscriptions an event of type ``topic`` goes to, in delivery order.

        Checks ``topic`` (``ValueError`` if it is empty or has wildcards) and caches the
        answer until the next (un)subscribe.
        """
        found = self._routes.get(topic)
        if found is None:
            words = parse_topic(topic)
            found = tuple(sub for sub in self._subscriptions if sub._matcher.matches(topic, words))
            if len(self._routes) >= MAX_CACHED_TOPICS:
                self._routes.clear()
            self._routes[topic] = found
        return found

    # --- causation: events created by a handler are caused by the event it handles -----------

    def _handling(self, event: Event) -> Any:
        """Make this bus the current cause while ``event`` is delivered (see ``cause_now``)."""
        self._cause_event = event
        return handling(self)  # no allocation: the publish hot path pays two C calls

    def cause_now(self) -> Cause:
        """The cause of an event created right now by a handler of this bus: the event being
        delivered, recorded by the subscriber handling it (read only when such an event is
        made, so publishing stays cheap)."""
        event, running = self._cause_event, self._running
        if event is None:  # pragma: no cover - only current while an event is delivered
            raise InvalidValue("the bus is not delivering an event")
        return cause_of(event, None if running is None else running.name)

    # --- publishing -------------------------------------------------------------------------

    def publish(self, event: Event, *, source: str | None = None) -> PublishReport:
        """Deliver ``event`` to every matching subscriber, in subscription order.

        Never raises because a handler did (see the report and ``dead_letters``). Raises
        ``TypeError`` if ``event`` is not an Event and ``ValueError`` if its type is not a
        valid topic. ``source`` names the publisher in traces (default: the event's
        ``metadata["source"]``, else "publisher").
        """
        try:
            route = self._routes[event.type]  # the routing cache: one dict lookup
        except KeyError:
            route = None
        except AttributeError:
            raise InvalidType(
                "publish takes an Event, e.g. bus.publish(Event('order.created', "
                f"{{'order_id': 'A1'}})), not {type(event).__name__}"
            ) from None
        if route is None:
            route = self.route(event.type)  # first publish to this topic: match and cache
        if self._running is not None or self._async_deliveries:
            held = self._hold(event, source)
            if held is not None:
                return held
        # Events the handlers create are caused by this one: self._handling(event), inlined
        # (make bench: "Bus: publish to 3 matching subscribers").
        self._cause_event = event
        cause = handling(self)
        try:
            if self._tracer is None:
                # The hot path, kept small: the same loop as _deliver() minus the tracing.
                trouble: list[Trouble] | None = None
                for sub in route:
                    self._running = sub
                    try:
                        result = sub.handler(event)
                        if result is not None:
                            _refuse_awaitable(sub, result)
                    except Exception as error:
                        if trouble is None:
                            trouble = []
                        trouble.append(self._retry(sub, event, source, error, 1, sub.max_attempts))
            else:
                trouble = self._deliver(event, source, route)
            # PublishReport(event, route, trouble), inlined for speed
            # (make bench: "Bus: publish to 3 matching subscribers").
            report = blank_report(PublishReport)
            report.event, report._route, report._trouble = event, route, trouble
            if self._held:
                report._followups = self._deliver_held()
        except BaseException:  # Ctrl-C or the like cut the delivery short: drop the queue
            self._held.clear()
            raise
        finally:
            self._running = None
            done_handling(cause)
        return report

    def _hold(self, event: Event, source: str | None) -> PublishReport | None:
        """Queue an event published during a delivery; None if no delivery is under way here."""
        queue: deque[_Held] | None
        running: Subscription | None
        if self._running is not None:
            queue, running = self._held, self._running
        else:
            queue, running = (_ASYNC_QUEUES.get() or {}).get(self), _RUNNING.get()
            if queue is None:
                return None  # another task's delivery is running; this publish is independent
        if not source and not event.metadata.get("source") and running is not None:
            source = running.name  # the subscriber that published it is its source
        report = PublishReport(event, None)  # queued: no route yet
        queue.append(_Held(event, source, report))
        return report

    def _deliver_held(self) -> tuple[PublishReport, ...]:
        """Deliver the queued events (and whatever their handlers publish), oldest first."""
        done = []
        while self._held:
            event, source, report = self._held.popleft()
            route = self.route(event.type)
            cause = self._handling(event)
            try:
                report._fill(route, self._deliver(event, source, route))
            finally:
                done_handling(cause)
            done.append(report)
        return tuple(done)

    def _deliver(
        self, event: Event, source: str | None, route: tuple[Subscription, ...]
    ) -> list[Trouble] | None:
        """Call each handler once; hand failures to the retry loop. The hot path."""
        tracer = self._tracer
        if tracer is not None:
            source = _source_of(event, source)
            outcome = "sent" if route else "unhandled"
            tracer.record(source, event.type, None, outcome, event_id=event.id)
        trouble: list[Trouble] | None = None
        for sub in route:
            self._running = sub
            try:
                result = sub.handler(event)
                if result is not None:
                    _refuse_awaitable(sub, result)
            except Exception as error:
                if trouble is None:
                    trouble = []
                trouble.append(self._retry(sub, event, source, error, 1, sub.max_attempts))
            else:
                if tracer is not None:
                    tracer.record(
                        source or "publisher",  # already _source_of(...) when tracing
                        event.type,
                        sub.name,
                        "delivered",
                        event_id=event.id,
                        via=sub.pattern,
                    )
        return trouble

    def _retry(
        self,
        sub: Subscription,
        event: Event,
        source: str | None,
        error: Exception,
        attempt: int,
        last_attempt: int,
    ) -> Trouble:
        """Attempt ``attempt`` failed with ``error``: try again until ``last_attempt``."""
        source = _source_of(event, source)
        while True:
            self._trace_failure(sub, event, source, error, attempt)
            if attempt >= last_attempt:
                return Trouble(sub, attempt, self._dead_letter(sub, event, source, error, attempt))
            attempt += 1
            self._trace(source, event, sub, "retried", attempt)
            try:
                result = sub.handler(event)
                if result is not None:
                    _refuse_awaitable(sub, result)
            except Exception as again:
                error = again
            else:
                self._trace(source, event, sub, "delivered", attempt)
                return Trouble(sub, attempt, None)

    async def publish_async(self, event: Event, *, source: str | None = None) -> PublishReport:
        """Deliver ``event`` to its subscribers concurrently; await it. Same isolation.

        Coroutine handlers are awaited, plain ones called. A failing handler is retried after
        ``backoff_base`` seconds, then twice that, and so on (up to ``backoff_max``), while the
        others carry on; when its attempts run out, the delivery is dead-lettered.
        """
        try:
            route = self.route(event.type)
        except AttributeError:
            raise InvalidType(f"publish_async takes an Event, not {type(event).__name__}") from None
        queues = _ASYNC_QUEUES.get() or {}
        if self in queues or self._running is not None:
            held = self._hold(event, source)
            if held is not None:
                return held
        trouble, followups = await self._async_scope(
            lambda: self._deliver_async(event, source, route)
        )
        report = PublishReport(event, route, trouble)
        if followups:
            report._followups = followups
        return report

    async def _async_scope(
        self, work: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, tuple[PublishReport, ...]]:
        """Run ``work()`` as an async delivery: events its handlers publish are queued, then
        delivered (oldest first) once it is done. Returns work's result and their reports."""
        queues = _ASYNC_QUEUES.get() or {}
        if self in queues:  # already inside one of our deliveries: that one drains the queue
            return await work(), ()
        held_here: deque[_Held] = deque()
        token = _ASYNC_QUEUES.set({**queues, self: held_here})
        self._async_deliveries += 1
        try:
            result = await work()
            done = []
            while held_here:
                held = held_here.popleft()
                route = self.route(held.event.type)
                trouble = await self._deliver_async(held.event, held.source, route)
                held.report._fill(route, trouble)
                done.append(held.report)
        finally:
            self._async_deliveries -= 1
            _ASYNC_QUEUES.reset(token)
        return result, tuple(done)

    async def _deliver_async(
        self, event: Event, source: str | None, route: tuple[Subscription, ...]
    ) -> list[Trouble] | None:
        if self._tracer is not None:
            outcome = "sent" if route else "unhandled"
            self._tracer.record(
                _source_of(event, source), event.type, None, outcome, event_id=event.id
            )
        results = await asyncio.gather(
            *(self._deliver_one_async(sub, event, source, 1, sub.max_attempts) for sub in route)
        )
        trouble = [t for t in results if t is not None]
        for t in trouble:  # dead letters in subscription order, however the tasks interleaved
            if t.dead_letter is not None:
                self.dead_letters._append(t.dead_letter)
        return trouble or None

    async def _deliver_one_async(
        self,
        sub: Subscription,
        event: Event,
        source: str | None,
        attempt: int,
        last_attempt: int,
    ) -> Trouble | None:
        """Try one subscriber, with backoff between attempts. Never raises for a handler."""
        _RUNNING.set(sub)  # this runs in its own task (gather), so this is local to it
        handling(cause_of(event, sub.name))  # ...and so is the cause of its handler's events
        first_attempt = attempt
        while True:
            try:
                result = sub.handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception as error:
                source = _source_of(event, source)
                self._trace_failure(sub, event, source, error, attempt)
                if attempt >= last_attempt:
                    letter = self._dead_letter(sub, event, source, error, attempt, park=False)
                    return Trouble(sub, attempt, letter)
                delay = self.backoff_delay(attempt - first_attempt + 1)
                attempt += 1
                self._trace(source, event, sub, "retried", attempt)
                await self._sleep(delay)
            else:
                if self._tracer is not None:
                    self._trace(_source_of(event, source), event, sub, "delivered", attempt)
                return None if attempt == first_attempt == 1 else Trouble(sub, attempt, None)

    def backoff_delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, 3...): base, 2*base, 4*base..."""
        return min(self.backoff_base * 2 ** (retry - 1), self.backoff_max)

    # --- dead letters -----------------------------------------------------------------------

    def _dead_letter(
        self,
        sub: Subscription,
        event: Event,
        source: str,
        error: Exception,
        attempts: int,
        *,
        park: bool = True,
    ) -> DeadLetter:
        letter = DeadLetter(
            event,
            sub.name,
            describe_error(error),
            attempts,
            pattern=sub.pattern,
            source=source,
            subscription=sub,
        )
        if park:
            self.dead_letters._append(letter)
        self._trace(source, event, sub, "dead_lettered", attempts, describe_error(error))
        return letter

    def _live_subscription(self, letter: DeadLetter) -> Subscription | None:
        """Who should get a dead letter now: its own subscription if still active, else the
        active subscription with the same name (that is how a fixed handler is deployed)."""
        if letter.subscription is not None and letter.subscription.active:
            return letter.subscription
        for sub in self._subscriptions:
            if sub.name == letter.subscriber:
                return sub
        return None

    def redeliver(self, subscriber: str | None = None) -> RedeliveryReport:
        """Try the dead letters again (all, or only ``subscriber``'s), oldest first.

        Each gets its subscription's ``max_attempts`` fresh attempts. A delivery that gets
        through leaves the queue; one that fails again is replaced by a new dead letter whose
        ``attempts`` adds up all tries. If the subscription was cancelled, the live one with
        the same name (e.g. the fixed handler) receives it; with none, it stays (``skipped``).
        """
        letters = [d for d in self.dead_letters if subscriber in (None, d.subscriber)]
        delivered: list[DeadLetter] = []
        failed: list[DeadLetter] = []
        skipped: list[DeadLetter] = []
        was_running = self._running  # not None: redeliver() was called by a handler
        try:
            for letter in letters:
                sub = self._live_subscription(letter)
                if sub is None:
                    skipped.append(letter)
                    continue
                self.dead_letters._remove(letter)
                outcome = self._redeliver_one(letter, sub)
                if outcome is None:
                    delivered.append(letter)
                else:
                    failed.append(outcome)
            followups = self._deliver_held() if was_running is None else ()
        finally:
            self._running = was_running
            if was_running is None:
                self._held.clear()
        return RedeliveryReport(tuple(delivered), tuple(failed), tuple(skipped), followups)

    def _redeliver_one(self, letter: DeadLetter, sub: Subscription) -> DeadLetter | None:
        event, attempt = letter.event, letter.attempts + 1
        self._running = sub
        self._trace_resend(event)
        cause = self._handling(event)
        try:
            result = sub.handler(event)
            if result is not None:
                _refuse_awaitable(sub, result)
        except Exception as error:
            last = letter.attempts + sub.max_attempts
            return self._retry(sub, event, DEAD_LETTER_SOURCE, error, attempt, last).dead_letter
        finally:
            done_handling(cause)
        self._trace(DEAD_LETTER_SOURCE, event, sub, "delivered", attempt)
        return None

    async def redeliver_async(self, subscriber: str | None = None) -> RedeliveryReport:
        """``redeliver()`` for async handlers: concurrently, with backoff between attempts."""
        letters = [d for d in self.dead_letters if subscriber in (None, d.subscriber)]
        pairs = [(d, self._live_subscription(d)) for d in letters]
        skipped = tuple(d for d, sub in pairs if sub is None)
        todo = [(d, sub) for d, sub in pairs if sub is not None]
        for letter, _ in todo:
            self.dead_letters._remove(letter)
            self._trace_resend(letter.event)
        results, followups = await self._async_scope(
            lambda: asyncio.gather(
                *(
                    self._deliver_one_async(
                        sub,
                        d.event,
                        DEAD_LETTER_SOURCE,
                        d.attempts + 1,
                        d.attempts + sub.max_attempts,
                    )
                    for d, sub in todo
                )
            )
        )
        delivered, failed = [], []
        for (letter, _), result in zip(todo, results, strict=True):
            if result is None or result.dead_letter is None:
                delivered.append(letter)
            else:
                self.dead_letters._append(result.dead_letter)
                failed.append(result.dead_letter)
        return RedeliveryReport(tuple(delivered), tuple(failed), skipped, followups)

    # --- tracing ----------------------------------------------------------------------------

    def _trace(
        self,
        source: str,
        event: Event,
        sub: Subscription,
        outcome: str,
        attempt: int,
        detail: str = "",
    ) -> None:
        if self._tracer is not None:
            self._tracer.record(
                source,
                event.type,
                sub.name,
                outcome,
                attempt=attempt,
                detail=detail,
                event_id=event.id,
                via=sub.pattern,
            )

    def _trace_resend(self, event: Event) -> None:
        """A redelivery starts: the dead-letter queue sends the event again."""
        if self._tracer is not None:
            self._tracer.record(DEAD_LETTER_SOURCE, event.type, None, "sent", event_id=event.id)

    def _trace_failure(
        self, sub: Subscription, event: Event, source: str, error: Exception, attempt: int
    ) -> None:
        if self._tracer is not None:
            self._trace(source, event, sub, "failed", attempt, describe_error(error))

    def __repr__(self) -> str:
        subs = len(self._subscriptions)
        dead = len(self.dead_letters)
        return (
            f"<EventBus: {subs} subscription{'s' if subs != 1 else ''}, "
            f"{dead} dead letter{'s' if dead != 1 else ''}>"
        )
