"""Every exercise's own solution, typed into its notebook, is "Correct" there, in notebook order.

The unit tests check each reference against its checker in a clean module. A learner's kernel is
not clean: the cells before an exercise may have changed the classes it builds on (notebook 04's
section 8 declares ``BankAccount.upcasters``, and a ``FeeAccount(BankAccount)`` inherits them).
So this test runs each notebook top to bottom in one kernel and, right before every
``exercises.<name>.check(<answer>)`` call, defines ``<answer>`` from the reference's source,
compiled in the notebook's namespace (the notebook's ``BankAccount``, not the kit's). Every check
must then print "Correct". Notebooks are found by glob; 08 is skipped like in test_run_twice
when its servers can't be had.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_run_twice import errors_of, servers_or_skip  # (tests/notebooks is on the path)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
IMPORT = re.compile(r"from eda_kit\.exercises import (\w+) as exercises")
CHECK = re.compile(r"exercises\.(\w+)\.check\((\w+)\)")

#: Defines the answer from the reference's source, in the notebook's namespace (names the
#: notebook defines win over the exercise module's, as they would for a learner).
TYPE_IN_THE_SOLUTION = """\
import inspect as _inspect, textwrap as _textwrap
from eda_kit.exercises import {module} as _module
_reference = _module.{exercise}.reference
if _inspect.isfunction(_reference) or _inspect.isclass(_reference):
    _scope = {{**vars(_module), **{{k: v for k, v in globals().items() if k[:1] != "_"}}}}
    exec(_textwrap.dedent(_inspect.getsource(_reference)), _scope)
    {answer} = _scope[_reference.__name__]
else:
    {answer} = _reference
"""


def exercise_notebooks() -> list:
    found = []
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        if IMPORT.search(text):
            found.append(servers_or_skip(path))
    return found


def printed(cell) -> str:
    """What the cell printed (the check's verdict is its last line)."""
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.mark.parametrize("path", exercise_notebooks(), ids=lambda p: getattr(p, "stem", str(p)))
def test_every_solution_is_correct_in_its_notebook(path: Path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    module = None
    verdicts = {}
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            module = module or (IMPORT.search(cell.source) and IMPORT.search(cell.source).group(1))
            check = CHECK.search(cell.source)
            if check:  # the solution typed in right before the check (often in the same cell)
                exercise, answer = check.groups()
                solution = TYPE_IN_THE_SOLUTION.format(
                    module=module, exercise=exercise, answer=answer
                )
                source = cell.source[: check.start()] + solution + cell.source[check.start() :]
                cell = nbformat.v4.new_code_cell(source)
            client.execute_cell(cell, index)
            assert not errors_of(cell), f"{path.name}, cell {index}: {errors_of(cell)[0]}"
            if check:
                verdicts[check.group(1)] = (printed(cell).strip().splitlines() or [""])[-1]
    assert verdicts, f"{path.name}: no check cell ran"
    wrong = {name: verdict for name, verdict in verdicts.items() if verdict != "Correct"}
    assert not wrong, f"{path.name}: its own solutions are refused in notebook order: {wrong}"
