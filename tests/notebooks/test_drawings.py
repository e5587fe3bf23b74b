"""Every drawing every notebook makes is readable: no label on a label, a box or a line.

Each notebook runs in a fresh kernel with the Agg backend and a watcher installed first:
after every cell, each open pyplot figure is measured with ``eda_kit.viz.find_overlaps``
(true text extents from the Agg renderer) and closed; every figure saved to PNG (the replay
player's pictures, drawn on private figures) is measured as it is saved. The test fails
naming the notebook, the cell and the overlap. Notebooks are found by glob, so a new one, or
a new picture in a player, is covered the moment it exists. Notebook 08 is skipped, naming
what is missing, when its servers can't be had here (as in test_run_twice).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_run_twice import NOTEBOOKS, errors_of, servers_or_skip

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

#: The drawings of eda_kit.viz, by module: each figure is tagged with those that drew on it.
DRAWINGS = {
    "eda_kit.viz.flow": ["draw_flow"],
    "eda_kit.viz.sequence": ["timeline"],
    "eda_kit.viz.state": ["plot_state"],
    "eda_kit.viz.saga": ["draw_saga", "draw_saga_log"],
    "eda_kit.viz.lanes": ["draw_lanes"],
    "eda_kit.viz.cqrs_picture": ["draw_cqrs"],
}
WATCHER = """
import matplotlib
matplotlib.use("Agg")
from matplotlib.figure import Figure as _EdaFigure
from eda_kit.viz.overlaps import find_overlaps as _eda_find_overlaps

_eda_drawings = []
_eda_cell = [0]

import functools as _eda_functools
import importlib as _eda_importlib

def _eda_tagging(module, name):  # remember which eda_kit drawing made each figure
    module = _eda_importlib.import_module(module)
    original = getattr(module, name)

    @_eda_functools.wraps(original)
    def tagged(*args, **kwargs):
        ax = original(*args, **kwargs)
        figure = getattr(ax, "figure", None) or getattr(kwargs.get("ax"), "figure", None)
        if figure is not None:
            figure._eda_drawn_by = getattr(figure, "_eda_drawn_by", set()) | {name}
        return ax

    setattr(module, name, tagged)
    package = _eda_importlib.import_module("eda_kit.viz")
    setattr(package, name, tagged)  # importing viz.timeline the module shadowed viz.timeline()

for _eda_module, _eda_names in DRAWINGS.items():
    for _eda_name in _eda_names:
        _eda_tagging(_eda_module, _eda_name)

def _eda_drawn_by(figure):
    return sorted(getattr(figure, "_eda_drawn_by", ()))
_eda_savefig = _EdaFigure.savefig

def _eda_checked_savefig(self, *args, **kwargs):
    tight = kwargs.get("bbox_inches") == "tight"
    found = _eda_find_overlaps(self, tight=tight)
    _eda_drawings.append([_eda_cell[0], _eda_drawn_by(self), "saved figure", found])
    return _eda_savefig(self, *args, **kwargs)

_EdaFigure.savefig = _eda_checked_savefig

def _eda_check_open_figures(result=None):
    import matplotlib.pyplot as plt
    for number in plt.get_fignums():
        figure = plt.figure(number)
        # shown inline, cropped to its contents (bbox_inches="tight")
        found = _eda_find_overlaps(figure, tight=True)
        _eda_drawings.append([_eda_cell[0], _eda_drawn_by(figure), "figure", found])
    plt.close("all")
    _eda_cell[0] += 1

get_ipython().events.register("post_run_cell", _eda_check_open_figures)
"""
REPORT = "import json as _eda_json; print(_eda_json.dumps(_eda_drawings))"


@pytest.mark.parametrize(
    "path", [servers_or_skip(p) for p in NOTEBOOKS], ids=lambda p: getattr(p, "stem", str(p))
)
def test_no_drawing_has_overlapping_labels(path: Path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    watcher = nbformat.v4.new_code_cell(f"DRAWINGS = {DRAWINGS!r}\n{WATCHER}")
    report = nbformat.v4.new_code_cell(REPORT)
    with client.setup_kernel():
        client.execute_cell(watcher, 0)
        assert not errors_of(watcher), errors_of(watcher)
        for number, cell in enumerate(code, start=1):
            client.execute_cell(cell, number)
            assert not errors_of(cell), f"{path.name}, code cell {number}: {errors_of(cell)}"
        client.execute_cell(report, len(code) + 1)
    printed = "".join(out.get("text", "") for out in report.outputs if out.output_type == "stream")
    drawings = json.loads(printed)
    problems = []
    for cell, drawn_by, what, found in drawings:
        for problem in found:
            line = f"code cell {cell} ({what}, by {', '.join(drawn_by) or 'the notebook'}): "
            problems.append(line + problem)
    assert not problems, f"{path.name}: {len(problems)} overlaps\n" + "\n".join(problems[:40])
