"""What the browser tests do to a notebook page, and what they read back from it.

The tests talk to JupyterLab the way a learner's clicks do: through its own commands
(``window.jupyterapp``, exposed by ``--LabApp.expose_app_in_browser``) and the rendered page.
What a cell produced is read from the notebook model (``context.model.toJSON()``, the same JSON a
saved ``.ipynb`` holds), so an error is an output with ``output_type == "error"``, not a guess from
CSS classes; what the learner sees is read from the DOM (images loaded, widget text).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # gitignored
NOTEBOOK_DIR = Path(os.environ.get("EDA_E2E_NOTEBOOKS", ROOT / "notebooks")).resolve()
BUILDS_PLAYER = re.compile(r"\bReplayPlayer(\.\w+)?\(")


def notebooks() -> list[Path]:
    """Every notebook under test, in course order (a new notebook is picked up automatically)."""
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def has_replay_player(path: Path) -> bool:
    """True when a code cell builds a ReplayPlayer: ``ReplayPlayer(...)`` or a classmethod."""
    notebook = nbformat.read(path, as_version=4)
    return any(
        cell.cell_type == "code" and BUILDS_PLAYER.search(cell.source) for cell in notebook.cells
    )


# A JS function that finds the notebook panel showing `path` among the main area's tabs.
_FIND_PANEL = """
function findPanel(path) {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const widget of app.shell.widgets('main')) {
    if (widget.context && widget.context.path === path && widget.content) return widget;
  }
  return null;
}
"""


def with_find_panel(function: str) -> str:
    """A JS function for ``page.evaluate`` that can call ``findPanel(path)``."""
    return f"(arg) => {{ {_FIND_PANEL}\n return ({function.strip()})(arg); }}"


KERNEL_READY = with_find_panel("""
(path) => {
  const panel = findPanel(path);
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return Boolean(panel && panel.context.isReady && kernel && kernel.status === 'idle');
}
""")

KERNEL_NAME = with_find_panel("(path) => findPanel(path).sessionContext.session.kernel.name")

RUN_ALL = with_find_panel("""
(path) => {
  const app = window.jupyterapp;
  app.shell.activateById(findPanel(path).id);
  // Not awaited: the test polls the kernel and the cells, and can report where it got stuck.
  app.commands.execute('notebook:run-all-cells');
}
""")

# Progress of "Run All": kernel status, the toolbar's execution indicator, code cells still
# waiting for an execution count, and unexpected errors (cells tagged raises-exception may fail:
# JupyterLab, like nbval, carries on past them).
RUN_STATUS = with_find_panel("""
(path) => {
  const panel = findPanel(path);
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const indicator = panel.node.querySelector('.jp-Notebook-ExecutionIndicator')
    || document.querySelector('.jp-Notebook-ExecutionIndicator');
  const cells = panel.context.model.toJSON().cells.filter(c => c.cell_type === 'code');
  const source = c => Array.isArray(c.source) ? c.source.join('') : c.source;
  const tags = c => (c.metadata && c.metadata.tags) || [];
  return {
    kernel: kernel ? kernel.status : 'none',
    indicator: indicator ? indicator.getAttribute('data-status') : 'missing',
    pending: cells.filter(c => source(c).trim() && c.execution_count == null).length,
    errors: cells.filter(c => !tags(c).includes('raises-exception')
                              && c.outputs.some(o => o.output_type === 'error')).length,
  };
}
""")

MODEL_JSON = with_find_panel("(path) => findPanel(path).context.model.toJSON()")

# Every <img> in the notebook: where it sits and whether the browser decoded it. Lazy images are
# made eager first, so a picture below the fold is loaded too.
IMAGES = with_find_panel("""
(path) => [...findPanel(path).node.querySelectorAll('img')].map(img => {
  if (img.loading === 'lazy') img.loading = 'eager';
  const output = img.closest('.jp-OutputArea-output');
  const src = img.currentSrc || img.src;
  return {
    mime: output ? output.getAttribute('data-mime-type') : null,
    inWidget: Boolean(img.closest('.jupyter-widgets')),
    // data:, blob: or served by this JupyterLab (not a badge from the internet)
    local: /^(data:|blob:)/.test(src) || src.startsWith(location.origin),
    loaded: img.complete && img.naturalWidth > 0,
    naturalWidth: img.naturalWidth,
    src: src.slice(0, 80),
  };
})
""")

# How widgets rendered: top-level widget views in cell outputs (nested ones don't count), and
# the text ipywidgets shows instead of a view it could not build.
WIDGETS = with_find_panel("""
(path) => {
  const outputs = [...findPanel(path).node.querySelectorAll('.jp-OutputArea-output')];
  const topLevel = outputs.filter(output => !output.parentElement.closest('.jupyter-widgets'));
  return {
    views: topLevel.filter(output => [...output.children].some(
      child => child.classList.contains('jupyter-widgets'))).length,
    errors: outputs.map(output => output.innerText)
      .filter(text => /Error displaying widget|Error rendering|Failed to (load|create)/.test(text)),
  };
}
""")

# One ReplayPlayer's visible state. The graph image is summarised by a hash of its bytes: an
# ipywidgets Image gets a new blob: URL on every update, even when the picture is the same.
PLAYER = with_find_panel("""
async ({path, index}) => {
  const root = findPanel(path).node.querySelectorAll('.eda-replay')[index];
  const text = selector => {
    const element = root.querySelector(selector);
    return element ? element.innerText.trim() : null;
  };
  const handle = root.querySelector('.widget-slider .noUi-handle');
  // The graph view is an ipywidgets Image (the <img> carries the class) or a box around one.
  const graphView = root.querySelector('.eda-replay-graph');
  const img = !graphView ? null
    : graphView.tagName === 'IMG' ? graphView : graphView.querySelector('img');
  let graph = null;
  if (img && img.src) {
    const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    let hash = 2166136261;  // FNV-1a
    for (const byte of bytes) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
    graph = bytes.length + ':' + hash.toString(16);
  }
  const change = root.querySelector('.eda-replay-change');
  return {
    event: text('.eda-replay-event'),
    state: text('.eda-replay-state'),
    change: text('.eda-replay-change'),
    changeMarks: change ? change.querySelectorAll('.eda-added, .eda-changed, .eda-removed').length
      : 0,
    caption: text('.eda-replay-caption'),
    position: handle ? Number(handle.getAttribute('aria-valuenow')) : null,
    maximum: handle ? Number(handle.getAttribute('aria-valuemax')) : null,
    hasGraphView: Boolean(graphView),
    graph: graph,
    graphLoaded: img ? img.complete && img.naturalWidth > 0 : null,
  };
}
""")

# Squeeze a player's text views to ``width`` pixels and list every place where the browser
# broke a line inside a word: two characters, neither a space (nor a hyphen before the break),
# on different lines. The views get their width back afterwards.
MID_WORD_BREAKS = with_find_panel("""
({path, index, width}) => {
  const root = findPanel(path).node.querySelectorAll('.eda-replay')[index];
  const bad = [];
  const views = '.eda-replay-event, .eda-replay-state, .eda-replay-change';
  for (const view of root.querySelectorAll(views)) {
    const old = view.style.width;
    view.style.width = width + 'px';
    const walker = document.createTreeWalker(view, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;  // rows are blocks of their own: compare within one
      let prevTop = null, prevChar = ' ';
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rects = range.getClientRects();
        if (!rects.length) continue;
        const top = rects[0].top, ch = node.data[i];
        if (prevTop !== null && Math.abs(top - prevTop) > 2
            && !/[\\s-]/.test(prevChar) && !/\\s/.test(ch)) {
          bad.push(node.data.slice(Math.max(0, i - 12), i) + ' / ' + node.data.slice(i, i + 12));
        }
        prevTop = top;
        prevChar = ch;
      }
    }
    view.style.width = old;
  }
  return bad;
}
""")

PLAYER_COUNT = with_find_panel(
    "(path) => findPanel(path).node.querySelectorAll('.eda-replay').length"
)


@dataclass
class NotebookRun:
    """A notebook open in JupyterLab after "Run All": its page, console log and model JSON."""

    name: str
    page: Page = field(repr=False)
    console: list[str] = field(repr=False)
    model: dict = field(default_factory=dict, repr=False)

    @property
    def file(self) -> str:
        return Path(self.name).name

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def code_cells(self) -> list[dict]:
        return [cell for cell in self.model["cells"] if cell["cell_type"] == "code"]

    def outputs(self) -> list[tuple[int, dict]]:
        """(code cell number from 1, output) for every output of every code cell."""
        return [
            (number, output)
            for number, cell in enumerate(self.code_cells(), start=1)
            for output in cell.get("outputs", [])
        ]


def wait_until(
    probe: Callable[[], Any], done: Callable[[Any], bool], timeout: float, interval: float = 0.2
) -> Any:
    """Call ``probe`` until ``done(value)`` or ``timeout`` seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(interval)
        value = probe()
    return value


def open_and_run(lab: Any, run: NotebookRun, timeout: float) -> None:
    """Open ``run.name`` in a fresh workspace, Run All, and wait until the kernel is idle.

    Raises AssertionError when the kernel is not the environment's ``python3`` or the run does
    not finish within ``timeout`` seconds (naming the stuck state).
    """
    page = run.page
    page.goto(lab.notebook_url(run.name))
    page.wait_for_function(KERNEL_READY, arg=run.name, timeout=90_000)
    kernel = page.evaluate(KERNEL_NAME, run.name)
    assert kernel == "python3", f"kernel is {kernel!r}, expected the environment's python3"
    page.evaluate(RUN_ALL, run.name)

    def finished(status: dict) -> bool:
        idle = status["kernel"] == "idle" and status["indicator"] == "idle"
        return idle and (status["pending"] == 0 or status["errors"] > 0)

    def probe() -> dict:
        return page.evaluate(RUN_STATUS, run.name)

    # Idle twice in a row, so a gap between two cells does not count as the end.
    status = wait_until(probe, lambda s: finished(s) and finished(probe()), timeout, interval=0.5)
    assert finished(status), f"Run All did not finish in {timeout:.0f} s: {status}"
    run.model = page.evaluate(MODEL_JSON, run.name)


def images(run: NotebookRun) -> list[dict]:
    return run.page.evaluate(IMAGES, run.name)


def widgets(run: NotebookRun) -> dict:
    return run.page.evaluate(WIDGETS, run.name)


# --- a ReplayPlayer -----------------------------------------------------------------------


@dataclass
class Player:
    """The index-th ``.eda-replay`` player on a notebook page, driven through its controls."""

    run: NotebookRun
    index: int

    @property
    def root(self) -> Locator:
        return self.run.page.locator(".eda-replay").nth(self.index)

    def snapshot(self) -> dict:
        return self.run.page.evaluate(PLAYER, {"path": self.run.name, "index": self.index})

    def button(self, css_class: str) -> Locator:
        return self.root.locator(f"button.{css_class}, .{css_class} button").first

    def step(self) -> None:
        self.button("eda-replay-step").click()

    def back(self) -> None:
        self.button("eda-replay-back").click()

    def play(self) -> None:
        self.root.locator(".widget-play button").first.click()  # play/pause, stop, repeat

    def pause(self) -> None:
        """Pause if playing (the play button shows a pause icon then) and wait until it stopped.

        Not the stop button: that would rewind. A play that reached the end stops by itself.
        """
        playing = self.root.locator(".widget-play button:has(.fa-pause)")
        for _ in range(5):
            if not playing.count():
                return
            playing.first.click()
            time.sleep(0.2)

    def slider_key(self, key: str) -> None:
        handle = self.root.locator(".widget-slider .noUi-handle").first
        handle.focus()
        handle.press(key)

    def mid_word_breaks(self, width: int) -> list[str]:
        """Where the text views, squeezed to ``width`` pixels, break a line inside a word."""
        return self.run.page.evaluate(
            MID_WORD_BREAKS, {"path": self.run.name, "index": self.index, "width": width}
        )

    def move_to(self, position: int) -> None:
        """Move the cursor to ``position`` with the slider's keys (Home, then right arrows)."""
        handle = self.root.locator(".widget-slider .noUi-handle").first
        handle.focus()
        here = self.snapshot()["position"]
        if position < here - position:  # nearer the start than the cursor: from the start
            handle.press("Home")
            self.wait_for(lambda s: s["position"] == 0)
            here = 0
        key = "ArrowRight" if position > here else "ArrowLeft"
        for _ in range(abs(position - here)):
            handle.press(key)

    def settle(self, timeout: float = 30) -> dict:
        """The player's snapshot once two readings in a row agree (all updates arrived).

        The slider moves at once; the kernel's answer comes later (slowly, on a busy machine).
        A picture's caption names the position it was drawn for, so while it names another
        one the answer is still on its way.
        """
        deadline = time.monotonic() + timeout
        previous = self.snapshot()
        while True:
            time.sleep(0.3)
            current = self.snapshot()
            done = current == previous and caption_matches(current)
            if done or time.monotonic() > deadline:
                return current
            previous = current

    def wait_for(self, done: Callable[[dict], bool], timeout: float = 10) -> dict:
        """The player's snapshot once ``done(snapshot)``, or the last one after ``timeout``."""
        return wait_until(self.snapshot, done, timeout)


def caption_matches(snapshot: dict) -> bool:
    """Is the picture's caption (if the player has one) about the slider's position?"""
    caption, position = snapshot.get("caption"), snapshot.get("position")
    if caption is None or position is None:
        return True
    if position == 0:
        return "before any event" in caption
    return f"after event {position} of" in caption


def player_count(run: NotebookRun) -> int:
    return run.page.evaluate(PLAYER_COUNT, run.name)
