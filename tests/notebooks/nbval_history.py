"""A pytest plugin for the nbval run only (`make nbval` loads it with `-p`).

nbval executes notebook cells with ``store_history=False``. IPython decides whether a trailing
``;`` silences a cell's result by reading the *last history entry*, so under nbval
``viz.draw_flow(trace);`` would show ``<Axes: >`` (read from the previous cell) although
JupyterLab, nbconvert and ``make notebooks`` show nothing. Running cells with history, as
Jupyter itself does, makes nbval see exactly what a learner sees.

It lives here, not in a root ``conftest.py``, so that the library tests (``make unit``) run
without nbval or Jupyter installed.
"""

from __future__ import annotations

import nbval.kernel


def _execute_cell_input_with_history(self, cell_input, allow_stdin=None):
    return self.kc.execute(
        cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
    )


nbval.kernel.RunningKernel.execute_cell_input = _execute_cell_input_with_history
