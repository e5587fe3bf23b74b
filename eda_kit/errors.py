"""Everything eda_kit raises on purpose, in one family: catch ``EdaKitError`` to catch them all.

Each error names what went wrong and, where there is one, the usual fix. Where a standard
Python error already means the same thing, it is a second base class, so code that catches
``ValueError``, ``TypeError``, ``LookupError`` or ``TimeoutError`` keeps working::

    EdaKitError
    ├── InvalidValue (ValueError)            an argument the kit refuses: "stream id must be ..."
    │   └── StoreClosed                      the store was closed; open a new one
    ├── InvalidType (TypeError)              an argument of the wrong type
    │   └── NotJSON                          a payload that is not JSON, with its key path
    ├── WrongExpectedVersion                 optimistic concurrency: someone wrote first
    ├── DuplicateEventId                     an event id the stream holds, not as a retry
    ├── CheckpointConflict                   another process moved a subscriber's checkpoint
    ├── StorageError                         the database failed; names the file or stream
    │   ├── StoreLocked (TimeoutError)       another process held the write lock too long
    │   └── DatabaseUnavailable (ConnectionError)  no answer from the database server
    ├── BrokerError                          RabbitMQ failed or refused; names topic or queue
    │   ├── BrokerUnavailable (ConnectionError)    no answer from the broker
    │   ├── Unroutable (LookupError)         no queue is bound for a published topic
    │   ├── PublishRefused                   the broker answered a publish with a nack
    │   └── QueueMismatch (ValueError)       a queue exists with other settings
    ├── ServicesUnavailable (RuntimeError)   no server answers and none can be started here
    ├── AggregateNotFound (LookupError)      no events for that aggregate id
    ├── SagaNotFound (LookupError)           no log for that saga id
    ├── NodeNotFound (KeyError)              a drawing has no node with that label
    ├── UnknownCommand, UnknownQuery (LookupError)
    ├── ProjectionStalled (RuntimeError)     a projection's handler failed; it stopped there
    ├── OutcomeUnknown                       the work may or may not have happened
    │   ├── StepTimeout (TimeoutError)       a saga step ran past its deadline
    │   └── IdempotencyKeyInUse (RuntimeError) a call with a key whose first call has not finished
    ├── SagaBusy (RuntimeError)              another worker holds the saga's lease (owner, expiry)
    │   └── LeaseLost                        this worker's lease was taken over; it stopped
    ├── WaitTimeout (TimeoutError)           waiting for a subscriber ran past its timeout
    ├── AlreadyRunning (RuntimeError)        start() on something already started
    ├── NoEventLoop (RuntimeError)           a coroutine listener with no asyncio loop to run on
    ├── InjectedFault                        a failure injected on purpose (notebooks, tests)
    │   └── ResponseLost (ConnectionError)   a fake service did the work, the answer got lost
    │                                        (also an OutcomeUnknown: it may have happened)
    ├── UnhandledErrorEvent                  emit("error", value) with nobody listening
    ├── IdempotencyKeyMismatch (InvalidValue) a key reused with different arguments
    ├── ReplayedFailure (RuntimeError)       the first call with this key failed: its error, again
    ├── RelayStalled (RuntimeError)          an outbox relay could not publish; it stopped there
    └── PaymentDeclined                      the fake payment provider refused a charge

Two things are deliberately *not* in the family. :class:`SimulatedCrash` stands for the process
dying, so it derives from ``BaseException`` like ``KeyboardInterrupt``: ``except Exception``
must not be able to "survive" it (saga faults and the relay's crash switch raise it).
``MaxListenersExceededWarning`` is a warning, not an error.

Two helpers give every module the same words for the same things: :func:`describe_error` (an
exception as one line of text, for logs, traces and dead letters) and
:func:`eda_kit.trace.handler_name` (how a handler is named).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from .events import RecordedEvent

__all__ = [
    "EdaKitError",
    "InvalidValue",
    "InvalidType",
    "NotJSON",
    "StoreClosed",
    "WrongExpectedVersion",
    "DuplicateEventId",
    "CheckpointConflict",
    "StorageError",
    "StoreLocked",
    "DatabaseUnavailable",
    "BrokerError",
    "BrokerUnavailable",
    "Unroutable",
    "PublishRefused",
    "QueueMismatch",
    "ServicesUnavailable",
    "AggregateNotFound",
    "SagaNotFound",
    "NodeNotFound",
    "UnknownCommand",
    "UnknownQuery",
    "ProjectionStalled",
    "OutcomeUnknown",
    "StepTimeout",
    "SagaBusy",
    "LeaseLost",
    "WaitTimeout",
    "AlreadyRunning",
    "NoEventLoop",
    "InjectedFault",
    "UnhandledErrorEvent",
    "IdempotencyKeyInUse",
    "IdempotencyKeyMismatch",
    "ReplayedFailure",
    "RelayStalled",
    "PaymentDeclined",
    "ResponseLost",
    "SimulatedCrash",
    "describe_error",
]


def describe_error(error: BaseException) -> str:
    """An error as one line: ``"KeyError: 'sku'"``, or just ``"KeyError"`` when it says nothing.

    >>> describe_error(ValueError("insufficient funds"))
    'ValueError: insufficient funds'
    >>> describe_error(ZeroDivisionError())
    'ZeroDivisionError'
    """
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class EdaKitError(Exception):
    """The root of every error eda_kit raises on purpose."""


# --- bad input ---------------------------------------------------------------------------------


class InvalidValue(EdaKitError, ValueError):
    """An argument the kit refuses (an empty name, a negative count, a malformed pattern)."""


class InvalidType(EdaKitError, TypeError):
    """An argument of the wrong type (a dict where an ``Event`` belongs, a str for a number)."""


class NotJSON(InvalidType):
    """A payload that is not JSON. The message names the place: ``data['items'][2]['price']``."""


class StoreClosed(InvalidValue):
    """The store (or subscription) was closed; nothing more can be read or written through it."""


# --- the event store ----------------------------------------------------------------------------


def _describe_expected(expected: Any) -> str:
    name = repr(expected)
    if name == "NO_STREAM":
        return "no stream (NO_STREAM)"
    if name == "STREAM_EXISTS":
        return "an existing stream (STREAM_EXISTS)"
    return f"version {expected}"


class WrongExpectedVersion(EdaKitError):
    """The stream is not at the version the writer expected; nothing was written.

    ``stream_id``, ``expected`` and ``actual`` say exactly what happened::

        WrongExpectedVersion: stream 'order-A1': expected version 1, actual 2

    The usual fix: read the stream again (someone else wrote in between), decide whether
    your change still makes sense, and try again with the new version.
    """

    def __init__(self, stream_id: str, expected: Any, actual: int) -> None:
        super().__init__(stream_id, expected, actual)
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:
        return (
            f"stream {self.stream_id!r}: expected {_describe_expected(self.expected)}, "
            f"actual {self.actual}"
        )


class DuplicateEventId(EdaKitError):
    """An append carries event ids the stream already holds, and it is not a retry of the append
    that stored them; nothing was written.

    An event id names one event. Appending the *same* events again at the same expected version
    (a retry after a lost acknowledgement) is fine: the store sees the ids, writes nothing and
    returns what the first append returned (KurrentDB's idempotence rule). This error is the
    rest: some ids stored and some not, the ids stored at another place in the stream, or an id
    stored with different content. ``stream_id`` names the stream, ``event_ids`` the ids.
    """

    def __init__(self, stream_id: str, event_ids: list[str], problem: str) -> None:
        super().__init__(stream_id, event_ids, problem)
        self.stream_id = stream_id
        self.event_ids = event_ids
        self.problem = problem

    def __str__(self) -> str:
        return (
            f"stream {self.stream_id!r}: {self.problem}. An event id names one event: a retry "
            "repeats the same append (same events, same expected_version); new events need new ids"
        )


class CheckpointConflict(EdaKitError):
    """Two subscribers share one checkpoint: the other moved it while this one was working.

    Raised inside the transaction that would have saved the checkpoint, so that transaction
    (the handler's changes with it) is rolled back: the event was already applied by the other.
    A subscription catches it, reloads the checkpoint and carries on from there.
    """

    def __init__(self, name: str, expected: int, actual: int) -> None:
        super().__init__(name, expected, actual)
        self.name = name
        self.expected = expected
        self.actual = actual

    def __str__(self) -> str:
        return (
            f"checkpoint {self.name!r} is at position {self.actual}, not {self.expected}: "
            "another subscriber with the same checkpoint moved it first"
        )


class StorageError(EdaKitError):
    """The database under a store failed. The message names the file (and stream, if any).

    The driver's own error (``sqlite3.OperationalError``...) is kept as ``__cause__``.
    """


class StoreLocked(StorageError, TimeoutError):
    """Another process held the database's write lock for longer than the store's ``timeout``."""


class DatabaseUnavailable(StorageError, ConnectionError):
    """The database server did not answer, or the connection broke during a call.

    The message names the server (never its password) and what was being done. When an
    *append* lost its connection, its outcome is unknown: it may have committed. Read the
    stream before trying again (or retry with the same event ids and expected version).
    """


# --- the message broker --------------------------------------------------------------------------


class BrokerError(EdaKitError):
    """RabbitMQ failed or refused something. The message names the topic or queue.

    The client's own error (``aio_pika.exceptions...``) is kept as ``__cause__``.
    """


class BrokerUnavailable(BrokerError, ConnectionError):
    """The broker did not answer, or the connection broke during a call.

    When a *publish* lost its connection, its outcome is unknown: publishing again may
    duplicate the message, which consumers must tolerate anyway (at least once).
    """


class Unroutable(BrokerError, LookupError):
    """No queue is bound for this topic: published ``mandatory``, the message came back."""

    def __init__(self, topic: str, exchange: str) -> None:
        super().__init__(
            f"no queue is bound to exchange {exchange!r} for topic {topic!r}: the broker "
            "returned the message (subscribe a consumer first, or publish another topic)"
        )
        self.topic = topic
        self.exchange = exchange


class PublishRefused(BrokerError):
    """The broker answered a publish with a negative confirm (``basic.nack``)."""


class QueueMismatch(BrokerError, ValueError):
    """A subscriber's queues already exist with other settings (another retry backoff)."""


class ServicesUnavailable(EdaKitError, RuntimeError):
    """No PostgreSQL or RabbitMQ answers, and none can be started here (``eda_kit.services``).

    The message says, in one line, what is missing and how to get it; in a notebook it is
    shown as that one line, without a traceback (the traceback would bury it).
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an error is shown
        return [f"{type(self).__name__}: {self}"]


# --- looking things up --------------------------------------------------------------------------


class AggregateNotFound(EdaKitError, LookupError):
    """``Repository.get`` found no events for this id: the aggregate was never saved."""

    def __init__(self, aggregate_type: str, aggregate_id: str) -> None:
        self.aggregate_type = aggregate_type
        self.aggregate_id = aggregate_id
        super().__init__(
            f"no {aggregate_type} with id {aggregate_id!r}: its stream has no events "
            "(was it ever saved?)"
        )


class SagaNotFound(EdaKitError, LookupError):
    """``Saga.resume`` found no log for this saga id."""


class NodeNotFound(EdaKitError, KeyError):
    """``viz.find_node`` found no node with that label (and kind) in the graph."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class UnknownCommand(EdaKitError, LookupError):
    """``dispatch`` was given a command type that no handler is registered for."""


class UnknownQuery(EdaKitError, LookupError):
    """``ask`` was given a query type that no handler is registered for."""


# --- things that stopped -------------------------------------------------------------------------


class ProjectionStalled(EdaKitError, RuntimeError):
    """A projection's handler raised: the projection stopped at ``event``.

    ``projection`` is the projection's name, ``event`` the event it could not apply, ``error``
    the exception its handler raised (also chained as ``__cause__``).
    """

    def __init__(self, projection: str, event: RecordedEvent, error: BaseException) -> None:
        self.projection = projection
        self.event = event
        self.error = error
        super().__init__(
            f"projection {projection!r} stalled at position {event.position} "
            f"({event.type} in stream {event.stream_id!r}): {describe_error(error)}. "
            "Its position did not move: fix the handler or the data, then call catch_up()."
        )


class OutcomeUnknown(EdaKitError):
    """The work may or may not have happened: the call ended without saying.

    A timeout, a dropped connection after the request went out, a crash in the middle of a
    call, a key whose first call is still running: the charge may have gone through or not.
    A saga treats such a step as *maybe done*: it retries it with the same idempotency key, and
    if it gives up it compensates it too. Raise it from a saga action that cannot tell; raise
    any other error only when nothing happened.
    """


class StepTimeout(OutcomeUnknown, TimeoutError):
    """A saga step's attempt ran past its ``timeout``. The action may still be running."""


def _lease_time(moment: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + " UTC"


class SagaBusy(EdaKitError, RuntimeError):
    """Another worker holds this saga's lease: nothing was run, nothing was written.

    ``saga_id``, ``owner`` (who holds the lease) and ``expires_at`` (seconds since the epoch,
    on the saga's clock) say who and until when. Wait (``resume(saga_id, wait=seconds)``), or
    leave it: if the owner died, its lease expires and anyone may take the saga over.
    """

    def __init__(self, saga_id: str, owner: str, expires_at: float, detail: str = "") -> None:
        self.saga_id = saga_id
        self.owner = owner
        self.expires_at = expires_at
        super().__init__(
            detail
            or (
                f"saga {saga_id!r} is being run by {owner!r} (lease until "
                f"{_lease_time(expires_at)}); nothing was run. Wait for it with "
                f"resume({saga_id!r}, wait=seconds), or let the lease expire if {owner!r} died."
            )
        )


class LeaseLost(SagaBusy):
    """This worker's lease on a saga was taken over (it stalled past the expiry); it stopped.

    Nothing more was written by this worker. The new ``owner`` carries on from the log; an
    effect this worker may still have been making is guarded by the step's idempotency key.
    """


class WaitTimeout(EdaKitError, TimeoutError):
    """``wait_until`` (or ``wait_for_subscribers``) ran past its ``timeout``.

    The subscriber is still behind: it may be slow, or waiting for events that only a poll can
    bring (appends by another process).
    """


class AlreadyRunning(EdaKitError, RuntimeError):
    """``start()`` was called on something that is already running (a poller, a relay)."""


class NoEventLoop(EdaKitError, RuntimeError):
    """A listener returned a coroutine, but no asyncio event loop is running to run it on."""


class InjectedFault(EdaKitError):
    """The error an injected failure raises (``eda_kit.saga.faults``)."""


class ResponseLost(InjectedFault, OutcomeUnknown, ConnectionError):
    """A (fake) remote service did the work, then its answer was lost on the way back.

    The caller cannot tell this from "the request never arrived": the outcome is unknown.
    Retrying with the same idempotency key is the safe way to find out.
    """


class UnhandledErrorEvent(EdaKitError):
    """``emit("error", value)`` with no "error" listener, where ``value`` is not an exception.

    The emitted value is kept in ``context`` (Node.js calls this ``ERR_UNHANDLED_ERROR``).
    """

    def __init__(self, context: Any = None) -> None:
        self.context = context
        super().__init__(f"Unhandled error. ({context!r})")


# --- idempotency (eda_kit.messaging.idempotency) -----------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


class IdempotencyKeyInUse(OutcomeUnknown, RuntimeError):
    """A call with an idempotency key whose first call has not finished: nothing was run.

    ``key``, ``owner`` (who claimed it), ``since`` (when) and ``expires_at`` say exactly what
    holds it. The first call is still running, or its worker died mid-work: then nobody can
    know whether the work happened, so the claim holds until the key expires (or until someone
    who checked the outside world calls ``release(key)``). Retry later with the same key, or
    pass ``wait=`` seconds to wait for the first call's outcome.
    """

    def __init__(self, key: str, owner: str, since: datetime, expires_at: datetime) -> None:
        super().__init__(key, owner, since, expires_at)
        self.key = key
        self.owner = owner
        self.since = since
        self.expires_at = expires_at

    def __str__(self) -> str:
        return (
            f"idempotency key {self.key!r} is in use: claimed by {self.owner!r} since "
            f"{_when(self.since)} and not finished (still running, or its worker died; the "
            f"claim holds until the key expires at {_when(self.expires_at)}). Nothing was run."
        )


class IdempotencyKeyMismatch(InvalidValue):
    """An idempotency key reused with a different request: refused, nothing was run.

    A key names *one* piece of work. Sending it again with other arguments is almost always a
    bug (a key derived from the wrong thing, or reused for a new request), so, like Stripe,
    the store refuses instead of replaying an answer to a question that was not asked.
    """

    def __init__(self, key: str, first: str, now: str) -> None:
        super().__init__(key, first, now)
        self.key = key
        self.first = first
        self.now = now

    def __str__(self) -> str:
        return (
            f"idempotency key {self.key!r} was first used with another request: "
            f"first {self.first}, now {self.now}. A key names one piece of work: use a new "
            "key for a new request."
        )


class ReplayedFailure(EdaKitError, RuntimeError):
    """The first call with this idempotency key failed; this is its recorded outcome, again.

    The first outcome is final, error or not (Stripe's rule, 500s included): a retry with the
    same key gets the same answer and runs nothing. ``key``, ``error_type`` and
    ``error_message`` describe the first failure. To really try again, use a new key.
    """

    def __init__(self, key: str, error_type: str, error_message: str) -> None:
        super().__init__(key, error_type, error_message)
        self.key = key
        self.error_type = error_type
        self.error_message = error_message

    def __str__(self) -> str:
        first = (
            f"{self.error_type}: {self.error_message}" if self.error_message else self.error_type
        )
        return (
            f"the first call with idempotency key {self.key!r} failed ({first}); that outcome "
            "is recorded and replayed, nothing was run again. Use a new key to try again."
        )


class RelayStalled(EdaKitError, RuntimeError):
    """An outbox relay's publish failed: the relay stopped at ``event``, position unmoved.

    Nothing is skipped: the next ``run()`` publishes the same event first (per-stream order is
    kept by never publishing past a failure). The target's error is ``__cause__``.
    """

    def __init__(self, relay: str, event: RecordedEvent, error: BaseException) -> None:
        self.relay = relay
        self.event = event
        self.error = error
        super().__init__(
            f"relay {relay!r} could not publish position {event.position} ({event.type} in "
            f"stream {event.stream_id!r}): {describe_error(error)}. Its position did not "
            "move: the next run() publishes this event first."
        )


class PaymentDeclined(EdaKitError):
    """The fake payment provider (``eda_kit.messaging.provider``) declined a charge."""


# --- outside the family on purpose ---------------------------------------------------------------


class SimulatedCrash(BaseException):  # noqa: N818 - a crash, not an error to handle
    """The process "died" here. A ``BaseException``, so ``except Exception`` does not catch it.

    Raised by saga fault injection (``crash_at=``) and by the relay's and inbox's crash
    switches: in a notebook the kernel survives, but the code stops exactly where a dying
    process would. Tests do the real thing (``kill -9`` on a child process).
    """
