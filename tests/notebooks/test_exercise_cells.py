"""The exercise cells of every notebook match their exercises (found by glob, so a new notebook
is covered the moment it exists).

For each ``exercises.<name>.check(<answer>)`` in a notebook: the exercise exists in the module the
notebook imports, the stub the learner fills in defines ``<answer>`` with the reference's name
(so ``solution()`` prints the function the learner was asked for, not another one), and the
notebook has a ``hint()`` and a ``solution()`` cell for that same exercise.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
IMPORT = re.compile(r"from eda_kit\.exercises import (\w+) as exercises")
CALL = re.compile(r"exercises\.(\w+)\.(check|hint|solution)\((\w*)\)")
DEFINES = re.compile(r"^(?:def|class) (\w+)", re.MULTILINE)


def sources(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def exercise_notebooks() -> list[Path]:
    return [path for path in NOTEBOOKS if any(IMPORT.search(s) for s in sources(path))]


@pytest.mark.parametrize("path", exercise_notebooks(), ids=lambda p: p.stem)
def test_each_checked_exercise_has_its_stub_hint_and_solution(path):
    code = sources(path)
    module_name = next(IMPORT.search(s).group(1) for s in code if IMPORT.search(s))
    module = importlib.import_module(f"eda_kit.exercises.{module_name}")
    calls = [(m.group(1), m.group(2), m.group(3)) for s in code for m in CALL.finditer(s)]
    defined = {name for s in code for name in DEFINES.findall(s)}
    checked = {(name, answer) for name, verb, answer in calls if verb == "check"}
    assert checked, f"{path.name}: no exercises.<name>.check(...) cell"
    for name, answer in checked:
        exercise = getattr(module, name, None)
        assert exercise is not None, f"{path.name}: {module_name}.{name} does not exist"
        if callable(exercise.reference):
            assert answer == exercise.reference.__name__, (
                f"{path.name}: {name} checks {answer}() but its solution is "
                f"{exercise.reference.__name__}(): the stub and the solution must match"
            )
            assert answer in defined, f"{path.name}: no stub cell defines {answer}"
        for verb in ("hint", "solution"):
            assert (name, verb, "") in calls, f"{path.name}: no exercises.{name}.{verb}() cell"
