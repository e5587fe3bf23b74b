"""Project-wide pytest setup.

nbval executes notebook cells with ``store_history=False``. IPython decides whether a trailing
``;`` silences a cell's result by reading the *last history entry*, so under nbval
``viz.draw_flow(trace);`` would show ``<Axes: >`` (read from the previous cell) although
JupyterLab, nbconvert and ``make notebooks`` show nothing. Running cells with history, as
Jupyter itself does, makes nbval see exactly what a learner sees.
"""

from __future__ import annotations

import nbval.kernel


def _execute_cell_input_with_history(self, cell_input, allow_stdin=None):
    return self.kc.execute(
        cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
    )


nbval.kernel.RunningKernel.execute_cell_input = _execute_cell_input_with_history
