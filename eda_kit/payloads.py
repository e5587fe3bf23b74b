"""JSON payloads: what an event may carry, checked once at the door.

Events travel: between processes, into files, over the network, into the future (an event
stored today is read back years from now). JSON is the lingua franca for that, so an event's
``data`` and ``metadata`` may only hold JSON values:

    None, True/False, int, float (finite), str, list (or tuple), dict with str keys

Anything else (a ``Decimal``, a ``datetime``, a ``set``, your own class) is refused when the
event is built, with a ``TypeError`` naming the exact place, e.g.::

    data['items'][2]['price']: object of type Decimal is not JSON

Refusing early beats the alternative: a payload that works in memory and then fails (or,
worse, is silently mangled) the day it is written to a store.

Values that pass are copied into *read-only* containers (``FrozenDict`` and ``FrozenList``,
plain ``dict``/``list`` subclasses), so an event can't be changed after the fact, and a caller
who keeps mutating their own dict doesn't change the event they already sent.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["FrozenDict", "FrozenList", "freeze_json", "thaw"]


def _read_only(self: Any, *args: Any, **kwargs: Any) -> None:
    raise TypeError(
        "event payloads are read-only: copy it first (dict(event.data)) "
        "or record a new event instead"
    )


class FrozenDict(dict):
    """A ``dict`` that refuses changes. Compares, prints and JSON-encodes like a dict."""

    __slots__ = ()
    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __reduce__(self) -> Any:  # copy.deepcopy gives back an ordinary, mutable dict
        return (dict, (dict(self),))


#: The empty payload, shared: it can't change, so one copy serves every event.
EMPTY = FrozenDict()


class FrozenList(list):
    """A ``list`` that refuses changes. Compares, prints and JSON-encodes like a list."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> Any:
        return (list, (list(self),))


def freeze_json(value: Any, path: str = "data") -> Any:
    """Check that ``value`` is a JSON value and return a read-only copy of it.

    ``path`` names the value in error messages (``data``, ``metadata``...); the message points
    inside it, e.g. ``data['items'][2]['price']: object of type Decimal is not JSON``.
    """
    try:
        return _freeze(value)
    except _NotJSON as problem:
        where = "".join(reversed(problem.steps))  # the steps were collected innermost first
        raise TypeError(f"{path}{where}: {problem.reason}") from None


class _NotJSON(Exception):
    """Raised deep inside a payload; each enclosing list or dict adds its step to the path."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.steps: list[str] = []


def _freeze(value: Any) -> Any:
    # Exact type checks first: they are the common case and the fastest.
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _NotJSON(f"{value!r} is not JSON (JSON has no NaN or infinity)")
    if isinstance(value, dict):
        if not value:
            return EMPTY
        frozen = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotJSON(
                    f"key {key!r} of type {type(key).__name__} is not JSON "
                    "(JSON object keys must be strings)"
                )
            try:
                frozen[key] = _freeze(item)
            except _NotJSON as problem:  # costs nothing unless something was refused
                problem.steps.append(f"[{key!r}]")
                raise
        return FrozenDict(frozen)
    if isinstance(value, (list, tuple)):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_freeze(item))
            except _NotJSON as problem:
                problem.steps.append(f"[{index}]")
                raise
        return FrozenList(items)
    if isinstance(value, (str, int)):  # subclasses such as IntEnum or str-based enums
        return value
    raise _NotJSON(f"object of type {kind.__name__} is not JSON")


def freeze_trusted(value: Any) -> Any:
    """Make read-only containers from a value already known to be JSON (e.g. ``json.loads``).

    Skips the checks of :func:`freeze_json`: stores use it when reading their own JSON back.
    """
    kind = type(value)
    if kind is dict:
        return FrozenDict({k: freeze_trusted(v) for k, v in value.items()})
    if kind is list:
        return FrozenList([freeze_trusted(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """Return an ordinary, mutable deep copy of a (possibly frozen) JSON value."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value
