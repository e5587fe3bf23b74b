"""The course itself: import cost, each notebook's run time, and the whole nbval run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .harness import Row, Section, Skip

ROOT = Path(__file__).resolve().parent.parent


def import_section(runs: int) -> Section:
    """``import eda_kit`` over a bare interpreter, median of ``runs`` fresh processes."""

    def median_start(code: str) -> float:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    # Interleave the two measurements so both see the same machine.
    bare, loaded = [], []
    for _ in range(3):
        bare.append(median_start("pass"))
        loaded.append(median_start("import eda_kit"))
    cost = min(loaded) - min(bare)
    return Section(
        "Import cost",
        f"`python -c 'import eda_kit'` vs `python -c pass`, median of {runs} "
        "fresh processes, best of 3",
        [
            Row("bare interpreter", min(bare) * 1e3, "ms"),
            Row("import eda_kit", min(loaded) * 1e3, "ms"),
            Row("added by eda_kit", cost * 1e3, "ms"),
        ],
        goal="at most ~60 ms added",
        met=cost <= 0.060,
    )


#: The options `make nbval` passes (see the Makefile): nbval is off unless asked for.
NBVAL = (
    "-p",
    "tests.notebooks.nbval_history",
    "--nbval",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "tests/notebooks/nbval_sanitize.cfg",
)


def notebooks_section(include_nbval: bool) -> Section:
    """Each notebook executed top to bottom in a fresh kernel; then the nbval run."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise Skip("no notebooks yet")
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:
        raise Skip(f"nbclient is missing ({error}): the course extra has it") from None

    os.environ.setdefault("PYTHONHASHSEED", "0")
    rows = []
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        rows.append(Row(path.stem, time.perf_counter() - started, "s"))
    if include_nbval:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NBVAL, "notebooks"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        label = "whole nbval run" + ("" if result.returncode == 0 else " (FAILED)")
        rows.append(Row(label, time.perf_counter() - started, "s"))
    slowest = max(row.value for row in rows if not row.name.startswith("whole"))
    return Section(
        "Course: notebook run times",
        "each notebook executed top to bottom in a fresh kernel (includes kernel start-up)",
        rows,
        goal="each notebook in seconds (under 30 s)",
        met=slowest < 30,
    )
