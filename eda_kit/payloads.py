"""JSON payloads: what an event may carry, checked once at the door.

Events travel: between processes, into files, over the network, into the future (an event
stored today is read back years from now). JSON is the lingua franca for that, so an event's
``data`` and ``metadata`` may only hold JSON values:

    None, True/False, int, float (finite), str, list (or tuple), dict with str keys

Anything else (a ``Decimal``, a ``datetime``, a ``set``, your own class) is refused when the
event is built, with a ``NotJSON`` error (a ``TypeError``) naming the exact place::

    >>> from decimal import Decimal
    >>> freeze_json({"items": [{"price": 3}, {"price": 4}, {"price": Decimal("2.50")}]})
    Traceback (most recent call last):
    ...
    eda_kit.errors.NotJSON: data['items'][2]['price']: object of type Decimal is not JSON

Refusing early beats the alternative: a payload that works in memory and then fails (or,
worse, is silently mangled) the day it is written to a store.

Values that pass are copied into *read-only* containers (``FrozenDict`` and ``FrozenList``,
plain ``dict``/``list`` subclasses), so an event can't be changed after the fact, and a caller
who keeps mutating their own dict doesn't change the event they already sent.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidType, InvalidValue, NotJSON

__all__ = ["FrozenDict", "FrozenList", "freeze_json", "thaw", "check_storable_text"]


def _read_only(self: Any, *args: Any, **kwargs: Any) -> None:
    raise InvalidType(
        "event payloads are read-only: copy it first (dict(event.data)) "
        "or record a new event instead"
    )


class FrozenDict(dict):
    """A ``dict`` that refuses changes. Compares, prints and JSON-encodes like a dict."""

    __slots__ = ()
    # Every method that would change the dict raises instead (their signatures differ: the
    # type checker is told this is on purpose).
    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> Any:  # copy.deepcopy gives back an ordinary, mutable dict
        return (dict, (dict(self),))


#: The empty payload, shared: it can't change, so one copy serves every event.
EMPTY = FrozenDict()


class FrozenList(list):
    """A ``list`` that refuses changes. Compares, prints and JSON-encodes like a list."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only  # type: ignore[assignment]
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> Any:
        return (list, (list(self),))


#: Integers must fit in 64 bits, signed: what SQLite, PostgreSQL's ``bigint`` and most JSON
#: parsers outside Python hold exactly. (JavaScript's numbers are exact only up to 2**53.)
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
#: How deep lists and dicts may nest. Real events are shallow; a deeper payload is almost
#: always a bug (a cycle unrolled, a tree that wanted to be a table), and every reader of the
#: log would have to recurse through it.
MAX_DEPTH = 100


def freeze_json(value: Any, path: str = "data") -> Any:
    """Check that ``value`` is a JSON value and return a read-only copy of it.

    ``path`` names the value in error messages (``data``, ``metadata``...); the message points
    inside it, e.g. ``data['items'][2]['price']: object of type Decimal is not JSON``.
    Besides the JSON types, it checks what would break a store later: integers beyond 64 bits,
    text with lone surrogates (not encodable as UTF-8), NaN and infinity, and nesting deeper
    than ``MAX_DEPTH``.
    """
    if type(value) is dict and _flat_and_plain(value):
        return FrozenDict(value) if value else EMPTY  # the usual payload: one copy, in C
    try:
        return _freeze(value, 1)
    except _NotJSON as problem:
        where = "".join(reversed(problem.steps))  # the steps were collected innermost first
        raise NotJSON(f"{path}{where}: {problem.reason}") from None


class _NotJSON(Exception):
    """Raised deep inside a payload; each enclosing list or dict adds its step to the path."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.steps: list[str] = []


# The checks below run for every event built, so the common cases are tested first and
# inline (make bench: "Event construction" and "Build + publish").


def _flat_and_plain(payload: dict[Any, Any]) -> bool:
    """Are all keys ASCII text and all values ASCII text, 64-bit ints, bools or None?

    Most payloads are like that (``{"order_id": "A1", "total": 30}``): they need no copy of
    their own, just one read-only copy of the dict. Anything else takes the full walk.
    """
    for key, item in payload.items():
        if type(key) is not str or not key.isascii():
            return False
        kind = type(item)
        if kind is str:
            if not item.isascii():
                return False
        elif kind is int:
            if not MIN_INT <= item <= MAX_INT:
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def _freeze(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _checked_text(value)
    if kind is int:
        if MIN_INT <= value <= MAX_INT:
            return value
        raise _NotJSON(_too_big(value))
    if value is None or kind is bool:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _NotJSON(f"{value!r} is not JSON (JSON has no NaN or infinity)")
    if kind is dict or isinstance(value, dict):
        if not value:
            return EMPTY
        if depth > MAX_DEPTH:
            raise _NotJSON(f"nested more than {MAX_DEPTH} levels deep")
        frozen = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotJSON(
                    f"key {key!r} of type {type(key).__name__} is not JSON "
                    "(JSON object keys must be strings)"
                )
            if not key.isascii():
                _checked_text(key)
            item_kind = type(item)
            if item_kind is str and item.isascii():  # the common cases, without a call
                frozen[key] = item
                continue
            if item_kind is int and MIN_INT <= item <= MAX_INT:
                frozen[key] = item
                continue
            try:
                frozen[key] = _freeze(item, depth + 1)
            except _NotJSON as problem:  # costs nothing unless something was refused
                problem.steps.append(f"[{key!r}]")
                raise
        return FrozenDict(frozen)
    if kind is list or isinstance(value, (list, tuple)):
        if depth > MAX_DEPTH:
            raise _NotJSON(f"nested more than {MAX_DEPTH} levels deep")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_freeze(item, depth + 1))
            except _NotJSON as problem:
                problem.steps.append(f"[{index}]")
                raise
        return FrozenList(items)
    if isinstance(value, str):  # str-based enums and other subclasses
        return _checked_text(value)
    if isinstance(value, int):  # IntEnum and other int subclasses
        if MIN_INT <= value <= MAX_INT:
            return value
        raise _NotJSON(_too_big(value))
    raise _NotJSON(f"object of type {kind.__name__} is not JSON")


def _checked_text(text: str) -> str:
    """``text`` if it can be written as UTF-8 (no lone surrogates such as '\\ud800')."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _NotJSON(
            f"text {text[:40]!r} contains a lone surrogate ({text[error.start]!r} at index "
            f"{error.start}), which is not valid Unicode text and can't be stored"
        ) from None
    return text


def check_storable_text(text: str, what: str) -> str:
    """``text`` if every store can keep it as a name: no NUL, no lone surrogate.

    For the names around a payload (an event's type and id, stream ids, checkpoint names,
    idempotency keys): the in-memory store would take them, SQLite would fail with a raw
    ``UnicodeEncodeError`` and PostgreSQL text holds no NUL, so they are refused at the door,
    naming ``what``. ASCII text without NUL (the usual case) costs two C-level scans.

    >>> check_storable_text("OrderPlaced", "event type")
    'OrderPlaced'
    """
    if "\x00" in text:
        raise InvalidValue(f"{what} {text[:40]!r} contains a NUL character ('\\x00')")
    if not text.isascii():
        try:
            _checked_text(text)
        except _NotJSON as problem:
            raise InvalidValue(f"{what} {problem.reason.removeprefix('text ')}") from None
    return text


def _too_big(number: int) -> str:
    digits = len(str(abs(number))) if number.bit_length() < 10_000 else "thousands of"
    return (
        f"an integer of {digits} digits does not fit in 64 bits "
        f"({MIN_INT} to {MAX_INT}); store big numbers as text"
    )


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
