"""Idempotency keys and the store that remembers them: making "do it again" safe.

A saga that dies in the middle of ``charge_payment`` cannot know whether the charge went
through: the process died between calling the payment provider and writing ``StepDone``. On
resume it charges again. A bus that retries a handler, a relay that re-publishes after a
crash, a user who double-clicks "Pay": all of them send the same request twice. The customer
must not pay twice.

The fix is on the receiving side. Every request carries an **idempotency key**, a name for
*this piece of work* that stays the same however often it is retried::

    idempotency_key("order-A1", "charge_payment")   # 'order-A1/charge_payment'

and the receiver keeps an :class:`IdempotencyStore`: a durable table of the keys it has seen
and the outcome of each. The rules, the same as Stripe's ``Idempotency-Key`` header:

1. **Claim before the work.** ``run(key, fn, ...)`` first records "key *k*: running" (a
   committed row), *then* calls ``fn``. A store that writes the key only after the work
   leaves a window: a crash between the effect and the record repeats the effect, and two
   concurrent calls both see "no key yet" and both run.
2. **One runner.** A second call while the first runs is refused with
   :class:`~eda_kit.errors.IdempotencyKeyInUse` (naming the key, who holds it and since
   when), or, with ``wait=seconds``, waits for the first outcome. It never runs ``fn``.
3. **The first outcome is final.** The result, *or the error*, is recorded and replayed to
   every later call with the key (Stripe replays even its 500s). A replayed error is raised
   as :class:`~eda_kit.errors.ReplayedFailure`. To really try again, use a new key. (Errors
   that prove nothing happened, such as a validation error raised before any effect, can be
   listed in ``release_on=``: the claim is then dropped instead, as Stripe does when a
   request fails validation.)
4. **Same key, same request.** The request (by default the call's arguments) is
   fingerprinted with the key; a reuse with different arguments is refused with
   :class:`~eda_kit.errors.IdempotencyKeyMismatch` instead of replaying an answer to a
   question that was not asked.
5. **Keys expire.** ``ttl`` after the claim (default 24 hours, Stripe's minimum) the key is
   forgotten and a call with it is new work.

**A worker that dies mid-work.** Its claim says "running" and nobody knows whether the work
happened. So the claim **stays**: later calls are refused as in use until the key expires, or
until someone who checked the outside world calls :meth:`IdempotencyStore.release`.
:meth:`IdempotencyStore.in_doubt` lists such claims for that someone. The store never hands
a live claim to a second worker on a timer (a lease), because a slow worker is
indistinguishable from a dead one: a lease would let a late result land as a second effect.

**The transactional form.** When the work is a *local* effect (a row in the same database),
do better: claim the key, make the change and record the outcome in **one transaction**
(``SQLiteIdempotencyStore.run_in_transaction``). Then a crash rolls back claim and effect
together, and there is never anything in doubt.

**A call to somebody else's service** (a payment provider) cannot share your transaction.
The right pattern is to pass the key *to the provider* and let it apply these rules on its
side: see :mod:`eda_kit.messaging.provider`.

Two backends share these rules (the logic lives once, in :class:`IdempotencyStore`):
:class:`InMemoryIdempotencyStore` (one process; lost with it) and
:class:`~eda_kit.messaging.idempotency_sqlite.SQLiteIdempotencyStore` (a file, shared by
processes, survives ``kill -9``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from ..clock import now as clock_now
from ..errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyMismatch,
    InvalidType,
    InvalidValue,
    NotJSON,
    ReplayedFailure,
)
from ..payloads import check_storable_text, freeze_json, thaw

__all__ = [
    "idempotency_key",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "Deduplicator",
    "Claim",
    "DEFAULT_TTL",
    "MAX_KEY_LENGTH",
    "check_key",
    "check_seconds",
    "json_text",
    "short_text",
]

#: How long a key is remembered by default: 24 hours, the minimum Stripe keeps one.
DEFAULT_TTL: Final = timedelta(hours=24)
#: Longest key accepted (Stripe's limit too): a key is a name, not a document.
MAX_KEY_LENGTH: Final = 255
#: The longest wait or ttl accepted, in seconds (ten years): beyond that it is a mistake.
MAX_SECONDS: Final = 10 * 365 * 24 * 3600.0

State = Literal["running", "succeeded", "failed"]


def idempotency_key(saga_id: str, step: str) -> str:
    """The key for one step of one saga: the same on every retry and after every resume.

    >>> idempotency_key("order-A1", "charge_payment")
    'order-A1/charge_payment'
    """
    for what, value in (("saga_id", saga_id), ("step", step)):
        if not isinstance(value, str) or not value:
            raise InvalidValue(f"idempotency_key needs a non-empty str {what}, got {value!r}")
    return f"{saga_id}/{step}"


def check_key(key: Any) -> str:
    """A usable idempotency key: a non-empty str of at most 255 characters, no NUL, valid text."""
    if not isinstance(key, str):
        raise InvalidType(f"an idempotency key must be a str, not {type(key).__name__}")
    if not key or key.isspace():
        raise InvalidValue("an idempotency key must be a non-empty name, e.g. 'order-A1/charge'")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidValue(
            f"an idempotency key is at most {MAX_KEY_LENGTH} characters; this one has {len(key)}"
        )
    if "\x00" in key:
        raise InvalidValue("an idempotency key must not contain NUL characters ('\\x00')")
    if not key.isascii():
        check_storable_text(key, "idempotency key")
    return str.__str__(key)


def check_seconds(value: Any, name: str, *, allow_zero: bool = True) -> float:
    """A duration in seconds (int, float or timedelta): finite, not negative, at most 10 years."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if type(value) is bool or not isinstance(value, (int, float)):
        raise InvalidType(f"{name} must be a number of seconds or a timedelta, not {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise InvalidValue(f"{name} must be a finite number of seconds {need}, not {value!r}")
    if seconds > MAX_SECONDS:
        raise InvalidValue(f"{name} of {value!r} s is more than ten years: is the unit right?")
    return seconds


def json_text(value: Any, what: str, *, canonical: bool = True) -> str:
    """JSON text of ``value`` without spaces; ``NotJSON`` naming ``what`` if it is not JSON.

    ``canonical`` sorts the keys, so two equal requests give the same text (a fingerprint);
    results keep their order (``canonical=False``).
    """
    return json.dumps(
        thaw(freeze_json(value, what)),
        sort_keys=canonical,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def short_text(text: str, limit: int = 120) -> str:
    """``text``, cut to ``limit`` characters (with an ellipsis) for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a store knows about one key.

    ``state`` is ``"running"`` (claimed, no outcome yet), ``"succeeded"`` (``result`` holds
    the JSON result) or ``"failed"`` (``error_type`` and ``error_message`` say how).
    ``request`` is the canonical JSON text of the request the key was first used with.
    """

    key: str
    state: State
    request: str
    owner: str
    claimed_at: datetime
    expires_at: datetime
    finished_at: datetime | None = None
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None

    @property
    def finished(self) -> bool:
        """True once an outcome (result or error) is recorded."""
        return self.state != "running"

    def __repr__(self) -> str:
        if self.state == "succeeded":
            outcome = f"result={self.result!r}"
        elif self.state == "failed":
            outcome = f"error={self.error_type}: {self.error_message}"
        else:
            outcome = f"claimed by {self.owner!r} at {self.claimed_at:%H:%M:%S}"
        return f"<IdempotencyRecord {self.key!r}: {self.state}, {outcome}>"


@dataclass(frozen=True, slots=True)
class Claim:
    """Proof that this call holds a key: the backend records an outcome only with its token."""

    key: str
    token: str
    fingerprint: str
    request: str
    owner: str
    claimed_at: datetime
    expires_at: datetime


class IdempotencyStore(ABC):
    """The rules of idempotency keys, once; a backend supplies a few storage steps.

    - ``ttl``: how long a key is remembered after its claim (seconds or a ``timedelta``;
      default 24 hours).
    - ``owner``: who this store object claims keys for (shown in
      :class:`~eda_kit.errors.IdempotencyKeyInUse`); defaults to ``"pid <process id>"``.
    - ``clock``: where the time comes from (default :func:`eda_kit.clock.now`, which is
      fixed in reproducible mode). It is read once when a call starts and once when it ends.

    ``replays`` counts the calls this object answered from the record instead of running.
    """

    def __init__(
        self,
        *,
        ttl: float | timedelta = DEFAULT_TTL,
        owner: str | None = None,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        self.ttl = check_seconds(ttl, "ttl", allow_zero=False)
        if owner is not None and (not isinstance(owner, str) or not owner.strip()):
            raise InvalidValue(f"owner must be a non-empty str, not {owner!r}")
        self.owner = owner or f"pid {os.getpid()}"
        if not callable(clock):
            raise InvalidType(f"clock must be a function returning a datetime, not {clock!r}")
        self.clock = clock
        self.replays = 0

    # --- the rules ----------------------------------------------------------------------------

    def run(
        self,
        key: str,
        fn: Callable[..., Any],
        /,
        *args: Any,
        request: Any = None,
        wait: float = 0,
        release_on: tuple[type[BaseException], ...] = (),
        **kwargs: Any,
    ) -> Any:
        """``fn(*args, **kwargs)`` at most once per ``key``; every call gets the first outcome.

        - ``request``: what makes this request *this* request, as JSON (default: the call's
          arguments, ``{"args": [...], "kwargs": {...}}``, which must then be JSON). A later
          call with the key and another request raises ``IdempotencyKeyMismatch``.
        - ``wait``: seconds to wait for a running first call's outcome; ``0`` (default)
          refuses at once with ``IdempotencyKeyInUse``.
        - ``release_on``: exception types that prove ``fn`` changed nothing (e.g. a
          validation error raised before any effect): the claim is dropped instead of
          recording the error, so a retry with the key runs ``fn``.

        The result must be JSON (it is recorded); every call returns an equal, fresh copy of
        it, the first one included. If ``fn`` raises, the error is recorded and re-raised;
        later calls raise ``ReplayedFailure``. A ``BaseException`` that is not an
        ``Exception`` (``SimulatedCrash``, ``KeyboardInterrupt``) records nothing: like a
        real crash, it leaves the key claimed and its outcome unknown.
        """
        key = check_key(key)
        if not callable(fn):
            raise InvalidType(f"run() needs a function to call, got {fn!r}")
        wait = check_seconds(wait, "wait")
        request_text = self._request_text(request, args, kwargs)
        claim = self._claim_or_replay(key, request_text, wait)
        if not isinstance(claim, Claim):
            return claim.value
        try:
            result = fn(*args, **kwargs)
        except release_on:
            self._release_claim(claim)
            raise
        except Exception as error:
            self._finish(claim, "failed", None, type(error).__name__, str(error))
            raise
        try:
            text = json_text(result, "result", canonical=False)
        except NotJSON as error:
            # The work happened but its answer can't be kept: record that, or a retry would
            # repeat the work.
            self._finish(claim, "failed", None, type(error).__name__, str(error))
            raise
        self._finish(claim, "succeeded", text, None, None)
        return json.loads(text)

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record of ``key`` (running or finished), or ``None`` if unknown or expired."""
        key = check_key(key)
        record = self._load(key)
        if record is None or record.expires_at <= self.clock():
            return None
        return record

    def release(self, key: str) -> bool:
        """Forget ``key`` whatever its state; return whether there was a record.

        For recovery, after checking the outside world: a claim left "running" by a worker
        that died stays in use until it expires, unless someone who knows the work did not
        happen (or will redo it safely) releases it. Releasing a finished key breaks the
        first-outcome rule for it: the next call runs the work again.
        """
        return self._delete(check_key(key))

    def in_doubt(self, older_than: float | timedelta = 0) -> list[IdempotencyRecord]:
        """Claims still running that were made more than ``older_than`` seconds ago.

        A claim that has been running far longer than the work ever takes belongs to a
        worker that probably died: its outcome is unknown until someone checks.
        """
        age = check_seconds(older_than, "older_than")
        moment = self.clock()
        cutoff = moment - timedelta(seconds=age)
        return [
            record
            for record in self._running()
            if record.claimed_at <= cutoff and record.expires_at > moment
        ]

    def purge_expired(self) -> int:
        """Delete the records of expired keys; return how many went. (Optional: an expired
        key already counts as unknown, this only reclaims the space.)"""
        return self._purge(self.clock())

    # --- shared steps -------------------------------------------------------------------------

    def _request_text(self, request: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if request is not None:
            return json_text(request, "request")
        try:
            return json_text({"args": list(args), "kwargs": kwargs}, "arguments")
        except NotJSON as error:
            raise NotJSON(
                f"{error}: the request is fingerprinted with the key, so pass request=... "
                "(JSON naming what makes this call this call, e.g. {'amount': 30})"
            ) from None

    def _new_claim(self, key: str, request_text: str) -> Claim:
        """The claim this call will try to make (the clock is read here, once)."""
        moment = self.clock()
        return Claim(
            key=key,
            token=os.urandom(12).hex(),  # not clock.new_id(): that would shift notebook ids
            fingerprint=hashlib.sha256(request_text.encode()).hexdigest(),
            request=request_text,
            owner=self.owner,
            claimed_at=moment,
            expires_at=moment + timedelta(seconds=self.ttl),
        )

    def _check_found(self, claim: Claim, record: IdempotencyRecord, fingerprint: str) -> bool:
        """A record already holds the key: refuse a mismatch; True if it has an outcome."""
        if fingerprint != claim.fingerprint:
            raise IdempotencyKeyMismatch(
                claim.key, short_text(record.request), short_text(claim.request)
            )
        return record.finished

    def _replay(self, record: IdempotencyRecord) -> Any:
        """A finished record's outcome: a fresh copy of the result, or ``ReplayedFailure``."""
        self.replays += 1
        if record.state == "failed":
            raise ReplayedFailure(
                record.key, record.error_type or "Error", record.error_message or ""
            )
        return thaw(record.result)

    def _claim_or_replay(self, key: str, request_text: str, wait: float) -> Claim | _Replay:
        """Claim ``key``, or return the recorded outcome, or raise (mismatch, in use)."""
        claim = self._new_claim(key, request_text)
        deadline = time.monotonic() + wait
        while True:
            found = self._claim(claim)
            if found is None:
                return claim
            record, fingerprint = found
            if self._check_found(claim, record, fingerprint):
                return _Replay(self._replay(record))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IdempotencyKeyInUse(key, record.owner, record.claimed_at, record.expires_at)
            self._wait_for_outcome(key, min(remaining, 0.05))

    # --- what a backend provides --------------------------------------------------------------

    @abstractmethod
    def _claim(self, claim: Claim) -> tuple[IdempotencyRecord, str] | None:
        """Atomically: if ``claim.key`` has a record that has not expired at
        ``claim.claimed_at``, return it with its fingerprint; otherwise (none, or expired:
        replace it) store ``claim`` as running and return ``None``."""

    @abstractmethod
    def _finish(
        self,
        claim: Claim,
        state: State,
        result: str | None,
        error_type: str | None,
        error_message: str | None,
    ) -> None:
        """Record the outcome, only if the record still carries ``claim.token`` (if the key
        expired and was claimed again, or was released, the newer holder owns it)."""

    @abstractmethod
    def _release_claim(self, claim: Claim) -> None:
        """Delete the record if it still carries ``claim.token``."""

    @abstractmethod
    def _load(self, key: str) -> IdempotencyRecord | None:
        """The stored record of ``key``, expired or not."""

    @abstractmethod
    def _delete(self, key: str) -> bool: ...

    @abstractmethod
    def _running(self) -> list[IdempotencyRecord]:
        """Every record in state running, oldest claim first."""

    @abstractmethod
    def _purge(self, moment: datetime) -> int: ...

    @abstractmethod
    def _wait_for_outcome(self, key: str, timeout: float) -> None:
        """Return when ``key``'s record may have changed, or after ``timeout`` seconds."""

    @abstractmethod
    def __len__(self) -> int:
        """How many keys are recorded (expired ones not yet purged included)."""


@dataclass(frozen=True, slots=True)
class _Replay:
    """A recorded result, on its way back to the caller of ``run``."""

    value: Any


class InMemoryIdempotencyStore(IdempotencyStore):
    """The rules of :class:`IdempotencyStore` in a dict: for tests, notebooks, one process.

    Threads share it safely (one lock; a waiting call sleeps on a condition). Everything is
    lost when the process ends: claims, outcomes and the effects they guarded die together,
    so use :class:`~eda_kit.messaging.idempotency_sqlite.SQLiteIdempotencyStore` for work
    whose effects outlive the process. There is no transactional form here: there is no
    database whose transaction the work could share.
    """

    def __init__(
        self,
        *,
        ttl: float | timedelta = DEFAULT_TTL,
        owner: str | None = None,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        super().__init__(ttl=ttl, owner=owner, clock=clock)
        self._records: dict[str, tuple[IdempotencyRecord, str, str]] = {}  # record, fp, token
        self._changed = threading.Condition(threading.Lock())

    def _claim(self, claim: Claim) -> tuple[IdempotencyRecord, str] | None:
        with self._changed:
            found = self._records.get(claim.key)
            if found is not None and found[0].expires_at > claim.claimed_at:
                return found[0], found[1]
            record = IdempotencyRecord(
                key=claim.key,
                state="running",
                request=claim.request,
                owner=claim.owner,
                claimed_at=claim.claimed_at,
                expires_at=claim.expires_at,
            )
            self._records[claim.key] = (record, claim.fingerprint, claim.token)
            return None

    def _finish(
        self,
        claim: Claim,
        state: State,
        result: str | None,
        error_type: str | None,
        error_message: str | None,
    ) -> None:
        finished_at = self.clock()
        with self._changed:
            found = self._records.get(claim.key)
            if found is None or found[2] != claim.token:
                return
            record = IdempotencyRecord(
                key=claim.key,
                state=state,
                request=claim.request,
                owner=claim.owner,
                claimed_at=claim.claimed_at,
                expires_at=claim.expires_at,
                finished_at=finished_at,
                result=None if result is None else freeze_json(json.loads(result), "result"),
                error_type=error_type,
                error_message=error_message,
            )
            self._records[claim.key] = (record, found[1], found[2])
            self._changed.notify_all()

    def _release_claim(self, claim: Claim) -> None:
        with self._changed:
            found = self._records.get(claim.key)
            if found is not None and found[2] == claim.token:
                del self._records[claim.key]
                self._changed.notify_all()

    def _load(self, key: str) -> IdempotencyRecord | None:
        with self._changed:
            found = self._records.get(key)
        return None if found is None else found[0]

    def _delete(self, key: str) -> bool:
        with self._changed:
            found = self._records.pop(key, None)
            self._changed.notify_all()
        return found is not None

    def _running(self) -> list[IdempotencyRecord]:
        with self._changed:
            running = [r for r, _, _ in self._records.values() if r.state == "running"]
        return sorted(running, key=lambda r: r.claimed_at)

    def _purge(self, moment: datetime) -> int:
        with self._changed:
            expired = [k for k, (r, _, _) in self._records.items() if r.expires_at <= moment]
            for key in expired:
                del self._records[key]
        return len(expired)

    def _wait_for_outcome(self, key: str, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def __len__(self) -> int:
        with self._changed:
            return len(self._records)

    def __repr__(self) -> str:
        return f"<InMemoryIdempotencyStore: {len(self)} keys, {self.replays} replays>"


class Deduplicator(InMemoryIdempotencyStore):
    """The in-memory idempotency store under the name the course used first.

    It used to store a key only after the work succeeded, which fails exactly where keys
    matter (a crash between the effect and the record repeats the effect; two concurrent
    calls both run). It now follows every rule of :class:`IdempotencyStore`; ``run_once`` is
    ``run``. New code: use :class:`InMemoryIdempotencyStore` or ``SQLiteIdempotencyStore``.
    """

    def run_once(self, key: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``run(key, fn, *args, **kwargs)``: the first outcome, recorded and replayed."""
        return self.run(key, fn, *args, **kwargs)

    def seen(self, key: str) -> bool:
        """Whether ``key`` has a record (running or finished) that has not expired."""
        return self.get(key) is not None

    @property
    def duplicates(self) -> int:
        """How many calls were answered from the record (the old name of ``replays``)."""
        return self.replays

    def __repr__(self) -> str:
        return f"<Deduplicator: {len(self)} keys, {self.replays} duplicates absorbed>"
