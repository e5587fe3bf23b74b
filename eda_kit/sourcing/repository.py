"""Event sourcing: store what happened, rebuild what is.

A :class:`Repository` keeps :class:`~eda_kit.sourcing.Aggregate` objects in an event store,
one stream per aggregate (the stream id is the aggregate id)::

    repo = Repository(store, BankAccount, snapshot_every=100)
    account = BankAccount("acc-1")
    account.open("asha"); account.deposit(500); account.deposit(500); account.withdraw(200)
    repo.save(account)                         # appends the 4 pending events
    repo.get("acc-1").balance                  # 800: a fresh object, rebuilt from the events
    repo.get("acc-1", at_version=2).balance    # 500: time travel

**Saving** appends the pending events with ``expected_version`` = the version the object was
loaded at. If someone else saved in between, the store raises ``WrongExpectedVersion`` and
writes nothing: reload, re-run the command, save again.

**Loading** (``get``) creates ``cls(id)`` and hands every stored event to ``apply``, in order.
``at_version=n`` stops after event n: the object as it was back then.

**Snapshots** (``snapshot_every=n``): replaying 20,000 events on every load gets slow, so every
``n`` events ``save`` also stores the object's state (``snapshot_state()``, a JSON object) in
the store's snapshot area, outside the streams, so versions and positions never change.
``get`` then starts from the newest usable snapshot at or before the version asked for and
applies only the later events. A snapshot is a cache: the events stay the truth, a snapshot
can always be thrown away, and one taken by other code (another aggregate class, or another
``snapshot_schema``) is skipped, never misread.

The order of a save, so that nothing is ever half done:

1. if a snapshot is due, take it *first*: state that isn't JSON raises ``TypeError`` (naming
   the attribute) before anything is written, and the object keeps its pending events;
2. append the events, atomically, with the expected version (a conflict writes nothing);
3. mark the object saved, then store the snapshot. A crash between 2 and 3 loses only the
   snapshot, which the next load does without (it replays a few more events).

**Upcasting**: old event shapes are turned into today's shape as they are read, with the
upcasters the aggregate class declares (``BankAccount.upcasters = {("Deposited", 1): fn}``);
see :mod:`eda_kit.sourcing.upcasting`. Stored events are never rewritten. Because the
declaration lives on the class, every repository of that class stamps new events with the
same schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import AggregateNotFound, InvalidType, InvalidValue, StorageError
from ..events import RecordedEvent
from ..payloads import freeze_json, thaw
from .aggregate import Aggregate
from .upcasting import Upcaster, Upcasters

if TYPE_CHECKING:
    from ..store import EventStore, Snapshot

__all__ = ["Repository"]

A = TypeVar("A", bound=Aggregate)


class Repository(Generic[A]):
    """Saves aggregates of class ``cls`` as events in ``store`` and rebuilds them from it.

    - ``snapshot_every``: take a snapshot when a save brings the object ``n`` or more events
      past its last snapshot; ``None`` (the default) means this repository neither takes nor
      reads snapshots: every load is a full replay.

    ``cls`` must be an ``Aggregate`` subclass that can be built as ``cls(id)``; its
    ``upcasters`` class attribute declares the event schemas (``repo.upcasters`` is that
    table, checked). A repository has no upcasters of its own: two repositories with different
    ones would stamp the same event type with different schemas, and one of them would then
    upcast the other's new events a second time.
    """

    def __init__(
        self,
        store: EventStore,
        cls: type[A],
        snapshot_every: int | None = None,
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Aggregate)):
            raise InvalidType(f"Repository needs an Aggregate subclass, got {cls!r}")
        needed = ["append", "read_stream", "stream_version"]
        if snapshot_every is not None:
            needed += ["save_snapshot", "load_snapshot"]
        for method in needed:
            if not callable(getattr(store, method, None)):
                raise InvalidType(f"{store!r} is not an event store (it has no {method}())")
        if snapshot_every is not None and (type(snapshot_every) is not int or snapshot_every < 1):
            raise InvalidValue(
                f"snapshot_every must be a positive int or None, got {snapshot_every!r}"
            )
        if upcasters is not None:
            raise InvalidValue(
                f"upcasters are declared once, on the aggregate class, not per repository: "
                f"{cls.__name__}.upcasters = {{('Deposited', 1): deposited_v1_to_v2, ...}}. "
                "Then every repository stamps new events with the same schema (a repository "
                "with its own upcasters would upcast another repository's new events again)."
            )
        self.store = store
        self.cls = cls
        self.snapshot_every = snapshot_every
        self._declared: Any = None
        self._upcasters = Upcasters()
        self.upcasters  # noqa: B018 - check the class's declaration now, not at the first load

    @property
    def upcasters(self) -> Upcasters:
        """The event schemas ``cls`` declares (``cls.upcasters``), checked; follows changes."""
        declared = getattr(self.cls, "upcasters", None)
        declared = dict(declared) if isinstance(declared, Mapping) else declared
        if declared != self._declared:  # the class's table was replaced or edited
            self._upcasters = Upcasters.of_class(self.cls)
            self._declared = declared
        return self._upcasters

    def __repr__(self) -> str:
        return f"Repository({self.cls.__name__}, snapshot_every={self.snapshot_every})"

    # ----------------------------------------------------------------------------------
    # Writing

    def save(self, aggregate: A) -> int:
        """Append the aggregate's pending events; return the stream's new version.

        Raises ``WrongExpectedVersion`` if the stream moved on since the object was loaded
        (nothing is written; the object keeps its pending events). Saving an object with no
        pending events does nothing.
        """
        if not isinstance(aggregate, self.cls):
            raise InvalidType(
                f"this repository saves {self.cls.__name__} objects, got {aggregate!r}"
            )
        pending = aggregate.pending
        if not pending:
            return aggregate.version
        loaded_at = aggregate.version - len(pending)

        # 1. Snapshot first, so unsnapshottable state fails before anything is written.
        snapshot = None
        if (
            self.snapshot_every is not None
            and aggregate.version - aggregate._snapshot_version >= self.snapshot_every
        ):
            snapshot = self._take_snapshot(aggregate)

        # 2. The append: all or nothing, and only if nobody else wrote in between.
        events = [self.upcasters.stamp(event) for event in pending]
        # (a new object was "loaded" at version 0: expected_version=0 means "no stream yet")
        version = self.store.append(aggregate.id, events, expected_version=loaded_at)

        # 3. The object now matches the stream; then the (optional) snapshot.
        aggregate._loaded(version, version if snapshot is not None else aggregate._snapshot_version)
        if snapshot is not None:
            self.store.save_snapshot(aggregate.id, version, snapshot)
        return version

    def _take_snapshot(self, aggregate: A) -> dict[str, Any]:
        name = type(aggregate).__name__
        try:
            state = aggregate.snapshot_state()
            if not isinstance(state, dict):
                raise InvalidType(
                    f"{name}.snapshot_state() must return a dict, got {type(state).__name__}"
                )
            state = thaw(freeze_json(state, f"{name}.snapshot_state()"))
        except TypeError as error:
            raise InvalidType(
                f"cannot snapshot {name} {aggregate.id!r} at version {aggregate.version}: "
                f"{error}. Nothing was saved. Keep the state JSON (numbers, strings, lists, "
                "dicts), or override snapshot_state() and restore_state()."
            ) from error
        return {"aggregate": name, "schema": self.cls.snapshot_schema, "state": state}

    # ----------------------------------------------------------------------------------
    # Reading

    def get(self, aggregate_id: str, at_version: int | None = None) -> A:
        """Rebuild the aggregate from its events (as of ``at_version``, if given).

        Raises ``AggregateNotFound`` when the stream has no events, and ``ValueError`` when
        ``at_version`` is not between 1 and the stream's version.
        """
        current = self.store.stream_version(aggregate_id)
        if current == 0:
            raise AggregateNotFound(self.cls.__name__, aggregate_id)
        target = (
            current
            if at_version is None
            else self._check_version(aggregate_id, at_version, current)
        )
        aggregate = self._new(aggregate_id)

        start = 0
        snapshot = self._usable_snapshot(aggregate_id, target)
        if snapshot is not None:
            aggregate.restore_state(snapshot.state["state"])
            start = snapshot.version
        aggregate._version = start
        for event in self._read(aggregate_id, start + 1, target):
            aggregate.apply(event)
            aggregate._version = event.version
        if aggregate.version != target:
            raise StorageError(
                f"stream {aggregate_id!r} ended at version {aggregate.version}, "
                f"expected {target}: the store returned a gap"
            )
        aggregate._loaded(target, start)
        return aggregate

    def _new(self, aggregate_id: str) -> A:
        try:
            return self.cls(aggregate_id)
        except TypeError as error:
            error.add_note(
                f"Repository.get builds {self.cls.__name__}(id) before applying the events: "
                "its __init__ must accept the id alone"
            )
            raise

    def history(self, aggregate_id: str, to_version: int | None = None) -> list[RecordedEvent]:
        """The aggregate's events as ``apply`` sees them (upcast), oldest first."""
        current = self.store.stream_version(aggregate_id)
        if current == 0:
            raise AggregateNotFound(self.cls.__name__, aggregate_id)
        target = (
            current
            if to_version is None
            else self._check_version(aggregate_id, to_version, current)
        )
        return list(self._read(aggregate_id, 1, target))

    def _read(self, aggregate_id: str, from_version: int, to_version: int) -> list[RecordedEvent]:
        events = self.store.read_stream(
            aggregate_id, from_version=from_version, to_version=to_version
        )
        if self.upcasters:
            upcast = self.upcasters.upcast
            events = [upcast(event) for event in events]
        return events

    def _check_version(self, aggregate_id: str, version: Any, current: int) -> int:
        if type(version) is not int:
            raise InvalidType(f"at_version must be an int, got {version!r}")
        if not 1 <= version <= current:
            raise InvalidValue(
                f"{self.cls.__name__} {aggregate_id!r} has versions 1 to {current}, "
                f"so at_version={version} does not exist"
            )
        return version

    def _usable_snapshot(self, aggregate_id: str, max_version: int) -> Snapshot | None:
        """The newest snapshot at or before ``max_version`` that this class can restore."""
        if self.snapshot_every is None:
            return None
        snapshot = self.store.load_snapshot(aggregate_id, max_version=max_version)
        while snapshot is not None:
            state = snapshot.state
            if (
                isinstance(state, dict)
                and state.get("aggregate") == self.cls.__name__
                and state.get("schema") == self.cls.snapshot_schema
                and isinstance(state.get("state"), dict)
                and 1 <= snapshot.version <= max_version
            ):
                return snapshot
            if snapshot.version <= 1:
                return None
            snapshot = self.store.load_snapshot(aggregate_id, max_version=snapshot.version - 1)
        return None
