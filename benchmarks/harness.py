"""Timing machinery shared by every benchmark: interleaved rounds, best-of, results."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Skip(Exception):
    """A benchmark that can't run yet (its module is missing); the message says why."""


@dataclass
class Row:
    """One contender's figure: ``value`` in ``unit``, and its ``ratio`` to the baseline.

    ``ours`` marks eda_kit's rows in the chart (by default: rows whose name says eda_kit).
    """

    name: str
    value: float
    unit: str
    ratio: float | None = None
    ours: bool | None = None

    @property
    def is_ours(self) -> bool:
        return self.ours if self.ours is not None else "eda_kit" in self.name


@dataclass
class Section:
    """One comparison: its rows, the goal in words, and whether eda_kit met it."""

    title: str
    what: str
    rows: list[Row] = field(default_factory=list)
    goal: str = ""
    met: bool | None = None
    ratio_label: str = "ratio"
    notes: list[str] = field(default_factory=list)


def best_per_call(
    contenders: dict[str, Callable[[], object]], *, number: int, rounds: int
) -> dict[str, float]:
    """Seconds per call of each contender: ``rounds`` interleaved rounds, best round kept.

    Interleaving (A B C, A B C, ...) instead of (A A A, B B B, ...) means a slow moment on a
    shared machine lands on every contender, not on whichever happened to run then.
    """
    best = {name: float("inf") for name in contenders}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, call in contenders.items():
                started = time.perf_counter()
                for _ in range(number):
                    call()
                elapsed = (time.perf_counter() - started) / number
                best[name] = min(best[name], elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def best_of(rounds: int, run: Callable[[], float]) -> float:
    """The smallest of ``rounds`` results of ``run()`` (which returns seconds)."""
    return min(run() for _ in range(rounds))


def timed(call: Callable[[], object]) -> float:
    """Seconds one call of ``call`` takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started
