"""Write the results: a Markdown table (RESULTS.md) and a bar chart of the ratios."""

from __future__ import annotations

import platform
import textwrap
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .harness import Section

PACKAGES = ("eda_kit", "pyee", "blinker", "pypubsub", "eventsourcing", "psycopg", "aio-pika")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}"
    )


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _verdict(section: Section) -> str:
    if section.met is None:
        return "no goal"
    return "met" if section.met else "**not met**"


def markdown(sections: list[Section], skipped: list[str], command: str) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d}",
        f"- Machine: {machine()}",
        f"- Versions: {versions()}",
        f"- Command: `{command}`",
        "",
        "Each comparison runs its contenders in one process, interleaved over several rounds, "
        "and keeps each one's best round. Ratios matter more than absolute times: they carry "
        "over to other machines far better.",
        "",
        "| Comparison | Goal | Result |",
        "|---|---|---|",
    ]
    lines += [f"| {s.title} | {s.goal or '-'} | {_verdict(s)} |" for s in sections]
    for section in sections:
        lines += [
            "",
            f"## {section.title}",
            "",
            section.what,
            "",
            f"| Contender | Time | {section.ratio_label} |",
            "|---|---:|---:|",
        ]
        for row in section.rows:
            ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
            lines.append(f"| {row.name} | {row.value:,.2f} {row.unit} | {ratio} |")
        lines += [f"- {note}" for note in section.notes]
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- {reason}" for reason in skipped]
    lines += ["", "![benchmark chart](results.png)", ""]
    return "\n".join(lines)


def chart(sections: list[Section], path: Path) -> None:
    """One panel per comparison that has ratios, eda_kit's bar highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels = [s for s in sections if any(row.ratio is not None for row in s.rows)]
    if not panels:
        return
    figure = Figure(figsize=(6.5, 2.4 * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, section in zip(axes, panels):
        rows = [row for row in section.rows if row.ratio is not None]
        names = [row.name for row in rows]
        ratios = [row.ratio for row in rows]
        colours = ["#2b6cb0" if row.is_ours else "#a0aec0" for row in rows]
        ax.barh(names, ratios, color=colours)
        ax.invert_yaxis()
        title = textwrap.fill(f"{section.title} ({section.ratio_label})", width=70)
        ax.set_title(title, fontsize=9, loc="left")
        for y, ratio in enumerate(ratios):
            ax.text(ratio, y, f" {ratio:.2f}", va="center", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.margins(x=0.15)
    figure.savefig(path, dpi=110)
