"""What one event changed: a diff of two states, and the state printed with the change marked.

A time-travel debugger (Redux DevTools, say) shows three things for the action at the cursor:
the action, the state after it, and *what it changed*. The last is what teaches: "OrderPaid
set orders.A1.status from placed to paid" says more than two big dictionaries side by side.

    diff({"a": 1, "b": [1]}, {"a": 2, "b": [1, 5], "c": 0})
    # [Change('changed', ('a',), 1, 2), Change('added', ('b', 1), None, 5),
    #  Change('added', ('c',), None, 0)]

Both states are plain data (dicts, lists, strings, numbers: what ``widgets._plain`` makes of
any state). Dicts are compared key by key and lists item by item, so a change deep inside is
named by its path (``orders.A1.status``, ``labels[2]``); anything else is compared whole.

:func:`state_lines` prints a state as JSON-like text, one line per item when it is long,
each line tagged with the path of the item it shows, so the player can colour the lines the
change touched. :func:`wrap` breaks long lines at item and word boundaries, never inside a
word (a narrow column used to show ``statu`` / ``s``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "diff", "state_lines", "wrap", "mark_of"]

#: A key or a list index: the steps from the top of the state down to one item.
Path = tuple[Any, ...]
_FLAT = 60  # an item whose JSON fits in this many characters is printed on one line


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is "added", "changed" or "removed"; ``path`` says where."""

    kind: str
    path: Path
    old: Any = None
    new: Any = None

    @property
    def where(self) -> str:
        """The path as a learner reads it: ``orders.A1.status``, ``labels[2]``."""
        if not self.path:
            return "the state"
        text = ""
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
        return text

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.where} = {_short(self.new)}"
        if self.kind == "removed":
            return f"- {self.where} (was {_short(self.old)})"
        return f"~ {self.where}: {_short(self.old)} → {_short(self.new)}"


def _short(value: Any, limit: int = 48) -> str:
    text = _text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diff(before: Any, after: Any, path: Path = ()) -> list[Change]:
    """The changes that turn ``before`` into ``after``, in the order ``after`` shows them."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key, value in after.items():
            if key not in before:
                changes.append(Change("added", (*path, key), new=value))
            else:
                changes.extend(diff(before[key], value, (*path, key)))
        changes.extend(
            Change("removed", (*path, key), old=value)
            for key, value in before.items()
            if key not in after
        )
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index, (old, new) in enumerate(zip(before, after, strict=False)):
            changes.extend(diff(old, new, (*path, index)))
        changes.extend(
            Change("added", (*path, index), new=value)
            for index, value in enumerate(after[len(before) :], start=len(before))
        )
        changes.extend(
            Change("removed", (*path, index), old=value)
            for index, value in enumerate(before[len(after) :], start=len(after))
        )
        return changes
    if type(before) is not type(after) or before != after:
        return [Change("changed", path, old=before, new=after)]
    return []


def mark_of(path: Path, whole: bool, changes: list[Change]) -> str | None:
    """How a printed line showing the item at ``path`` is marked: a change kind, or None.

    A line that shows a whole item is marked when a change is that item, or inside it
    ("changed", unless that one change is the item itself); the opening line of an item
    printed over several lines is not (its own lines inside are marked instead).
    """
    kinds = set()
    for change in changes:
        if change.kind == "removed":
            continue
        if change.path == path:
            kinds.add(change.kind)
        elif whole and change.path[: len(path)] == path:
            kinds.add("changed")
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "changed"


def state_lines(value: Any, path: Path = (), indent: int = 0) -> list[tuple[str, Path, bool]]:
    """``value`` as JSON-like lines: (text, path of the item shown, whether it shows all of it).

    An item fits on one line when its JSON is at most 60 characters; a longer dict or list
    gets one line per member, indented two spaces per level. A dict at the top always gets a
    line per key, so a change shows on its own line.
    """
    return _lines(value, path, indent, "", "")


def _lines(value: Any, path: Path, indent: int, lead: str, tail: str) -> list:
    pad = "  " * indent
    flat = _text(value)
    top_dict = not path and isinstance(value, dict)
    if (len(flat) <= _FLAT and not top_dict) or not isinstance(value, (dict, list)) or not value:
        return [(f"{pad}{lead}{flat}{tail}", path, True)]
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    lines = [(f"{pad}{lead}{opening}", path, False)]
    members = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    for number, (key, member) in enumerate(members, start=1):
        comma = "," if number < len(members) else ""
        label = f"{_text(key)}: " if isinstance(value, dict) else ""
        lines.extend(_lines(member, (*path, key), indent + 1, label, comma))
    lines.append((f"{pad}{closing}{tail}", path, False))
    return lines


_BREAK_AFTER_ITEM = re.compile(r"(?<=, )")
_BREAK_AFTER_SPACE = re.compile(r"(?<= )")


def wrap(line: str, width: int = 72) -> list[str]:
    """``line`` broken into lines of at most ``width`` characters where it can be.

    Breaks come after an item's comma first, then after any space; never inside a word. A
    word longer than ``width`` stays whole on its own line (the view scrolls sideways rather
    than cut it). Continuation lines are indented two spaces past the line's own indent.
    """
    if len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    pieces: list[str] = []
    for item in _BREAK_AFTER_ITEM.split(line):
        if len(item) + len(indent) <= width:
            pieces.append(item)
        else:
            pieces.extend(_BREAK_AFTER_SPACE.split(item))
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current.strip() and len(current) + len(piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = indent + piece
        else:
            current += piece
    if current.strip():
        lines.append(current.rstrip())
    return lines
