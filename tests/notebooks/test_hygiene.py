"""Notebook hygiene: the committed notebooks are what a clean top-to-bottom run produces.

nbval (run by plain ``pytest``) re-executes each notebook and compares outputs; these checks
catch what nbval can't: cells run out of order, stale outputs on cells that were never run,
committed errors, a wrong kernel, and a notebook that forgot reproducible mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
COURSE = [
    "00_start_here", "01_event_emitter", "02_pub_sub", "03_cqrs", "04_event_sourcing",
    "05_saga", "06_event_store", "07_reliable_messaging", "08_postgres_and_rabbitmq",
    "09_interview",
]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_notebooks_are_the_course_in_order():
    names = [path.stem for path in NOTEBOOKS]
    assert names == [name for name in COURSE if name in names], names
    assert "00_start_here" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_were_executed_once_in_order(path):
    counts = [cell.get("execution_count") for cell in code_cells(load(path))]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; run `make notebooks` to re-execute cleanly"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_committed_errors(path):
    for index, cell in enumerate(code_cells(load(path)), start=1):
        errors = [out for out in cell.get("outputs", []) if out["output_type"] == "error"]
        assert not errors, f"{path.name}, code cell {index}: {errors[0].get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stale_outputs_on_unexecuted_cells(path):
    for index, cell in enumerate(code_cells(load(path)), start=1):
        if cell.get("execution_count") is None:
            assert not cell.get("outputs"), f"{path.name}, code cell {index} has stale output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_kernel_is_python3_and_mode_is_reproducible(path):
    notebook = load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    first_code = "".join(code_cells(notebook)[0]["source"])
    assert "reproducible(" in first_code, f"{path.name}: call eda_kit.reproducible() first"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_machine_specific_text_in_outputs(path):
    text = json.dumps([cell.get("outputs", []) for cell in code_cells(load(path))])
    for marker in ("/root/", "/tmp/", "/work/", "site-packages", "0x7f"):
        assert marker not in text, f"{path.name}: output mentions {marker!r}"
