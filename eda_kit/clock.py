"""Where event ids and timestamps come from, and how to make them reproducible.

Normally every event gets a random id (a UUID4) and the current UTC time. That is what a real
system wants, and exactly what a course does *not* want: a notebook whose printed ids and times
change on every run can't be checked, and a learner can't compare their screen with the text.

``reproducible()`` switches to a fixed world:

- ids come from a counter: ``evt-0001``, ``evt-0002``, ...
- the clock starts at 2026-01-05 09:00:00 UTC and moves forward one second per reading,
- ``random`` is seeded, and :func:`layout_seed` gives drawings a fixed seed.

Use it as a call at the top of a notebook, or as a context manager in a test (the previous
world comes back on exit)::

    >>> import eda_kit
    >>> with eda_kit.reproducible():
    ...     print(new_id(), new_id(), now().isoformat())
    evt-0001 evt-0002 2026-01-05T09:00:00+00:00
    >>> new_id() == "evt-0003"             # outside the block: random ids again
    False
"""

from __future__ import annotations

import itertools
import os
import random
from datetime import UTC, datetime, timedelta
from time import time as _unix_time
from typing import Any

from .errors import InvalidValue

__all__ = [
    "new_id",
    "new_command_id",
    "now",
    "stamp",
    "id_from",
    "reproducible",
    "layout_seed",
    "Reproducible",
]

DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


class _World:
    """The current source of ids, times and seeds. One per process."""

    __slots__ = ("fixed", "ids", "command_ids", "next_time", "tick", "seed")

    def __init__(self) -> None:
        self.fixed = False
        self.ids: Any = None
        self.command_ids: Any = None
        self.next_time = DEFAULT_START
        self.tick = timedelta(seconds=1)
        self.seed: int | None = None


_world = _World()


def new_id() -> str:
    """A fresh, unique event id in UUID form, or ``evt-0001`` in reproducible mode.

    Every event gets one, so ids must be cheap as well as unique. Asking the operating system
    for 16 random bytes per id (``uuid.uuid4()``) costs more than building the rest of the
    event, so an id is a random part drawn once per process (58 random bits, drawn again in a
    forked child) followed by a counter that starts at a random value: two processes collide
    only if they draw the same random part. Ids are unique, not secret: don't use one as a
    password or a token.
    """
    if _world.fixed:
        return f"evt-{next(_world.ids):04d}"
    return id_from(_id_prefix, next(_id_counter))


def new_command_id() -> str:
    """A fresh id for a command (a command is not an event, but its effects point at it).

    UUID-shaped like event ids, or ``cmd-0001``, ``cmd-0002``... in reproducible mode, from a
    counter of its own, so dispatching a command does not shift the events' ``evt-`` numbers.
    """
    if _world.fixed:
        return f"cmd-{next(_world.command_ids):04d}"
    return id_from(_id_prefix, next(_id_counter))


def id_from(prefix: str, serial: int) -> str:
    """The id for ``serial`` under ``prefix`` (the last twelve hex digits of a UUID)."""
    return prefix + format(serial & 0xFFFFFFFFFFFF, "012x")


def stamp() -> tuple[str, int, float] | None:
    """What ``new_id()`` and ``now()`` would give, not yet written out; ``None`` when fixed.

    ``(id prefix, serial, seconds since the epoch)``: three cheap values an ``Event`` keeps
    and turns into its ``id`` (:func:`id_from`) and ``time`` the first time they are read.
    In reproducible mode there is no stamp: ids and times come from the fixed world, in
    order of creation.
    """
    if _world.fixed:
        return None
    return (_id_prefix, next(_id_counter), _unix_time())


def _fresh_id_source() -> None:
    """Draw this process's random id prefix and counter start (again after a fork)."""
    global _id_prefix, _id_counter
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4, as in a random UUID
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    _id_prefix = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-"
    _id_counter = itertools.count(int(h[20:], 16))


_id_prefix = ""
_id_counter = itertools.count()
_fresh_id_source()
if hasattr(os, "register_at_fork"):  # a forked child must not repeat its parent's ids
    os.register_at_fork(after_in_child=_fresh_id_source)


def now() -> datetime:
    """The current time in UTC; in reproducible mode, a clock that ticks once per reading."""
    if _world.fixed:
        moment = _world.next_time
        _world.next_time = moment + _world.tick
        return moment
    return datetime.now(UTC)


def layout_seed() -> int | None:
    """The seed drawings should use for their layouts (``None`` outside reproducible mode)."""
    return _world.seed


class Reproducible:
    """The handle ``reproducible()`` returns: already active; ``with`` restores on exit."""

    def __init__(self, seed: int, start: datetime, tick: timedelta) -> None:
        self._saved = (
            _world.fixed,
            _world.ids,
            _world.command_ids,
            _world.next_time,
            _world.tick,
            _world.seed,
            random.getstate(),
        )
        _world.fixed = True
        _world.ids = itertools.count(1)
        _world.command_ids = itertools.count(1)
        _world.next_time = start
        _world.tick = tick
        _world.seed = seed
        random.seed(seed)

    def __enter__(self) -> Reproducible:
        return self

    def __exit__(self, *exc_info: object) -> None:
        (
            _world.fixed,
            _world.ids,
            _world.command_ids,
            _world.next_time,
            _world.tick,
            _world.seed,
            random_state,
        ) = self._saved
        random.setstate(random_state)

    def __repr__(self) -> str:
        clock = f"{_world.next_time:%Y-%m-%d %H:%M:%S}"
        return f"<reproducible mode: seed {_world.seed}, clock at {clock}>"


def reproducible(
    seed: int = 0,
    *,
    start: datetime = DEFAULT_START,
    tick: timedelta = timedelta(seconds=1),
) -> Reproducible:
    """Fix ids, clock and random seeds so every run prints the same thing.

    Each call starts over: ids from ``evt-0001``, the clock at ``start``.
    """
    if start.tzinfo is None:
        raise InvalidValue("start must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")
    if tick <= timedelta(0):
        raise InvalidValue("tick must be positive: time only moves forward")
    return Reproducible(seed, start, tick)
