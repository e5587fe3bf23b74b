"""Aggregate: an object whose state is the fold of its own events.

An ordinary object changes its fields and forgets how it got there. An *aggregate* never
changes a field directly. A command (``deposit``) checks the rules, then *records* an event
(``Deposited``); recording hands the event to ``apply``, and ``apply`` is the only place where
state changes. The same ``apply`` rebuilds the object later from the stored events, so "what
the object is now" and "what happened to it" can never disagree::

    class BankAccount(Aggregate):
        def __init__(self, id):
            super().__init__(id)
            self.balance = 0

        def deposit(self, amount):                 # a command: check, then record
            if amount <= 0:
                raise ValueError("deposit must be positive")
            self.record("Deposited", amount=amount)

        def apply(self, event):                    # the fold: one event -> new state
            match event.type:
                case "Deposited":
                    self.balance += event.data["amount"]

    account = BankAccount("acc-1")
    account.deposit(500)
    account.balance, account.version, account.pending   # 500, 1, (Event('Deposited', ...),)

Recorded events stay *pending* until a :class:`~eda_kit.sourcing.Repository` saves them.

Snapshots (a saved copy of the state, so loading needn't replay every event) use
:meth:`Aggregate.snapshot_state` and :meth:`Aggregate.restore_state`. By default the state is the
instance's public attributes (every attribute not starting with ``_``, except ``id``), and they
must be JSON values. Override both methods if your state needs converting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import InvalidType, InvalidValue
from ..events import Event
from ..payloads import freeze_json, thaw

__all__ = ["Aggregate"]


class Aggregate:
    """Base class for event-sourced objects. Subclasses write commands and ``apply``.

    - ``id``: which aggregate this is; the repository stores its events in the stream ``id``.
    - ``version``: how many events have been applied, pending ones included.
    - ``pending``: events recorded since the last save (or load), oldest first.
    """

    #: Bump this when the shape of the state, or what ``apply`` does with an event, changes.
    #: Snapshots taken under another number are then ignored (the events are replayed
    #: instead), so a stale snapshot is never misread.
    snapshot_schema: ClassVar[int] = 1

    #: The event schemas of this aggregate, declared once: ``{(event type, old schema):
    #: function(old_data) -> new_data}``. The current schema of a type is one past its newest
    #: upcaster; every repository stamps it on new events of that type and upcasts older
    #: ones on read (see :mod:`eda_kit.sourcing.upcasting`).
    upcasters: ClassVar[Mapping[tuple[str, int], Any]] = {}

    def __init__(self, id: str) -> None:
        if not isinstance(id, str) or not id.strip():
            raise InvalidValue(f"an aggregate id must be a non-empty str, got {id!r}")
        self.id = id
        self._version = 0
        self._pending: list[Event] = []
        # Version of the newest snapshot this object was loaded from or saved with.
        self._snapshot_version = 0

    # ----------------------------------------------------------------------------------
    # What subclasses write

    def apply(self, event: Event) -> None:
        """Change the state for one event. Override it; it must not check rules or fail.

        ``apply`` runs for new events (from :meth:`record`) and for old ones (when loading),
        so it only *folds*: the command already decided the event is allowed.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define apply(self, event) to fold its events into state"
        )

    def record(
        self,
        event_type: str,
        data: dict[str, Any] | None = None,
        /,
        *,
        metadata: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Event:
        """Record that something happened: build the event, ``apply`` it, keep it pending.

        The data is the keyword fields (``record("Deposited", amount=500)``) or one dict
        (``record("Deposited", {"amount": 500})``, for names that are not identifiers or
        that clash with ``metadata``), not both. ``metadata`` is kept apart from the data:
        who did it, and why::

            self.record("Withdrawn", amount=200, metadata={"actor": "teller-7"})

        While a command or an event is being handled, ``correlation_id``, ``causation_id``
        and ``actor`` are filled in from it (see :mod:`eda_kit.causation`); keys you pass
        win. Everything must be JSON (checked here, with an error naming the key). If
        ``apply`` raises, the event is not kept.
        """
        try:
            pending = self._pending
        except AttributeError:
            raise InvalidType(
                f"{type(self).__name__}.__init__ must call super().__init__(id) "
                "before recording events"
            ) from None
        if data is not None:
            if not isinstance(data, dict):
                raise InvalidType(
                    f"record({event_type!r}, data): data must be a dict, not {type(data).__name__}"
                )
            if fields:
                raise InvalidType(
                    f"record({event_type!r}, ...) got both a data dict and keyword fields "
                    f"({', '.join(sorted(fields))}): pass one or the other"
                )
            fields = data
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidType(
                f"record({event_type!r}, metadata=...) must be a dict, not "
                f"{type(metadata).__name__}"
            )
        event = Event(event_type, fields, metadata or {})
        self.apply(event)
        pending.append(event)
        self._version += 1
        return event

    # ----------------------------------------------------------------------------------
    # Read-only views

    @property
    def version(self) -> int:
        """Number of events applied so far, pending ones included (0 for a new object)."""
        return self._version

    @property
    def pending(self) -> tuple[Event, ...]:
        """Events recorded but not saved yet, oldest first."""
        return tuple(self._pending)

    # ----------------------------------------------------------------------------------
    # Snapshots

    def snapshot_state(self) -> dict[str, Any]:
        """The state to store in a snapshot: a JSON object.

        Default: every public attribute except ``id`` (``version`` and ``pending`` are
        bookkeeping, not state). Raises ``TypeError`` naming the attribute when a value is
        not JSON, e.g. ``BankAccount.opened: object of type datetime is not JSON``.
        """
        state = {}
        for name, value in vars(self).items():
            if name.startswith("_") or name == "id":
                continue
            # freeze_json checks (and copies); thaw hands back plain, independent containers.
            state[name] = thaw(freeze_json(value, f"{type(self).__name__}.{name}"))
        return state

    def restore_state(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`snapshot_state` returned (called on a fresh ``cls(id)``)."""
        for name, value in state.items():
            setattr(self, name, thaw(value))

    # ----------------------------------------------------------------------------------
    # Used by the repository

    def _loaded(self, version: int, snapshot_version: int = 0) -> None:
        """Mark this object as matching the stored stream up to ``version``."""
        self._version = version
        self._pending.clear()
        self._snapshot_version = snapshot_version

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={value!r}"
            for name, value in vars(self).items()
            if not name.startswith("_") and name != "id"
        )
        pending = f", pending={len(self._pending)}" if getattr(self, "_pending", None) else ""
        extra = f", {fields}" if fields else ""
        aggregate_id, version = getattr(self, "id", "?"), getattr(self, "_version", 0)
        return f"{type(self).__name__}({aggregate_id!r}, version={version}{pending}{extra})"
