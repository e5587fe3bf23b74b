"""Tracer.where(): a query over a big trace, next to building every record (the old way)."""

from __future__ import annotations

from .harness import Row, Section, best_of, timed


def trace_section(rows: int, rounds: int) -> Section:
    from eda_kit import Tracer, TraceRecord

    tracer = Tracer()
    for i in range(rows):
        outcome = "failed" if i % 100 == 0 else "delivered"
        tracer.record("OrderService", "order.created", f"worker-{i % 7}", outcome)

    def where() -> float:
        return timed(lambda: tracer.where(outcome="failed"))

    def rebuild_all() -> float:  # what where() did before: a record for every step, then filter
        return timed(
            lambda: [
                r
                for r in (TraceRecord(i, *row) for i, row in enumerate(tracer._rows, start=1))
                if r.outcome == "failed"
            ]
        )

    ours = best_of(rounds, where)
    naive = best_of(rounds, rebuild_all)
    capped = Tracer(max_records=10_000)
    fill = timed(lambda: [capped.record("A", "e", "B") for _ in range(rows)])
    return Section(
        "Tracer: where() over a big trace",
        f"`tracer.where(outcome='failed')` over {rows:,} steps (1% match), best of {rounds}",
        [
            Row("eda_kit Tracer.where", ours * 1e3, "ms", ratio=1.0),
            Row("build every record, then filter", naive * 1e3, "ms", ratio=naive / ours),
            Row(f"eda_kit record() x{rows:,}, capped at 10k", fill * 1e3, "ms"),
        ],
        goal=f"where() under 1 s at {rows:,} steps",
        met=ours < 1.0,
        ratio_label="x where()",
        notes=[f"a capped tracer kept {len(capped):,} steps and dropped {capped.dropped:,}"],
    )
