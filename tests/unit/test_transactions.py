"""cqrs/transactions.py: which keeper each kind of read model gets, and the dict's undo log."""

from __future__ import annotations

import pytest

from eda_kit.cqrs import SQLiteReadModel
from eda_kit.cqrs.read_models import ReadModelCheckpoint
from eda_kit.cqrs.transactions import UndoView, copy_value, keeper_for
from eda_kit.store import TransactionalCheckpoint


def test_each_kind_of_read_model_gets_its_keeper():
    class WithTransaction:
        def __init__(self):
            self.log = []

        def transaction(self):
            from contextlib import contextmanager

            @contextmanager
            def block():
                self.log.append("begin")
                yield
                self.log.append("commit")

            return block()

    db = SQLiteReadModel("CREATE TABLE t (x)")
    assert isinstance(keeper_for(db, "p"), ReadModelCheckpoint)
    for read_model in ({}, [], WithTransaction(), object()):
        keeper = keeper_for(read_model, "p")
        assert isinstance(keeper, TransactionalCheckpoint)
        assert keeper.load() == 0
    custom = WithTransaction()
    keeper = keeper_for(custom, "p")
    with keeper.transaction() as unit:
        assert unit is custom
        keeper.save(unit, 4)
    assert custom.log == ["begin", "commit"] and keeper.load() == 4
    with keeper_for([], "p").transaction() as unit:
        assert unit == []
    with keeper_for({}, "p").transaction() as unit:
        assert isinstance(unit, UndoView)


def test_the_undo_view_reads_and_writes_like_the_dict():
    data = {"A1": {"status": "placed"}, "n": 1}
    view = UndoView(data)
    assert view["A1"] == {"status": "placed"} and view.get("zz", 5) == 5
    assert "n" in view and len(view) == 2 and sorted(view) == ["A1", "n"]
    assert view == data and repr(view) == repr(data)
    view["A1"]["status"] = "paid"
    view.setdefault("B2", {})["status"] = "placed"
    view["n"] += 1
    assert view.pop("n") == 2
    assert data == {"A1": {"status": "paid"}, "B2": {"status": "placed"}}
    view.rollback()
    assert data == {"A1": {"status": "placed"}, "n": 1}


def test_clearing_and_iterating_are_undone_too():
    data = {"a": {"n": 1}, "b": {"n": 2}}
    view = UndoView(data)
    for row in view.values():
        row["n"] *= 10
    view.clear()
    view["c"] = 3
    view.rollback()
    assert data == {"a": {"n": 1}, "b": {"n": 2}}
    with pytest.raises(TypeError):
        hash(view)


def test_copies_are_deep_and_keep_types():
    value = {"a": [1, {"b": (2, 3)}], "s": {1, 2}}
    copied = copy_value(value)
    assert copied == value
    assert copied["a"] is not value["a"] and copied["a"][1] is not value["a"][1]
    assert copied["s"] is not value["s"]
