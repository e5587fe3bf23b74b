"""EventEmitter: Node.js's ``events.EventEmitter``, in Python names, behaving the same way.

An emitter keeps, for each event name, an ordered list of listeners. ``emit(name, *args)``
calls them one after another, synchronously, in the order they were added, and returns
whether anyone was listening::

    orders = EventEmitter()
    orders.on("order.created", send_email)
    orders.on("order.created", reserve_stock)
    orders.emit("order.created", {"order_id": "A1"})   # send_email(...), then reserve_stock(...)

That is the whole idea. The details below are where real programs go wrong, and each one is
what Node.js does (checked against Node 20 by ``tests/test_emitter_differential.py``):

- **Order.** Listeners run in the order they were added; ``prepend_listener`` puts one first.
  Adding the same function twice means it runs twice.
- **once.** ``once`` wraps the listener; the wrapper removes itself *before* calling it, so it
  runs at most once, even if it emits the same event again from inside itself.
- **off.** ``off`` / ``remove_listener`` removes the most recently added copy of a listener.
  A once-listener is found by the function you gave to ``once``.
- **A snapshot per emit.** ``emit`` works on the listener list as it was when the emit began:
  a listener added during the emit is not called by it; one removed during the emit still is.
- **Errors stop the emit.** A listener that raises stops the emit: later listeners don't run,
  and the exception reaches whoever called ``emit``.
- **The "error" event is special.** ``emit("error", err)`` with nobody listening for "error"
  raises ``err`` (or an :class:`UnhandledErrorEvent` wrapping it, if it is not an exception).
  An error is never silently dropped.
- **Meta events.** ``"new_listener"`` is emitted *before* a listener is added and
  ``"remove_listener"`` *after* one is removed (also by ``remove_all_listeners``, newest
  first). Both receive ``(event_name, listener)`` with the function you registered.
- **A leak detector.** More than ``get_max_listeners()`` listeners (default 10; 0 means no
  limit) on one event name triggers one :class:`MaxListenersExceededWarning` for that name. The
  warning is re-armed when that name drops back to one listener or none, as in Node.

Differences from Node, all deliberate: method names are snake_case (``new_listener``,
``remove_listener``, ``raw_listeners``...); listeners are matched with ``==`` rather than
``===`` (so ``off("x", self.handle)`` finds a bound method registered earlier; two bound methods
are equal when they wrap the same function of the same object); ``"remove_listener"`` always
receives the function you registered (Node sometimes passes its internal once-wrapper); event
names are any hashable value, kept in insertion order (JavaScript puts integer-like names first).

Tracing: give the emitter a :class:`~eda_kit.trace.Tracer` and each emit is recorded as one
"sent" row (or "unhandled" when nobody listens), followed by one "delivered" or "failed" row
per listener, named by the listener's ``__qualname__``; the listeners a failing one kept from
running are recorded as "skipped". A listener is recorded when it is called and its outcome
when it returns (:meth:`~eda_kit.trace.Tracer.dispatch`): if it emits events itself, its row
reads "dispatched" and its outcome comes after the rows of what it emitted, so a trace always
lists a cause before its effects. With no tracer, emit does no tracing work at all.

Coroutine listeners need :class:`~eda_kit.emitter.AsyncEventEmitter` (importable from
``eda_kit.emitter`` and from ``eda_kit``).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import warnings
from collections.abc import Callable, Hashable
from typing import Any, Self, TypeVar, overload

from ..errors import InvalidType, InvalidValue, UnhandledErrorEvent, describe_error
from ..events import Event
from ..trace import Tracer, handler_name

__all__ = [
    "EventEmitter",
    "MaxListenersExceededWarning",
    "UnhandledErrorEvent",
    "listener_name",
]

Listener = Callable[..., Any]
#: A listener's own type: the decorator form of ``on`` hands the function back unchanged.
L = TypeVar("L", bound=Listener)


class MaxListenersExceededWarning(RuntimeWarning):
    """More listeners on one event name than the emitter's limit: probably a leak.

    The typical leak: code that calls ``emitter.on(...)`` once per request or per object and
    never ``off``. Each call adds one more listener, and every emit runs them all. Attributes:
    ``emitter``, ``event`` (the name) and ``count`` (how many listeners it has now).
    """

    def __init__(self, emitter: EventEmitter, event: Hashable, count: int) -> None:
        self.emitter = emitter
        self.event = event
        self.count = count
        super().__init__(
            f"Possible EventEmitter memory leak detected. {count} {event} listeners added to "
            f"[{type(emitter).__name__}]. MaxListeners is {emitter.get_max_listeners()}. "
            f"Use emitter.set_max_listeners() to increase limit"
        )


def listener_name(listener: Listener) -> str:
    """How traces name a listener: its ``__qualname__`` (``"EmailService.send"``)."""
    return handler_name(_original(listener))


class _Once:
    """The wrapper ``once`` registers: removes itself, then calls the real listener, once."""

    __slots__ = ("emitter", "event", "listener", "fired")

    def __init__(self, emitter: EventEmitter, event: Hashable, listener: Listener) -> None:
        self.emitter = emitter
        self.event = event
        self.listener = listener
        self.fired = False

    def __call__(self, *args: Any) -> Any:
        if not self.fired:
            self.emitter._remove_matching(self.event, lambda entry: entry is self)
            self.fired = True
            return self.listener(*args)
        return None

    def __repr__(self) -> str:
        return f"<once {listener_name(self.listener)}>"


def _original(entry: Listener) -> Listener:
    """The function the user registered (unwraps a once-wrapper)."""
    return entry.listener if type(entry) is _Once else entry


def _same(entry: Listener, listener: Listener) -> bool:
    """Does this registered entry stand for ``listener``? (``==``, looking through once.)"""
    return entry == listener or (type(entry) is _Once and entry.listener == listener)


def _check_listener(listener: Any) -> None:
    if not callable(listener):
        raise InvalidType(
            f'The "listener" argument must be callable. Received {listener!r} '
            f"({type(listener).__name__})"
        )


class EventEmitter:
    """Listeners per event name, called in order by ``emit``. See the module docstring.

    ``EventEmitter(tracer=None, name=None)``: ``name`` is how traces call this emitter (default:
    the class name, so ``class OrderService(EventEmitter)`` traces as "OrderService").
    Subclasses must call ``super().__init__()``.
    """

    #: The limit for emitters that never called ``set_max_listeners`` (Node's
    #: ``EventEmitter.defaultMaxListeners``). Changing it affects all of them.
    default_max_listeners: int | float = 10

    # Coroutine functions are refused here: this emitter would drop their coroutines unawaited.
    _accepts_coroutines = False

    __slots__ = ("_events", "_max_listeners", "_warned", "_tracer", "_name")

    def __init__(self, tracer: Tracer | None = None, name: str | None = None) -> None:
        if tracer is not None and not isinstance(tracer, Tracer):
            raise InvalidType(
                f"tracer must be an eda_kit Tracer or None, not {type(tracer).__name__}"
            )
        if name is not None and not isinstance(name, str):
            raise InvalidType(f"name must be a str or None, not {type(name).__name__}")
        # event name -> tuple of listeners. A tuple is never changed in place: adding or removing
        # builds a new one (copy-on-write), so an emit in progress keeps its snapshot for free.
        self._events: dict[Hashable, tuple[Listener, ...]] = {}
        self._max_listeners: int | float | None = None
        self._warned: set[Hashable] = set()
        self._tracer = tracer
        self._name = name if name is not None else type(self).__name__

    # ------------------------------------------------------------------ emitting

    def emit(self, event: Hashable, *args: Any) -> bool:
        """Call every listener of ``event`` with ``args``, in order. True if there were any.

        A listener that raises stops the emit: the exception propagates to the caller.
        ``emit("error", err)`` with no "error" listener raises ``err``.
        """
        try:
            listeners = self._events[event]
        except KeyError:
            return self._emit_to_nobody(event, args)
        if self._tracer is not None:
            return self._emit_traced(event, listeners, args)
        for listener in listeners:
            listener(*args)
        return True

    def _emit_to_nobody(self, event: Hashable, args: tuple[Any, ...]) -> bool:
        if self._tracer is not None:
            self._tracer.record(self._name, str(event), None, "unhandled", event_id=_event_id(args))
        if event == "error":
            error = args[0] if args else None
            if isinstance(error, BaseException):
                raise error
            raise UnhandledErrorEvent(error)
        return False

    def _emit_traced(
        self, event: Hashable, listeners: tuple[Listener, ...], args: tuple[Any, ...]
    ) -> bool:
        tracer, source, label, event_id = self._tracer, self._name, str(event), _event_id(args)
        assert tracer is not None  # emit() takes this path only when there is a tracer
        tracer.record(source, label, None, "sent", event_id=event_id)
        for index, listener in enumerate(listeners):
            if type(listener) is _Once and listener.fired:
                continue  # already ran (re-entrant emit): calling it would do nothing
            target = listener_name(listener)
            # Recorded before the call, so what the listener emits comes after its cause.
            seq = tracer.dispatch(source, label, target, event_id=event_id)
            try:
                result = listener(*args)
            except BaseException as error:
                tracer.finish(seq, "failed", detail=describe_error(error))
                for rest in listeners[index + 1 :]:  # never called: the emit stops here
                    if not (type(rest) is _Once and rest.fired):
                        tracer.record(
                            source,
                            label,
                            listener_name(rest),
                            "skipped",
                            detail=f"{target} raised first",
                            event_id=event_id,
                        )
                raise
            self._after_traced_call(event, target, seq, result)
        return True

    def _after_traced_call(self, event: Hashable, target: str, seq: int, result: Any) -> None:
        """The listener dispatched at ``seq`` returned (the async emitter awaits coroutines)."""
        assert self._tracer is not None  # called from _emit_traced only
        self._tracer.finish(seq, "delivered")

    # ------------------------------------------------------------------ adding

    @overload
    def on(self, event: Hashable, listener: None = None) -> Callable[[L], L]: ...
    @overload
    def on(self, event: Hashable, listener: Listener) -> Self: ...
    def on(self, event: Hashable, listener: Listener | None = None) -> Any:
        """Add ``listener`` at the end of ``event``'s list; returns the emitter (to chain).

        Without a listener, returns a decorator::

            @orders.on("order.created")
            def send_email(order): ...
        """
        if listener is None:
            return self._decorator(event, prepend=False, once=False)
        self._add(event, listener, prepend=False, once=False)
        return self

    add_listener = on

    @overload
    def once(self, event: Hashable, listener: None = None) -> Callable[[L], L]: ...
    @overload
    def once(self, event: Hashable, listener: Listener) -> Self: ...
    def once(self, event: Hashable, listener: Listener | None = None) -> Any:
        """Like ``on``, but the listener is removed just before its first call."""
        if listener is None:
            return self._decorator(event, prepend=False, once=True)
        self._add(event, listener, prepend=False, once=True)
        return self

    @overload
    def prepend_listener(self, event: Hashable, listener: None = None) -> Callable[[L], L]: ...
    @overload
    def prepend_listener(self, event: Hashable, listener: Listener) -> Self: ...
    def prepend_listener(self, event: Hashable, listener: Listener | None = None) -> Any:
        """Like ``on``, but the listener goes to the front: it runs before the others."""
        if listener is None:
            return self._decorator(event, prepend=True, once=False)
        self._add(event, listener, prepend=True, once=False)
        return self

    @overload
    def prepend_once_listener(self, event: Hashable, listener: None = None) -> Callable[[L], L]: ...
    @overload
    def prepend_once_listener(self, event: Hashable, listener: Listener) -> Self: ...
    def prepend_once_listener(self, event: Hashable, listener: Listener | None = None) -> Any:
        """``once``, at the front of the list."""
        if listener is None:
            return self._decorator(event, prepend=True, once=True)
        self._add(event, listener, prepend=True, once=True)
        return self

    def _decorator(self, event: Hashable, *, prepend: bool, once: bool) -> Callable:
        def register(listener: Listener) -> Listener:
            self._add(event, listener, prepend=prepend, once=once)
            return listener

        return register

    def _add(self, event: Hashable, listener: Listener, *, prepend: bool, once: bool) -> None:
        _check_listener(listener)
        if not self._accepts_coroutines and inspect.iscoroutinefunction(listener):
            raise InvalidType(
                f"{listener_name(listener)} is a coroutine function: this EventEmitter would "
                f"call it and drop the coroutine without running it. Use AsyncEventEmitter."
            )
        entry = _Once(self, event, listener) if once else listener
        events = self._events
        if "new_listener" in events:
            self.emit("new_listener", event, listener)  # before adding: it doesn't see itself
        current = events.get(event)  # read again: a new_listener listener may have changed it
        if current is None:
            events[event] = (entry,)
            return
        events[event] = updated = (entry, *current) if prepend else (*current, entry)
        limit = self.get_max_listeners()
        if 0 < limit < len(updated) and event not in self._warned:
            self._warned.add(event)
            # stacklevel 3: the warning points at the user's line that called on()/once()/...
            warnings.warn(MaxListenersExceededWarning(self, event, len(updated)), stacklevel=3)

    # ------------------------------------------------------------------ removing

    def remove_listener(self, event: Hashable, listener: Listener) -> EventEmitter:
        """Remove the most recently added copy of ``listener`` (a once-listener counts too).

        Removing a listener that isn't there does nothing. Returns the emitter.
        """
        _check_listener(listener)
        self._remove_matching(event, lambda entry: _same(entry, listener))
        return self

    off = remove_listener

    def _remove_matching(self, event: Hashable, matches: Callable[[Listener], bool]) -> None:
        """Remove the newest entry of ``event`` for which ``matches(entry)``; announce it."""
        current = self._events.get(event)
        if current is None:
            return
        for index in range(len(current) - 1, -1, -1):  # newest first
            if matches(current[index]):
                break
        else:
            return
        removed = current[index]
        remaining = current[:index] + current[index + 1 :]
        if remaining:
            self._events[event] = remaining
        else:
            del self._events[event]
        if len(remaining) <= 1:
            self._warned.discard(event)  # as in Node: the leak warning can fire again
        if "remove_listener" in self._events:
            self.emit("remove_listener", event, _original(removed))

    def remove_all_listeners(self, event: Hashable | None = None) -> EventEmitter:
        """Remove every listener of ``event``, or of every event when ``event`` is None.

        If someone listens to "remove_listener", each removal is announced, newest first
        (and the "remove_listener" listeners themselves go last). Returns the emitter.
        """
        events = self._events
        if "remove_listener" not in events:  # nobody to tell: just forget
            if event is None:
                events.clear()
                self._warned.clear()
            else:
                events.pop(event, None)
                self._warned.discard(event)
            return self
        if event is None:
            for name in list(events):
                if name != "remove_listener":
                    self.remove_all_listeners(name)
            self.remove_all_listeners("remove_listener")
            events.clear()
            self._warned.clear()
            return self
        for entry in reversed(events.get(event, ())):
            # Node calls removeListener(event, entry): the newest entry equal to this one goes.
            def matches(candidate: Listener, entry: Listener = entry) -> bool:
                return _same(candidate, entry)

            self._remove_matching(event, matches)
        return self

    # ------------------------------------------------------------------ looking

    def listeners(self, event: Hashable) -> list[Listener]:
        """The listeners of ``event`` in call order (once-listeners as the functions you gave)."""
        return [_original(entry) for entry in self._events.get(event, ())]

    def raw_listeners(self, event: Hashable) -> list[Listener]:
        """Like ``listeners`` but keeps the once-wrappers (calling one runs it and removes it)."""
        return list(self._events.get(event, ()))

    def listener_count(self, event: Hashable, listener: Listener | None = None) -> int:
        """How many listeners ``event`` has (only copies of ``listener``, when given)."""
        entries = self._events.get(event, ())
        if listener is None:
            return len(entries)
        return sum(1 for entry in entries if _same(entry, listener))

    def event_names(self) -> list[Hashable]:
        """The names with at least one listener, in the order they first got one."""
        return list(self._events)

    def set_max_listeners(self, n: int | float) -> EventEmitter:
        """Warn when one event name gets more than ``n`` listeners (0 or ``math.inf``: never)."""
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise InvalidType(f"set_max_listeners needs a number, not {type(n).__name__}")
        if n < 0 or math.isnan(n):
            raise InvalidValue(f"set_max_listeners needs a number >= 0, got {n!r}")
        self._max_listeners = n
        return self

    def get_max_listeners(self) -> int | float:
        """The current limit (``default_max_listeners`` unless ``set_max_listeners`` was called)."""
        if self._max_listeners is None:
            return type(self).default_max_listeners
        return self._max_listeners

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, event: Hashable, *, timeout: float | None = None) -> tuple[Any, ...]:
        """Wait for the next emit of ``event`` and return its arguments as a tuple.

        Like Node's ``events.once(emitter, name)``: while waiting, an emitted "error" fails the
        wait with that error (so it counts as handled). ``timeout`` (seconds) raises
        ``TimeoutError``. Needs a running event loop (``await`` it in async code or a notebook
        cell)::

            (order,) = await orders.wait_for("order.created")
        """
        future = asyncio.get_running_loop().create_future()

        def resolve(*args: Any) -> None:
            if not future.done():
                future.set_result(args)

        def reject(error: Any = None) -> None:
            if not future.done():
                future.set_exception(
                    error if isinstance(error, BaseException) else UnhandledErrorEvent(error)
                )

        # How traces and pictures name these two helpers (instead of "...<locals>.resolve").
        resolve.__qualname__ = f"wait_for({event})"
        reject.__qualname__ = f"wait_for({event}) error guard"
        self.once(event, resolve)
        if event != "error":
            self.once("error", reject)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.remove_listener(event, resolve)
            if event != "error":
                self.remove_listener("error", reject)

    def __repr__(self) -> str:
        count = sum(len(entries) for entries in self._events.values())
        names = len(self._events)
        return (
            f"<{self._name}: {count} listener{'s' * (count != 1)} on "
            f"{names} event{'s' * (names != 1)}>"
        )


def _event_id(args: tuple[Any, ...]) -> str | None:
    return args[0].id if args and isinstance(args[0], Event) else None
