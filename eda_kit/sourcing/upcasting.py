"""Upcasting: reading old event shapes as if they had been written today.

Stored events are facts; they are never edited. But code moves on. Say version 1 of the bank
wrote ``Deposited {"amount": "500.00"}`` (rupees, as text) and today's code wants
``Deposited {"amount": 50000}`` (paise, as an int). Rewriting years of stored events is risky
and destroys the record. Instead, every event carries the *schema* version of its shape in
``metadata["schema"]`` (an event without one is schema 1), and an *upcaster* turns schema n
into schema n + 1 as the event is read. The aggregate class declares its upcasters, once::

    def deposited_v1_to_v2(data):
        return {"amount": round(float(data["amount"]) * 100)}

    class BankAccount(Aggregate):
        upcasters = {("Deposited", 1): deposited_v1_to_v2}
        ...

    Repository(store, BankAccount).get("acc-1")     # old deposits arrive as schema 2

An upcaster gets the old ``data`` (read-only) and returns the new ``data`` as a new dict.
Chains work: with upcasters for schema 1 and 2, a schema-1 event passes through both. The
*current* schema of a type is one past its newest upcaster (2 above), and every repository
of the class stamps it on every event it saves, so new events are never upcast by mistake.

Why on the class, not on a repository? The schema of a new event must not depend on *which*
repository saved it. If one repository knew the upcaster and another did not, the second
would save today's deposits as "schema 1", and the first would upcast them again on read:
a deposit of 100 paise would come back as 10,000, with no error.

The same trap is open to code that appends to the store *directly*, not through a repository
(a command handler, a script, an import): its events carry no schema, count as schema 1 and
are upcast on read. Stamp them first: ``store.append(stream, repo.upcasters.stamp(event))``
(``Upcasters.of_class(BankAccount).stamp(event)`` without a repository).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..errors import InvalidType, InvalidValue
from ..events import Event

__all__ = ["SCHEMA_KEY", "Upcaster", "Upcasters", "schema_of"]

#: The metadata key holding an event's schema version.
SCHEMA_KEY = "schema"

#: An upcaster: old ``data`` in, new ``data`` out.
Upcaster = Callable[[Any], Any]

#: Any kind of event: upcasting gives back the same kind it was given.
E = TypeVar("E", bound=Event)


def schema_of(event: Event) -> int:
    """The schema version an event was written in (1 when its metadata doesn't say)."""
    return event.metadata.get(SCHEMA_KEY, 1)


class Upcasters:
    """A checked table of upcasters, keyed by ``(event type, schema it upgrades from)``."""

    def __init__(self, table: Mapping[tuple[str, int], Upcaster] | None = None) -> None:
        if table is None:
            table = {}
        if not isinstance(table, Mapping):
            raise InvalidType(
                "upcasters must be a dict like {('Deposited', 1): function}, "
                f"not {type(table).__name__}"
            )
        self._table: dict[tuple[str, int], Upcaster] = {}
        self._current: dict[str, int] = {}
        for key, function in table.items():
            if (
                not isinstance(key, tuple)
                or len(key) != 2
                or not isinstance(key[0], str)
                or not key[0]
                or type(key[1]) is not int
                or key[1] < 1
            ):
                raise InvalidValue(
                    f"upcaster key {key!r} must be (event type, schema it upgrades from), "
                    "e.g. ('Deposited', 1)"
                )
            if not callable(function):
                raise InvalidType(f"upcaster for {key!r} must be a function, got {function!r}")
            self._table[key] = function
        for event_type, schema in sorted(self._table):
            if schema != self._current.get(event_type, 1):
                raise InvalidValue(
                    f"upcasters for {event_type!r} must form a chain from schema 1 "
                    f"(1 -> 2 -> 3 ...): schema {self._current.get(event_type, 1)} "
                    f"has no upcaster but schema {schema} has"
                )
            self._current[event_type] = schema + 1

    @classmethod
    def of_class(cls, aggregate_class: type) -> Upcasters:
        """The checked table an aggregate class declares in its ``upcasters`` attribute."""
        table = getattr(aggregate_class, "upcasters", None)
        try:
            return cls(table or None)
        except (InvalidType, InvalidValue) as error:
            raise type(error)(f"{aggregate_class.__name__}.upcasters: {error}") from None

    def __bool__(self) -> bool:
        return bool(self._table)

    def current_schema(self, event_type: str) -> int:
        """The schema version today's code writes for ``event_type``."""
        return self._current.get(event_type, 1)

    def stamp(self, event: E) -> E:
        """The same event with its schema version in the metadata (if it had none)."""
        if SCHEMA_KEY in event.metadata:
            return event
        metadata = {**event.metadata, SCHEMA_KEY: self.current_schema(event.type)}
        return dataclasses.replace(event, metadata=metadata)

    def upcast(self, event: E) -> E:
        """Bring an event up to its type's current schema. The stored event is untouched.

        Returns the very same object when there is nothing to do.
        """
        schema = schema_of(event)
        current = self.current_schema(event.type)
        if type(schema) is not int or schema < 1:
            raise InvalidValue(f"{event!r} has a bad schema version {schema!r} in its metadata")
        if schema > current:
            raise InvalidValue(
                f"{event!r} is schema {schema}, newer than this code knows for "
                f"{event.type!r} (schema {current}): is an upcaster missing?"
            )
        while schema < current:
            function = self._table[(event.type, schema)]
            try:
                data = function(event.data)
                if data is None:
                    raise InvalidType("the upcaster returned None: it must return the new data")
                event = dataclasses.replace(
                    event, data=data, metadata={**event.metadata, SCHEMA_KEY: schema + 1}
                )
            except Exception as error:
                error.add_note(
                    f"while upcasting {event!r} from schema {schema} to {schema + 1} "
                    f"with {getattr(function, '__qualname__', function)}"
                )
                raise
            schema += 1
        return event
