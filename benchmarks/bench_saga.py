"""What one owner at a time costs: a saga's throughput on SQLite without and with its lease.

The same three-step saga (create the order, reserve, charge: each step a dict update) runs
``number`` times, each under a fresh saga id, with its log in a ``SQLiteEventStore`` file in
WAL mode. With ``synchronous=FULL`` (the store's default) every log write waits for the disk,
and on a shared machine the disk's mood swamps everything else, so the contenders run with
``synchronous=NORMAL`` (the same writes, no wait for the disk at each commit), and the first
two once more with FULL. The contenders:

- **no lease** (``lease_ttl=None``): the log alone, 8 writes per saga (started, 2 per step,
  finished); what a saga cost before leases existed, and the floor here;
- **leased** (the default, a 30 s lease): the lease rides in ``SagaStarted`` and ends with
  ``SagaFinished``, so the writes are the same 8; the extra cost is the heartbeat thread each
  run starts and stops, and the lease fields;
- **leased, renewing before every step**: a clock that jumps 25 s inside each step, so the
  lease runs short before each step after the first and the saga writes ``LeaseRenewed``
  first (10 writes): the worst a slow saga pays for keeping its lease;
- **in memory, no store**: nothing written at all, to show how much of a saga is its log.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from collections.abc import Callable

from .harness import Row, Section, Skip, best_per_call


def saga_section(number: int, rounds: int) -> Section:
    try:
        from eda_kit import SQLiteEventStore
        from eda_kit.saga import ManualClock, Saga, Step
    except ImportError as error:
        raise Skip(f"eda_kit.saga is missing ({error})") from None

    jumpy = ManualClock()

    def steps(tick: bool = False) -> list[Step]:
        def do(key: str):
            def action(ctx):
                if tick:
                    jumpy.advance(25)  # the lease (30 s) runs short before the next step
                return {key: True}

            return action

        def undo(ctx):
            return None

        return [
            Step("create_order", do("order"), undo),
            Step("reserve_inventory", do("reserved"), undo),
            Step("charge_payment", do("charged"), undo),
        ]

    ids = itertools.count()
    with tempfile.TemporaryDirectory() as folder:
        stores = {
            name: SQLiteEventStore(
                os.path.join(folder, f"{name}.db"),
                synchronous="FULL" if name.endswith("full") else "NORMAL",
            )
            for name in ("bare", "leased", "renewing", "bare full", "leased full")
        }
        sagas = {
            "no lease": Saga("order", steps(), store=stores["bare"], lease_ttl=None),
            "leased": Saga("order", steps(), store=stores["leased"], owner="bench"),
            "renewing": Saga(
                "order", steps(tick=True), store=stores["renewing"], owner="bench", clock=jumpy
            ),
            "in memory": Saga("order", steps()),
            "no lease, full": Saga("order", steps(), store=stores["bare full"], lease_ttl=None),
            "leased, full": Saga("order", steps(), store=stores["leased full"], owner="bench"),
        }

        def runner(saga: Saga):
            def run() -> None:
                result = saga.run({"order_id": "A1"}, saga_id=f"s{next(ids)}")
                assert result.status == "completed", result

            return run

        times = best_per_call(
            {name: runner(saga) for name, saga in sagas.items()}, number=number, rounds=rounds
        )
        writes = {
            name: stores[name].last_position() // (number * rounds) for name in stores
        }  # saga log events per run
        cpu = _cpu_per_call(
            {name: runner(sagas[name]) for name in ("no lease", "leased")}, number, rounds
        )
        for store in stores.values():
            store.close()
    base = times["no lease"]
    ratio = times["leased"] / base
    return Section(
        "Saga: the lease's cost on SQLite",
        f"a 3-step saga, its log in a SQLite file (WAL, synchronous=NORMAL unless FULL is "
        f"said), best of {rounds} interleaved rounds of {number} sagas",
        [
            Row(
                f"eda_kit Saga, no lease ({writes['bare']} log writes)",
                1 / base,
                "sagas/s",
                1.0,
            ),
            Row(
                f"eda_kit Saga, leased ({writes['leased']} log writes)",
                1 / times["leased"],
                "sagas/s",
                ratio,
            ),
            Row(
                f"eda_kit Saga, lease renewed before every step ({writes['renewing']} writes)",
                1 / times["renewing"],
                "sagas/s",
                times["renewing"] / base,
            ),
            Row(
                "eda_kit Saga, in memory (no log)",
                1 / times["in memory"],
                "sagas/s",
                times["in memory"] / base,
            ),
            Row(
                "eda_kit Saga, no lease, synchronous=FULL",
                1 / times["no lease, full"],
                "sagas/s",
                times["no lease, full"] / base,
            ),
            Row(
                "eda_kit Saga, leased, synchronous=FULL",
                1 / times["leased, full"],
                "sagas/s",
                times["leased, full"] / base,
            ),
        ],  # fmt: skip
        goal="a leased saga at most 1.25x the time of the same saga without a lease",
        met=ratio <= 1.25,
        notes=[
            f"with synchronous=FULL: leased / no lease = "
            f"{times['leased, full'] / times['no lease, full']:.2f}x (the disk decides)",
            f"CPU time per saga (this process, heartbeat thread included): no lease "
            f"{cpu['no lease'] * 1e3:.3f} ms, leased {cpu['leased'] * 1e3:.3f} ms "
            f"({cpu['leased'] / cpu['no lease']:.2f}x): steadier than wall time on a busy machine",
        ],
        ratio_label="x time of no lease",
    )


def _cpu_per_call(
    contenders: dict[str, Callable[[], object]], number: int, rounds: int
) -> dict[str, float]:
    """CPU seconds per call (``time.process_time``: every thread of this process), best of
    ``rounds`` interleaved rounds: what the contender costs, whatever else the machine does."""
    best = {name: float("inf") for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            started = time.process_time()
            for _ in range(number):
                call()
            best[name] = min(best[name], (time.process_time() - started) / number)
    return best
