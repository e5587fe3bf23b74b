"""AsyncEventEmitter: an EventEmitter whose listeners may be coroutines.

``emit`` stays a plain, synchronous call that returns at once. Listeners run in order as
usual; when one returns a coroutine (an ``async def`` listener), the emitter schedules it as a
task on the running event loop and moves on to the next listener. The coroutines then run
concurrently, interleaving at their ``await`` points::

    kitchen = AsyncEventEmitter()

    @kitchen.on("order.created")
    async def cook(order):
        await asyncio.sleep(0.1)
        kitchen.emit("order.ready", order)

    kitchen.emit("order.created", {"order_id": "A1"})   # returns True at once; cook is a task
    await kitchen.wait_for("order.ready")               # -> ({"order_id": "A1"},)
    await kitchen.drain()                               # wait until every listener task ended

Where errors go:

- A plain (non-async) listener that raises stops the emit, exactly as in ``EventEmitter``.
- A coroutine listener that raises can't stop an emit that has already returned. Its exception
  is emitted as an ``"error"`` event, as Node.js does with ``captureRejections``.
- If nobody listens for ``"error"``, the exception is raised inside the listener's task, and
  the next ``await emitter.drain()`` raises it (an ``ExceptionGroup`` if several failed). If
  you never drain, asyncio reports it ("Task exception was never retrieved") when the emitter
  is garbage collected. Either way it is never silently lost.
- A coroutine listener *of "error"* that raises is not routed to "error" again (that could
  loop forever): its exception goes straight to ``drain``.

Emitting a coroutine listener with no running event loop raises ``RuntimeError``: there
would be nothing to run it. In Jupyter, cells run inside a loop, so ``emit`` works there and
``await emitter.drain()`` in a cell waits for the listeners.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Hashable
from typing import Any

from ..errors import NoEventLoop, describe_error
from ..trace import Tracer
from .event_emitter import EventEmitter, Listener, listener_name

__all__ = ["AsyncEventEmitter"]


class AsyncEventEmitter(EventEmitter):
    """An ``EventEmitter`` that runs coroutine listeners as tasks. See the module docstring."""

    _accepts_coroutines = True

    __slots__ = ("_tasks", "_failed")

    def __init__(self, tracer: Tracer | None = None, name: str | None = None) -> None:
        super().__init__(tracer, name)
        self._tasks: set[asyncio.Task[None]] = set()  # running listener tasks (kept alive here)
        self._failed: list[asyncio.Task[None]] = []  # failed with nobody listening for "error"

    def emit(self, event: Hashable, *args: Any) -> bool:
        """Call the listeners in order; schedule the coroutines they return. True if any."""
        try:
            listeners = self._events[event]
        except KeyError:
            return self._emit_to_nobody(event, args)
        if self._tracer is not None:
            return self._emit_traced(event, listeners, args)
        for listener in listeners:
            result = listener(*args)
            if result is not None and inspect.isawaitable(result):
                self._schedule(event, listener, result, traced=False)
        return True

    def _after_traced_call(self, event: Hashable, target: str, seq: int, result: Any) -> None:
        if result is not None and inspect.isawaitable(result):
            self._schedule(event, target, result, traced=True, dispatched=seq)
        else:
            super()._after_traced_call(event, target, seq, result)

    def _schedule(
        self,
        event: Hashable,
        listener: Listener | str,
        awaitable: Any,
        *,
        traced: bool,
        dispatched: int | None = None,
    ) -> None:
        """Run ``awaitable`` as a task; ``dispatched``: the seq of its "dispatched" row."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started; closing it avoids a "never awaited" warning
            name = listener if isinstance(listener, str) else listener_name(listener)
            if traced and self._tracer is not None and dispatched is not None:
                self._tracer.finish(dispatched, "failed", detail="NoEventLoop: no running loop")
            raise NoEventLoop(
                f"listener {name} of {event!r} returned a coroutine, but there is no running "
                f"event loop to run it: emit from async code (e.g. inside asyncio.run(...))"
            ) from None
        task = loop.create_task(self._run(event, awaitable, dispatched if traced else None))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, event: Hashable, awaitable: Any, dispatched: int | None) -> None:
        tracer = self._tracer if dispatched is not None else None
        try:
            try:
                await awaitable
            except Exception as error:
                if tracer is not None and dispatched is not None:
                    tracer.finish(dispatched, "failed", detail=describe_error(error))
                if event == "error":
                    raise
                self.emit("error", error)  # with nobody listening, this raises `error` itself
            except BaseException as stop:  # cancelled: it did not finish
                if tracer is not None and dispatched is not None:
                    tracer.finish(dispatched, "failed", detail=describe_error(stop))
                raise
            else:
                if tracer is not None and dispatched is not None:
                    tracer.finish(dispatched, "delivered")
        except Exception:
            task = asyncio.current_task()
            if task is not None:
                self._failed.append(task)  # kept for drain() to raise
            raise

    @property
    def pending(self) -> int:
        """How many coroutine listeners are still running."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every listener task (and any task they started) has finished.

        Then raise what failed with nobody listening for "error": the exception itself if one
        listener failed, an ``ExceptionGroup`` if several did.
        """
        while self._tasks:
            await asyncio.wait(list(self._tasks))
        failed, self._failed = self._failed, []
        # Retrieved here, so asyncio won't log them as "never retrieved".
        errors = [error for task in failed if isinstance(error := task.exception(), Exception)]
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ExceptionGroup(
                f"{len(errors)} async listeners failed with nobody listening for 'error'", errors
            )
