"""CQRS: one path for changing things (commands), another for asking (queries).

Command Query Responsibility Segregation splits an application in two:

- the **write side** takes *commands* ("PlaceOrder", "CancelOrder"): it checks the rules,
  records what happened as events in the event store, and answers with an acknowledgement
  (a new version, an id), never with read data;
- the **read side** keeps *read models*, each shaped for the questions it answers ("the
  details of order A1", "how many orders has asha placed", "revenue per day"). A
  :class:`~eda_kit.cqrs.projection.Projection` keeps a read model up to date by folding the store's
  events into it, and *queries* ("GetOrder") read only read models.

Between the two sides sits the event store, so the read side is *eventually* consistent: right
after a command, a projection may not have seen its events yet. ``projection.lag`` tells you by
how many events. ::

    commands = CommandBus()
    queries = QueryBus()

    @commands.handler("PlaceOrder")
    def place_order(order_id, customer, total):
        return store.append(f"order-{order_id}", Event("OrderPlaced", {...}), NO_STREAM)

    @queries.handler("GetOrder")
    def get_order(order_id):
        return orders.read_model.get(order_id)

    commands.dispatch("PlaceOrder", order_id="A1", customer="asha", total=30)   # -> 1
    queries.ask("GetOrder", order_id="A1")      # None until the projection catches up

Both buses route a named message to exactly one handler: a command has one owner (two handlers
for "PlaceOrder" would mean two places deciding the same thing), and so does a query.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..causation import caused_by, current_cause
from ..clock import new_command_id
from ..errors import InvalidType, InvalidValue, UnknownCommand, UnknownQuery, describe_error
from ..trace import Tracer, handler_name

__all__ = ["CommandBus", "QueryBus", "UnknownCommand", "UnknownQuery"]

if TYPE_CHECKING:
    from ..store import EventStore

Handler = TypeVar("Handler", bound=Callable[..., Any])


class _Dispatcher:
    """What both buses share: a table of message type -> its one handler.

    Subclasses set ``kind`` ("command" or "query"), its plural ``kinds`` and the error
    raised for unknown types.
    """

    kind = "message"
    kinds = "messages"
    unknown_error: type[LookupError] = LookupError

    def __init__(self, *, tracer: Tracer | None = None, name: str | None = None) -> None:
        self.name = name or self.kinds
        self._tracer = tracer
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._names: dict[str, str] = {}

    # -- registering -----------------------------------------------------------------------

    @overload
    def handler(
        self, message_type: str, handler: None = None, *, name: str | None = None
    ) -> Callable[[Handler], Handler]: ...
    @overload
    def handler(
        self, message_type: str, handler: Handler, *, name: str | None = None
    ) -> Handler: ...
    def handler(
        self,
        message_type: str,
        handler: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
    ) -> Any:
        """Register the one handler for ``message_type``; use as a decorator or call directly.

        ``@bus.handler("PlaceOrder")`` above a function, or ``bus.handler("PlaceOrder", fn)``.
        A second handler for the same type is refused with ``ValueError``.
        """
        if not isinstance(message_type, str) or not message_type.strip():
            raise InvalidValue(
                f"a {self.kind} type must be a non-empty name such as 'PlaceOrder', "
                f"not {message_type!r}"
            )

        def register(fn: Handler) -> Handler:
            if not callable(fn):
                raise InvalidType(f"a {self.kind} handler must be callable, not {fn!r}")
            if message_type in self._handlers:
                raise InvalidValue(
                    f"{self.kind} {message_type!r} already has a handler "
                    f"({self._names[message_type]}); a {self.kind} has exactly one handler. "
                    f"Call unregister({message_type!r}) first to replace it."
                )
            self._handlers[message_type] = fn
            self._names[message_type] = name or handler_name(fn)
            return fn

        return register if handler is None else register(handler)

    def unregister(self, message_type: str) -> None:
        """Remove the handler of ``message_type`` (an unknown type raises, naming the known)."""
        self._lookup(message_type)
        del self._handlers[message_type]
        del self._names[message_type]

    def known(self) -> list[str]:
        """The registered types, sorted."""
        return sorted(self._handlers)

    def __contains__(self, message_type: object) -> bool:
        return message_type in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)

    # -- sending ---------------------------------------------------------------------------

    def _lookup(self, message_type: str) -> Callable[..., Any]:
        try:
            return self._handlers[message_type]
        except (KeyError, TypeError):
            known = ", ".join(repr(t) for t in self.known()) or "none registered yet"
            raise self.unknown_error(
                f"no handler for {self.kind} {message_type!r}; known {self.kinds}: {known}"
            ) from None

    def _split(self, message: Any, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Turn ``("PlaceOrder", **fields)`` or a dataclass instance into (type, fields)."""
        if isinstance(message, str):
            return message, fields
        if dataclasses.is_dataclass(message) and not isinstance(message, type):
            if fields:
                raise InvalidType(
                    f"pass either a {self.kind} object or a type name with fields, not both "
                    f"(got {type(message).__name__} and {sorted(fields)})"
                )
            values = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
            return type(message).__name__, values
        raise InvalidType(
            f'a {self.kind} is a type name with fields, e.g. ("PlaceOrder", order_id="A1"), '
            f"or a dataclass instance whose class name is the type; got {message!r}"
        )

    def _call(self, message: Any, fields: dict[str, Any]) -> Any:
        message_type, fields = self._split(message, fields)
        tracer = self._tracer
        try:
            handler = self._lookup(message_type)
        except LookupError:
            if tracer is not None:
                tracer.record(self.name, message_type, None, "unhandled")
            raise
        name = self._names[message_type]
        try:  # wrong fields are the caller's mistake: say so before running anything
            inspect.signature(handler).bind(**fields)
        except TypeError as error:
            raise InvalidType(f"{self.kind} {message_type!r} (handler {name}): {error}") from None
        except ValueError:  # some builtins have no signature: let the call itself decide
            pass
        if tracer is not None:
            tracer.record(self.name, message_type, None, "sent")
        try:
            result = self._run(message_type, handler, name, fields)
        except Exception as error:
            if tracer is not None:
                tracer.record(self.name, message_type, name, "failed", detail=describe_error(error))
            raise
        if tracer is not None:
            tracer.record(self.name, message_type, name, "delivered")
        return result

    def _run(
        self, message_type: str, handler: Callable[..., Any], name: str, fields: dict[str, Any]
    ) -> Any:
        return handler(**fields)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {', '.join(self.known()) or 'empty'}>"


class CommandBus(_Dispatcher):
    """Routes each command to its one handler: the only way the write side changes.

    A command handler checks the rules (raising on an invalid command, so nothing is written),
    appends events to the store (directly or through an aggregate and a ``Repository``) and
    returns an acknowledgement such as the stream's new version. It must not return read data:
    that is the query side's job.

    With a ``tracer``, each dispatch is traced (``commands --PlaceOrder--> place_order``). Give
    the bus the ``store`` too and it also traces the events each command wrote
    (``place_order --OrderPlaced--> -``), so the flow from command to event to projection to
    query can be drawn as one picture.

    Every event a command handler creates carries the command in its metadata
    (:mod:`eda_kit.causation`): ``command`` (the type), ``correlation_id`` and
    ``causation_id``. A command dispatched on its own starts a conversation: it gets an id
    (``cmd-...``) that is both. A command dispatched while something else is handled (an
    event handler, a saga step, ``with caused_by(correlation_id=..., actor=...)``) joins that
    conversation, and its events point at what was being handled, so causation chains run
    through commands unbroken. The ``actor`` carries over from the conversation.
    """

    kind = "command"
    kinds = "commands"
    unknown_error = UnknownCommand

    def __init__(
        self,
        *,
        store: EventStore | None = None,
        tracer: Tracer | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(tracer=tracer, name=name)
        self._store = store

    def dispatch(self, command: Any, /, **fields: Any) -> Any:
        """Run the handler of ``command`` and return what it returns.

        ``dispatch("PlaceOrder", order_id="A1", total=30)`` calls the handler with those keyword
        arguments; ``dispatch(PlaceOrder(order_id="A1", total=30))`` does the same with a
        dataclass's fields (its class name is the command type). An unknown command raises
        ``UnknownCommand`` naming the known ones; fields the handler does not accept raise
        ``TypeError`` before the handler runs. Whatever the handler raises (e.g. a ``ValueError``
        for an invalid order) reaches the caller unchanged.
        """
        return self._call(command, fields)

    def _run(
        self, message_type: str, handler: Callable[..., Any], name: str, fields: dict[str, Any]
    ) -> Any:
        outer = current_cause()
        if outer is None:
            command_id = new_command_id()
            cause = caused_by(
                correlation_id=command_id, causation_id=command_id, command=message_type
            )
        else:
            cause = caused_by(causation_id=outer.causation_id, command=message_type)
        with cause:
            return self._run_traced(handler, name, fields)

    def _run_traced(self, handler: Callable[..., Any], name: str, fields: dict[str, Any]) -> Any:
        if self._tracer is None or self._store is None:
            return handler(**fields)
        before = self._store.last_position()
        result = handler(**fields)
        for event in self._store.read_all(from_position=before + 1):
            self._tracer.record(
                name, event.type, None, "sent", event_id=event.id, via=event.stream_id
            )
        return result


class QueryBus(_Dispatcher):
    """Routes each query to its one handler, which reads read models and nothing else.

    A query never changes anything, so asking twice gives the same answer (until a projection
    moves on). ``ask("GetOrder", order_id="A1")`` returns what the handler returns.
    """

    kind = "query"
    kinds = "queries"
    unknown_error = UnknownQuery

    def ask(self, query: Any, /, **fields: Any) -> Any:
        """Run the handler of ``query`` and return its answer.

        Same rules as ``CommandBus.dispatch``: a type name with keyword fields or a dataclass
        instance; ``UnknownQuery`` for a query no one answers.
        """
        return self._call(query, fields)
