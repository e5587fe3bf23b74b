"""The event emitter: the smallest way to decouple code, with Node.js's exact rules.

    event_emitter        EventEmitter: on, once, off, emit, the "error" event, leak warnings
    async_event_emitter  AsyncEventEmitter: the same, plus coroutine listeners run as tasks

::

    from eda_kit.emitter import EventEmitter
    kitchen = EventEmitter()
    kitchen.on("order.placed", lambda order: print("cooking", order))
    kitchen.emit("order.placed", "A1")     # True: somebody was listening
"""

from ..errors import UnhandledErrorEvent
from .async_event_emitter import AsyncEventEmitter
from .event_emitter import EventEmitter, MaxListenersExceededWarning, listener_name

__all__ = [
    "EventEmitter",
    "AsyncEventEmitter",
    "MaxListenersExceededWarning",
    "UnhandledErrorEvent",
    "listener_name",
]
