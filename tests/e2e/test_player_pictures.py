"""Every player's picture follows its cursor, in the browser, and says what changed.

For each ReplayPlayer on each notebook page, the cursor visits three positions (the first
event, the middle one, the last one) through the slider's keys, as a learner's keyboard would:

- the picture is there, loaded, and different at each position (it is redrawn for the cursor,
  not a fixed drawing with a moving highlight only);
- the caption under the picture names the same position as the slider (the picture matches
  where the cursor is, not where it was a moment ago);
- the "what changed" panel shows the change the event at the cursor made;
- squeezed into a narrow column, the event, change and state views break lines only between
  words (a narrow column used to show ``statu`` / ``s``).

Each visited position is also photographed: ``tests/e2e/artifacts/players/`` always, and the
folder named by ``EDA_PLAYER_SCREENSHOTS`` (``docs/img/players`` for the docs) when it is set.
The photograph is taken before the checks, so a run against an older kit still leaves its
pictures (that is how ``docs/img/players/before/`` was made).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notebook_page import ARTIFACTS, NotebookRun, Player, player_count, wait_until


def positions_to_visit(maximum: int) -> list[int]:
    """The first event, the middle one and the last one (fewer when there are fewer events)."""
    return sorted({min(1, maximum), max(maximum // 2, 1), maximum})


def names(caption: str | None, position: int) -> bool:
    """Does the picture's caption name ``position``?"""
    return caption is not None and f"after event {position} of" in caption


def shoot(player: Player, position: int) -> None:
    folders = [ARTIFACTS / "players"]
    if os.environ.get("EDA_PLAYER_SCREENSHOTS"):
        folders.append(Path(os.environ["EDA_PLAYER_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{player.run.stem}-{player.index + 1}-at-{position:03d}.png"
        player.root.screenshot(path=folder / name)


def tall_page(player: Player, height: int = 2400) -> None:
    """A viewport tall enough for a whole player (the notebook panel grows with it)."""
    page = player.run.page
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
    player.root.scroll_into_view_if_needed()


@pytest.mark.replay_player
def test_every_picture_follows_the_cursor(notebook: NotebookRun):
    count = wait_until(lambda: player_count(notebook), bool, 15)
    assert count, f"{notebook.name} builds a ReplayPlayer but no .eda-replay is on the page"
    for index in range(count):
        check_picture(Player(notebook, index), f"{notebook.name}, player {index + 1}")


def check_picture(player: Player, where: str) -> None:
    tall_page(player)
    first = player.wait_for(lambda s: s["position"] is not None and s["maximum"] is not None)
    seen: dict[int, dict] = {}
    for position in positions_to_visit(first["maximum"]):  # photographs first, checks after
        player.move_to(position)
        # the slider moves at once; the kernel's answer (event, state, picture) comes after
        player.wait_for(lambda s, p=position: s["position"] == p and names(s["caption"], p), 30)
        seen[position] = player.settle()
        shoot(player, position)
    for position, here in seen.items():
        assert here["position"] == position, f"{where}: the slider did not reach {position}"
        assert here["hasGraphView"], f"{where}: no picture beside the state"
        assert here["graphLoaded"], f"{where}: the picture at {position} did not load"
        assert names(here["caption"], position), (
            f"{where}: the slider is at {position} but the picture's caption says "
            f"{here['caption']!r}"
        )
        assert here["change"], f"{where}: at {position} the 'what changed' panel is empty"
        assert here["changeMarks"] or "no change" in here["change"], (
            f"{where}: at {position} the change panel marks nothing: {here['change']!r}"
        )
    for width in (160, 260):
        breaks = player.mid_word_breaks(width)
        assert not breaks, f"{where}: at {width}px a line breaks inside a word: {breaks[:3]}"
    pictures = {snapshot["graph"] for snapshot in seen.values()}
    assert len(pictures) == len(seen), (
        f"{where}: the picture is the same at two of the positions {sorted(seen)}"
    )
