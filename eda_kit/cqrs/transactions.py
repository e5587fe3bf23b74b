"""One event, one transaction: how a projection applies an event to each kind of read model.

A projection promises that an event is applied all or nothing: a handler that raises half-way
leaves no trace in the read model, and the position moves only with a complete change. How that
is kept depends on the read model, so each kind gets a *keeper* with the same three moves as a
``TransactionalCheckpoint`` (``eda_kit.store.base``): ``load()`` the position, open a
``transaction()`` that yields what the handler writes to, check it is still ``saved()`` where the
projection left it, ``save()`` the new one inside it.

==========================  =====================================  ==========================
read model                  all or nothing, by ...                 position kept ...
==========================  =====================================  ==========================
``SQLiteReadModel``, or     the database's own transaction         in the read model, in the
anything with                                                      same transaction (survives
``.checkpoint(name)``                                              a restart; see
                                                                   ``read_models.py``)
``dict`` (the default)      an undo log: the handler gets an       in memory, with the dict
                            :class:`UndoView` that copies each     (both vanish together)
                            key's old value before the first
                            change; a raise puts them back
anything with               its ``transaction()``                  in memory
``transaction()``
anything else (a list,      nothing: a raise may leave half a      in memory
your own object)            change. Write its handlers "check
                            first, then change", or give it a
                            ``transaction()``
==========================  =====================================  ==========================

The undo log costs one copy of each *touched* entry per event (a few microseconds for a row),
not a copy of the whole dict. Its limits: it sees changes made through the view (``view[key]``,
``view.get(key)``, ``setdefault``, ``pop``, iteration...); an object the handler kept from an
earlier event and changes directly, without looking it up again, is not undone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from ..store.base import TransactionalCheckpoint

__all__ = ["UndoView", "keeper_for"]

_MISSING = object()
_ATOMS = (str, int, float, bool, type(None))


def copy_value(value: Any) -> Any:
    """A deep copy, fast for the JSON-like values read models usually hold."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {key: copy_value(item) for key, item in value.items()}
    if kind is list:
        return [copy_value(item) for item in value]
    return copy.deepcopy(value)


class UndoView(MutableMapping[Any, Any]):
    """The dict a handler gets: it works like the read model, and remembers how to undo.

    Before a key is first read or changed during this event, its old value is copied aside;
    ``rollback()`` puts every such key back (and removes keys that did not exist).
    """

    __slots__ = ("data", "_undo")

    def __init__(self, data: dict[Any, Any]) -> None:
        self.data = data
        self._undo: dict[Any, Any] = {}

    def _remember(self, key: Any) -> None:
        if key not in self._undo:
            value = self.data.get(key, _MISSING)
            self._undo[key] = value if value is _MISSING else copy_value(value)

    def __getitem__(self, key: Any) -> Any:
        self._remember(key)
        return self.data[key]

    def get(self, key: Any, default: Any = None) -> Any:
        self._remember(key)
        return self.data.get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._remember(key)
        self.data[key] = value

    def __delitem__(self, key: Any) -> None:
        self._remember(key)
        del self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.data))  # a copy: the handler may change the dict meanwhile

    def __len__(self) -> int:
        return len(self.data)

    def clear(self) -> None:
        for key in self.data:
            self._remember(key)
        self.data.clear()

    def rollback(self) -> None:
        """Put back every key touched since this view was made."""
        for key, value in self._undo.items():
            if value is _MISSING:
                self.data.pop(key, None)
            else:
                self.data[key] = value
        self._undo.clear()

    def __eq__(self, other: object) -> bool:
        return self.data == (other.data if isinstance(other, UndoView) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.data)


class _InMemory:
    """A keeper for read models that live in this process: the position is kept in memory."""

    def __init__(self, read_model: Any, name: str) -> None:
        self.read_model = read_model
        self.name = name
        self.position = 0

    def load(self) -> int:
        return self.position

    def saved(self, unit: Any) -> int:
        return self.position

    def save(self, unit: Any, position: int) -> None:
        self.position = position

    def transaction(self) -> AbstractContextManager[Any]:
        return nullcontext(self.read_model)


class _DictKeeper(_InMemory):
    @contextmanager
    def transaction(self) -> Iterator[UndoView]:
        view = UndoView(self.read_model)
        try:
            yield view
        except BaseException:
            view.rollback()
            raise


class _OwnTransaction(_InMemory):
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.read_model.transaction():
            yield self.read_model


def keeper_for(read_model: Any, name: str) -> TransactionalCheckpoint:
    """How projection ``name`` applies events to ``read_model`` (see the table above)."""
    checkpoint = getattr(read_model, "checkpoint", None)
    if callable(checkpoint):
        keeper = checkpoint(name)
        if isinstance(keeper, TransactionalCheckpoint):
            return keeper
    if type(read_model) is dict:
        return _DictKeeper(read_model, name)
    if callable(getattr(read_model, "transaction", None)):
        return _OwnTransaction(read_model, name)
    return _InMemory(read_model, name)
