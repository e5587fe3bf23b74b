"""Re-execute notebooks in place, each in a fresh kernel, and save their outputs.

    python scripts/execute_notebooks.py                 # every notebook in notebooks/
    python scripts/execute_notebooks.py notebooks/01_event_emitter.ipynb

Used by ``make notebooks``. Besides running the cells it keeps the files stable, so that
re-running a notebook that did not change gives a byte-identical file:
- the kernelspec is always ``python3`` (the environment's own kernel),
- nbclient's per-cell timing metadata (wall-clock timestamps) is dropped,
- execution counts restart at 1 in every notebook,
- consecutive stdout/stderr chunks are joined (how output is chunked varies between runs),
- widget model ids, which are random and mean nothing once the kernel is gone (widget state
  is not saved), are renumbered ``widget-1``, ``widget-2``... in order of appearance.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def execute(path: Path, timeout: int = 120) -> float:
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["kernelspec"] = KERNELSPEC
    started = time.perf_counter()
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - started
    widget_ids: dict[str, str] = {}
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = join_streams(cell.outputs)
            for output in cell.outputs:
                view = output.get("data", {}).get(WIDGET_VIEW)
                if view and "model_id" in view:
                    view["model_id"] = widget_ids.setdefault(
                        view["model_id"], f"widget-{len(widget_ids) + 1}"
                    )
    notebook.metadata.pop("widgets", None)  # widget state holds per-run model ids
    nbformat.write(notebook, path)
    return elapsed


def join_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of the same name (stdout after stdout...)."""
    joined: list = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def main(argv: list[str]) -> int:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = [Path(p) for p in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        elapsed = execute(path)
        print(f"{path.name}: executed in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
