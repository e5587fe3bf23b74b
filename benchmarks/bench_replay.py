"""ReplayPlayer: how long a jump to any position takes (checkpoints bound the folds)."""

from __future__ import annotations

import random
from functools import partial

from .harness import Row, Section, Skip, timed


def replay_section(sizes: tuple[int, ...], jumps: int) -> Section:
    try:
        from eda_kit import Event
        from eda_kit.viz.widgets import ReplayPlayer
    except ImportError as error:
        raise Skip(f"eda_kit.viz.widgets is missing ({error})") from None

    def apply(state, event):
        return {"balance": state["balance"] + event.data["amount"], "count": state["count"] + 1}

    rows, met = [], None
    chooser = random.Random(7)
    for size in sizes:
        events = [Event("Deposited", {"amount": 1}) for _ in range(size)]
        player = ReplayPlayer(events, apply, {"balance": 0, "count": 0})
        targets = [chooser.randint(0, size) for _ in range(jumps)]
        latencies = sorted(timed(partial(player.goto, n)) for n in targets)
        assert player.state["count"] == targets[-1]
        median, worst = latencies[len(latencies) // 2], latencies[-1]
        rows.append(Row(f"{size:,} events: median jump", median * 1e3, "ms"))
        rows.append(Row(f"{size:,} events: slowest jump", worst * 1e3, "ms"))
        if size == min(sizes):
            met = worst < 0.050
    return Section(
        "Replay player: random jumps",
        f"`ReplayPlayer.goto(n)` to {jumps} random positions (headless)",
        rows,
        goal=f"every jump under 50 ms at {min(sizes):,} events",
        met=met,
    )
