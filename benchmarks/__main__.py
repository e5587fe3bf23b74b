"""Run every benchmark and write benchmarks/RESULTS.md and benchmarks/results.png.

python -m benchmarks            # full sizes (a few minutes)
python -m benchmarks --quick    # tiny sizes: checks that everything runs
python -m benchmarks --only emitter,bus --out /tmp/bench
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .bench_course import import_section, notebooks_section
from .bench_dispatch import (
    build_and_publish_section,
    bus_section,
    emitter_section,
    event_section,
)
from .bench_messaging import inbox_section, relay_section
from .bench_postgres import concurrent_section
from .bench_postgres import store_section as postgres_section
from .bench_rabbitmq import latency_section, publish_section
from .bench_replay import replay_section
from .bench_saga import saga_section
from .bench_sourcing import sourcing_section
from .bench_store import store_section
from .bench_trace import trace_section
from .harness import Skip
from .report import chart, markdown

FULL = {
    "event": lambda: event_section(number=20_000, rounds=15),
    "emitter": lambda: emitter_section(number=20_000, rounds=15),
    "bus": lambda: bus_section(number=20_000, rounds=15),
    "build+publish": lambda: build_and_publish_section(number=20_000, rounds=15),
    "store": lambda: store_section(events=1_000, batch=100, rounds=3),
    "postgres": lambda: postgres_section(events=1_000, batch=100, rounds=3),
    "writers": lambda: concurrent_section(writers=8, count=250, rounds=3),
    "rabbitmq": lambda: publish_section(count=3_000, block=50),
    "latency": lambda: latency_section(events=300),
    "sourcing": lambda: sourcing_section(events=20_000, rounds=5),
    "inbox": lambda: inbox_section(number=200, rounds=3),
    "relay": lambda: relay_section(events=10_000, rounds=5),
    "saga": lambda: saga_section(number=200, rounds=5),
    "replay": lambda: replay_section(sizes=(10_000, 100_000), jumps=200),
    "trace": lambda: trace_section(rows=1_000_000, rounds=3),
    "import": lambda: import_section(runs=9),
    "course": lambda: notebooks_section(include_nbval=True),
}
QUICK = {
    "event": lambda: event_section(number=200, rounds=2),
    "emitter": lambda: emitter_section(number=200, rounds=2),
    "bus": lambda: bus_section(number=200, rounds=2),
    "build+publish": lambda: build_and_publish_section(number=200, rounds=2),
    "store": lambda: store_section(events=20, batch=10, rounds=1),
    "postgres": lambda: postgres_section(events=20, batch=10, rounds=1),
    "writers": lambda: concurrent_section(writers=2, count=5, rounds=1),
    "rabbitmq": lambda: publish_section(count=20, block=5),
    "latency": lambda: latency_section(events=10),
    "sourcing": lambda: sourcing_section(events=500, rounds=1),
    "inbox": lambda: inbox_section(number=5, rounds=1),
    "relay": lambda: relay_section(events=50, rounds=1),
    "saga": lambda: saga_section(number=5, rounds=1),
    "replay": lambda: replay_section(sizes=(200,), jumps=10),
    "trace": lambda: trace_section(rows=1_000, rounds=1),
    "import": lambda: import_section(runs=1),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no notebook timings")
    parser.add_argument("--only", help="comma-separated parts: " + ", ".join(FULL))
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent,
        help="folder for RESULTS.md and results.png",
    )
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    if args.only:
        wanted = args.only.split(",")
        unknown = [name for name in wanted if name not in FULL]
        if unknown:
            parser.error(f"unknown part(s) {unknown}; choose from {list(FULL)}")
        plan = {name: run for name, run in plan.items() if name in wanted}

    sections, skipped = [], []
    for name, run in plan.items():
        print(f"[{name}] running...", flush=True)
        try:
            section = run()
        except Skip as reason:
            print(f"[{name}] skipped: {reason}")
            skipped.append(f"{name}: {reason}")
            continue
        sections.append(section)
        for row in section.rows:
            ratio = "" if row.ratio is None else f"  {row.ratio:6.2f} {section.ratio_label}"
            print(f"    {row.name:<40} {row.value:>12,.2f} {row.unit:<9}{ratio}")
        if section.met is not None:
            print(f"    goal ({section.goal}): {'met' if section.met else 'NOT MET'}")

    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    (args.out / "RESULTS.md").write_text(markdown(sections, skipped, command.strip()))
    chart(sections, args.out / "results.png")
    print(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
