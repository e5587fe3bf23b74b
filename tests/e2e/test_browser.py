"""Every notebook, run in JupyterLab in headless Chromium, as a learner would see it.

nbval proves what the kernel computes; these tests prove what the browser shows: all cells run
without an unexpected error, every figure is a loaded image, every widget rendered, and every
ReplayPlayer answers its controls (step forward, step back, play, slider) by changing the event,
the state and the flow-graph highlight on screen.

New notebooks in notebooks/ are picked up without editing this file (see conftest.py).
"""

from __future__ import annotations

import pytest
from notebook_page import (
    ARTIFACTS,
    NOTEBOOK_DIR,
    NotebookRun,
    Player,
    has_replay_player,
    images,
    notebooks,
    player_count,
    wait_until,
    widgets,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_there_are_notebooks_to_test():
    assert notebooks(), f"no notebooks found in {NOTEBOOK_DIR}"


def test_no_error_output_and_every_cell_ran(notebook: NotebookRun):
    for number, cell in enumerate(notebook.code_cells(), start=1):
        if "raises-exception" in cell["metadata"].get("tags", []):
            continue  # a cell that shows a failure on purpose (nbval and JupyterLab allow it)
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", (
                f"{notebook.name}, code cell {number} raised "
                f"{output.get('ename')}: {output.get('evalue')}"
            )
    not_run = [
        number
        for number, cell in enumerate(notebook.code_cells(), start=1)
        if "".join(cell["source"]).strip() and cell.get("execution_count") is None
    ]
    assert not not_run, f"{notebook.name}: code cells {not_run} never ran"


def test_every_figure_is_a_loaded_image(notebook: NotebookRun):
    expected = sum(
        any(mime.startswith("image/") for mime in output.get("data", {}))
        for _, output in notebook.outputs()
    )

    # Pictures in cell outputs, not inside widgets (a player's graph is checked by its own test).
    def figures() -> list[dict]:
        return [
            img
            for img in images(notebook)
            if (img["mime"] or "").startswith("image/") and not img["inWidget"]
        ]

    shown = wait_until(
        figures, lambda imgs: len(imgs) == expected and all(i["loaded"] for i in imgs), 15
    )
    assert len(shown) == expected, (
        f"{notebook.name}: {expected} image outputs in the notebook, {len(shown)} on the page"
    )
    broken = [img for img in shown if not img["loaded"]]
    assert not broken, f"{notebook.name}: figures that did not load: {broken}"
    # Every other local picture (in widgets, in markdown cells) must have loaded too.
    unloaded = wait_until(
        lambda: [img for img in images(notebook) if img["local"] and not img["loaded"]],
        lambda bad: not bad,
        15,
    )
    assert not unloaded, f"{notebook.name}: images that did not load: {unloaded}"


def test_every_widget_rendered(notebook: NotebookRun):
    expected = sum(WIDGET_VIEW in output.get("data", {}) for _, output in notebook.outputs())
    state = wait_until(
        lambda: widgets(notebook), lambda w: w["views"] == expected or w["errors"], 15
    )
    assert not state["errors"], f"{notebook.name}: widgets failed to render: {state['errors']}"
    assert state["views"] == expected, (
        f"{notebook.name}: {expected} widget outputs in the notebook, {state['views']} rendered"
    )


def test_no_pop_ups(notebook: NotebookRun):
    """No notification toast (news, updates, errors) and no dialog cover the notebook."""
    assert not notebook.page.locator(".Toastify__toast").count(), (
        f"{notebook.name}: notifications shown: "
        f"{notebook.page.locator('.Toastify__toast').all_inner_texts()}"
    )
    assert not notebook.page.locator(".jp-Dialog").count(), (
        f"{notebook.name}: a dialog is open: "
        f"{notebook.page.locator('.jp-Dialog').all_inner_texts()}"
    )


def test_every_player_shown_gets_the_player_test(notebook: NotebookRun):
    """A player built in a way the ReplayPlayer(...) search misses would escape the next test."""
    if player_count(notebook):
        assert has_replay_player(NOTEBOOK_DIR / notebook.file), (
            f"{notebook.name} shows a player but no code cell calls ReplayPlayer(...)"
        )


@pytest.mark.replay_player
def test_replay_player_answers_its_controls(notebook: NotebookRun):
    count = wait_until(lambda: player_count(notebook), bool, 15)
    assert count, f"{notebook.name} builds a ReplayPlayer but no .eda-replay is on the page"
    for index in range(count):
        check_player(Player(notebook, index), f"{notebook.name}, player {index + 1}")


def check_player(player: Player, where: str) -> None:
    player.root.scroll_into_view_if_needed()
    start = player.wait_for(
        lambda s: None not in (s["event"], s["state"], s["position"], s["maximum"])
    )
    for part in ("event", "state", "position"):
        assert start[part] is not None, f"{where}: no {part} shown ({start})"
    maximum = start["maximum"]
    assert maximum > 0, f"{where}: nothing to replay ({start})"
    if start["position"] >= maximum:  # parked at the end: step back to make room
        player.back()
        player.wait_for(lambda s: s["position"] < maximum)
    start = player.settle()
    if start["hasGraphView"]:
        assert start["graph"] is not None, f"{where}: the graph view shows no image"
        assert start["graphLoaded"], f"{where}: the flow graph image did not load"
    graphs = {start["position"]: start["graph"]}  # the picture at each position visited

    # Step forward: the cursor moves one event on; a new event and a new state are shown.
    player.step()
    player.wait_for(
        lambda s: (
            s["position"] == start["position"] + 1
            and s["event"] != start["event"]
            and s["state"] != start["state"]
        )
    )
    after = player.settle()
    assert after["position"] == start["position"] + 1, (
        f"{where}: step forward moved the cursor from {start['position']} to {after['position']}"
    )
    assert after["event"] != start["event"], (
        f"{where}: step forward did not change the event shown: {start['event']!r}"
    )
    assert after["state"] != start["state"], (
        f"{where}: step forward did not change the state shown: {start['state']!r}"
    )
    graphs[after["position"]] = after["graph"]
    save_player_screenshot(player)

    # Step back: event, state and picture return to what they were.
    player.back()
    player.wait_for(lambda s: s["position"] == start["position"] and s["graph"] == start["graph"])
    again = player.settle()
    assert again["position"] == start["position"], f"{where}: step back did not move the cursor"
    assert again["event"] == start["event"], (
        f"{where}: after step back the event is {again['event']!r}, was {start['event']!r}"
    )
    assert again["state"] == start["state"], (
        f"{where}: after step back the state is {again['state']!r}, was {start['state']!r}"
    )
    assert again["graph"] == start["graph"], f"{where}: step back did not restore the graph"

    # Play: the cursor advances on its own.
    player.play()
    player.wait_for(lambda s: s["position"] > start["position"] and s["event"] != start["event"])
    player.pause()
    played = player.settle()
    assert played["position"] > start["position"], f"{where}: play did not advance the cursor"
    assert played["event"] != start["event"], f"{where}: play did not change the event shown"
    graphs[played["position"]] = played["graph"]

    # The slider: its left arrow key moves the cursor back one event.
    player.slider_key("ArrowLeft")
    player.wait_for(lambda s: s["position"] == played["position"] - 1)
    slid = player.settle()
    assert slid["position"] == played["position"] - 1, (
        f"{where}: the slider's left arrow moved the cursor from {played['position']} "
        f"to {slid['position']}"
    )
    assert slid["event"] != played["event"], f"{where}: moving the slider did not change the event"
    graphs[slid["position"]] = slid["graph"]

    # The flow graph's highlight follows the cursor. Neighbouring events may share an edge, so
    # the picture must differ somewhere among the positions visited (a few more if need be).
    if start["hasGraphView"]:
        here = slid
        for _ in range(5):
            if len(set(graphs.values())) > 1 or here["position"] == 0:
                break
            player.slider_key("ArrowLeft")
            player.wait_for(lambda s, before=here["position"]: s["position"] == before - 1)
            here = player.settle()
            graphs[here["position"]] = here["graph"]
        assert len(set(graphs.values())) > 1, (
            f"{where}: the flow graph looked the same at positions {sorted(graphs)}"
        )


def save_player_screenshot(player: Player) -> None:
    """Keep a picture of each player (tests/e2e/artifacts/players/) for the README."""
    folder = ARTIFACTS / "players"
    folder.mkdir(parents=True, exist_ok=True)
    player.root.screenshot(path=folder / f"{player.run.stem}-{player.index + 1}.png")
