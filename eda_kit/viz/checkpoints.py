"""Checkpoints for a replay: copies of the state along the way, spaced by the state's size.

A replay player folds its events once and keeps some states on the way, so a jump to
position ``n`` starts from the nearest kept state at or before ``n`` instead of from zero.
How far apart should they be? Two costs pull in opposite directions:

- each checkpoint is a copy of the state: copying a big state is slow and keeps memory;
- a jump folds every event between the checkpoint and the target: sparse checkpoints make
  long folds.

A fixed spacing (say every 100 events) is fine while the state is small, but a state that
grows with every event (a list of all orders) turns it quadratic: 1,000 checkpoints of a
state of 100,000 items each. So the spacing here *grows with the measured size of the state*:
after keeping a copy of ``size`` bytes, the next copy is due ``size / BYTES_PER_EVENT``
events later (and never sooner than ``every`` events). Every checkpoint therefore "pays" for
itself with at least one event per ``BYTES_PER_EVENT`` bytes it holds, which gives three
guarantees whatever the state looks like:

- **memory**: all checkpoints together hold at most ``BYTES_PER_EVENT`` bytes per event
  (plus one state): ``total_bytes <= BYTES_PER_EVENT * n + size of the last state``;
- **build time**: copying costs at most ``BYTES_PER_EVENT`` bytes per event: O(n) in all;
- **jump time**: a jump copies one checkpoint back and folds the events after it, at most
  :attr:`Checkpoints.longest_fold` of them: under ``every`` for a small state, about
  ``size / BYTES_PER_EVENT`` for a big one, so copying and folding cost about the same.

How a state is copied: plain data (dicts, lists, tuples, sets, strings, numbers, ``None``)
is written with :mod:`marshal`, the standard library's fast, exact format for Python's own
value types; its length in bytes is the measured size, and loading it back gives a fresh,
independent copy (loading runs no code: it only rebuilds those value types, unlike pickle).
Anything else (your own classes, an ``Aggregate``, an ``Enum``) is kept as a
:func:`copy.deepcopy`, measured by walking it (:func:`estimate_bytes`).
"""

from __future__ import annotations

import copy
import marshal
import sys
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Checkpoints", "capture", "restore", "estimate_bytes", "BYTES_PER_EVENT"]

#: How many bytes of checkpoint one event may "pay" for (see the module docstring).
BYTES_PER_EVENT = 64

_PLAIN_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})
_PLAIN_CONTAINERS = frozenset({dict, list, tuple, set, frozenset})
_PLAIN = _PLAIN_SCALARS | _PLAIN_CONTAINERS


@dataclass(frozen=True)
class Saved:
    """One kept state: marshal bytes (``data``) or a deep copy (``copied``), and its size."""

    size: int
    data: bytes | None = None
    copied: Any = None


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Only Python's own value types all the way down (exact types: no subclasses)?

    marshal would also take a subclass-free ``bytearray`` (or any buffer) and give back
    ``bytes``, so the types are checked first: a container's member types are collected in
    one pass (``set(map(type, ...))`` runs in C), and only nested containers are visited.
    """
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind not in _PLAIN_CONTAINERS or depth > 100:
        return False
    groups = (value.keys(), value.values()) if kind is dict else (value,)
    for group in groups:
        kinds = set(map(type, group))
        if kinds <= _PLAIN_SCALARS:
            continue
        if not kinds <= _PLAIN:
            return False
        nested = (item for item in group if type(item) in _PLAIN_CONTAINERS)
        if not all(_is_plain(item, depth + 1) for item in nested):
            return False
    return True


def capture(state: Any) -> Saved:
    """A private copy of ``state`` and its size in bytes (marshal for plain data)."""
    if _is_plain(state):
        data = marshal.dumps(state)
        return Saved(size=len(data), data=data)
    return Saved(size=estimate_bytes(state), copied=copy.deepcopy(state))


def restore(saved: Saved) -> Any:
    """A fresh copy of a kept state: changing it never changes the checkpoint."""
    if saved.data is not None:
        return marshal.loads(saved.data)
    return copy.deepcopy(saved.copied)


def estimate_bytes(value: Any) -> int:
    """About how many bytes ``value`` takes, walking containers and objects' attributes.

    An estimate in marshal's units (a number 5-9 bytes, a string its length plus 5), good
    enough to space checkpoints; shared and circular parts are counted once.
    """
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item) + 5
            continue
        if isinstance(item, (bool, int, float)) or item is None:
            total += 9
            continue
        if id(item) in seen:
            total += 5
            continue
        seen.add(id(item))
        total += 5
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
        else:
            total += sys.getsizeof(item)
    return total


class Checkpoints:
    """States kept along one fold, spaced by their size (see the module docstring).

    ``keep_if_due(position, state)`` after each fold step; ``before(n)`` for a jump.
    Position 0 (the initial state) is always kept.
    """

    def __init__(self, every: int, bytes_per_event: int = BYTES_PER_EVENT) -> None:
        self.every = every
        self.bytes_per_event = bytes_per_event
        self.positions: list[int] = []
        self.sizes: list[int] = []
        self._saved: list[Saved] = []
        self._next_due = 0
        self._end = 0

    def keep_if_due(self, position: int, state: Any) -> bool:
        """Keep a copy of ``state`` (the state after ``position`` events) if one is due."""
        self._end = max(self._end, position)
        if position < self._next_due:
            return False
        saved = capture(state)
        self.positions.append(position)
        self.sizes.append(saved.size)
        self._saved.append(saved)
        gap = max(self.every, -(-saved.size // self.bytes_per_event))  # ceiling division
        self._next_due = position + gap
        return True

    def before(self, n: int) -> tuple[int, Any]:
        """The nearest kept position at or before ``n``, and a fresh copy of its state."""
        index = bisect_right(self.positions, n) - 1
        return self.positions[index], restore(self._saved[index])

    def position_before(self, n: int) -> int:
        """The nearest kept position at or before ``n`` (no copy made)."""
        return self.positions[bisect_right(self.positions, n) - 1]

    @property
    def total_bytes(self) -> int:
        """How many bytes all the kept states hold together (measured as they were kept)."""
        return sum(self.sizes)

    @property
    def longest_fold(self) -> int:
        """The most ``apply`` calls any jump needs: ``n`` minus its checkpoint, at worst."""
        worst = [b - a - 1 for a, b in zip(self.positions, self.positions[1:], strict=False)]
        worst.append(self._end - self.positions[-1] if self.positions else 0)
        return max(worst)

    def __len__(self) -> int:
        return len(self.positions)
