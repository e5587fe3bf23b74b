"""ReplayPlayer: building a player and jumping around in it, with a state that grows.

The state here is what makes replays expensive: it grows with every event (every order so
far, by id), the way a read model does. A fixed checkpoint every 100 events would copy that
state n / 100 times (quadratic: 40k events took 11.6 s); checkpoints spaced by the state's
measured size (``eda_kit.viz.checkpoints``) keep the build O(n) and every jump bounded.
"""

from __future__ import annotations

import copy
import random
from functools import partial

from .harness import Row, Section, Skip, timed


def add_order(state: dict, event) -> dict:
    """One fold step that grows the state (changed in place: cheap per event)."""
    state["orders"][event.data["id"]] = event.data["total"]
    state["count"] += 1
    return state


def best_jump(player, target: int, elsewhere: int, rounds: int = 3) -> float:
    """Seconds of the quickest of ``rounds`` jumps from ``elsewhere`` to ``target``.

    Best of a few, like every other figure here: on a shared machine a single timing also
    measures whoever else had the CPU at that moment.
    """
    best = float("inf")
    for _ in range(rounds):
        player.goto(elsewhere)
        best = min(best, timed(partial(player.goto, target)))
    return best


def fixed_spacing_build(events: list, every: int = 100) -> list:
    """The old way, for comparison: a deep copy of the state every ``every`` events."""
    state: dict = {"count": 0, "orders": {}}
    kept = [copy.deepcopy(state)]
    for number, event in enumerate(events, start=1):
        state = add_order(state, event)
        if number % every == 0:
            kept.append(copy.deepcopy(state))
    return kept


def replay_section(sizes: tuple[int, ...], jumps: int) -> Section:
    try:
        from eda_kit import Event
        from eda_kit.viz.widgets import ReplayPlayer
    except ImportError as error:
        raise Skip(f"eda_kit.viz.widgets is missing ({error})") from None

    rows, met = [], True
    chooser = random.Random(7)
    notes = []
    for size in sizes:
        events = [Event("OrderPlaced", {"id": f"A{i}", "total": i % 50}) for i in range(size)]
        built: list[ReplayPlayer] = []

        def build(events=events, built=built) -> None:
            built.append(ReplayPlayer(events, add_order, {"count": 0, "orders": {}}))

        build_time = min(timed(build) for _ in range(3))
        player = built[-1]

        targets = [chooser.randint(0, size) for _ in range(jumps)]
        latencies = sorted(best_jump(player, n, chooser.randint(0, size)) for n in targets)
        assert player.goto(targets[-1]).state["count"] == targets[-1]
        median, worst = latencies[len(latencies) // 2], latencies[-1]
        rows.append(Row(f"{size:,} events: build", build_time * 1e3, "ms"))
        if size == min(sizes):  # the old fixed spacing is quadratic: the small size only
            old = min(timed(partial(fixed_spacing_build, events)) for _ in range(3))
            rows.append(
                Row(f"{size:,} events: build, a deep copy every 100 (before)", old * 1e3, "ms")
            )
        rows.append(Row(f"{size:,} events: median jump", median * 1e3, "ms"))
        rows.append(Row(f"{size:,} events: slowest jump", worst * 1e3, "ms"))
        points = player.checkpoints
        notes.append(
            f"{size:,} events: {len(points)} checkpoints, {points.total_bytes / 1e6:.1f} MB in "
            f"all (final state {points.sizes[-1] / 1e6:.2f} MB when last kept), at most "
            f"{player.longest_jump:,} folds per jump"
        )
        met = met and worst < 0.050 and (size < 100_000 or build_time < 1.0)
    return Section(
        "Replay player: build and random jumps, growing state",
        f"`ReplayPlayer(events, apply, initial)` over a state that gains an entry per event, "
        f"then `goto(n)` to {jumps} random positions, each from another random one (best of 3; "
        "headless)",
        rows,
        goal="build under 1 s at 100,000 events; every jump under 50 ms",
        met=met,
        notes=notes,
    )
