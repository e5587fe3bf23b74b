"""Exercises for notebook 08, Beyond one machine: PostgreSQL and RabbitMQ.

They need no server: each is the decision at the heart of a production component, checked
against the situations that break it.

- ``safe_read``: the gap problem. Which events may a reader of a PostgreSQL log deliver while
  other transactions still hold positions? (Marten's high-water mark, in one function.)
- ``ack_discipline``: a RabbitMQ consumer's handling of one delivery: when to ack, when to send
  the message to a retry queue, when to dead-letter it, and what a crash must leave behind.
- ``claim_rows``: an outbox relay's claim with ``FOR UPDATE SKIP LOCKED``, without breaking
  the order of a stream while another relay holds some of its rows.
"""

from __future__ import annotations

import random
from typing import Any

from .framework import Exercise, Probe

__all__ = ["safe_read", "ack_discipline", "claim_rows", "Crash", "Delivery"]


# ======================================================================================
# 1. The gap problem: what may a reader deliver now?


def safe_to_read(checkpoint, committed, in_flight):
    first_in_flight = min(in_flight, default=None)
    return [
        position
        for position in committed
        if position > checkpoint and (first_in_flight is None or position < first_in_flight)
    ]


def _everything_committed(checkpoint, committed, in_flight):  # skips what commits late
    return [position for position in committed if position > checkpoint]


def _stops_at_first_hole(checkpoint, committed, in_flight):  # stalls forever on a rollback
    readable, expected = [], checkpoint + 1
    for position in committed:
        if position <= checkpoint:
            continue
        if position != expected:
            break
        readable.append(position)
        expected += 1
    return readable


def _stops_at_last_in_flight(checkpoint, committed, in_flight):  # max instead of min
    last = max(in_flight, default=None)
    return [
        position
        for position in committed
        if position > checkpoint and (last is None or position < last)
    ]


def _from_the_start(checkpoint, committed, in_flight):  # forgets the checkpoint
    first = min(in_flight, default=None)
    return [position for position in committed if first is None or position < first]


# --- right answers in other styles --------------------------------------------------------------


def _with_a_bound(checkpoint, committed, in_flight):
    bound = min(in_flight) if in_flight else float("inf")
    return [position for position in committed if checkpoint < position < bound]


def _with_a_loop(checkpoint, committed, in_flight):
    readable = []
    for position in sorted(committed):
        if in_flight and position > min(in_flight):
            break
        if position > checkpoint:
            readable.append(position)
    return readable


# An input is (checkpoint, committed positions, in-flight positions), as plain data.


def _yields_the_safe_ones(checkpoint, committed, in_flight):  # right: a generator
    oldest_in_flight = min(in_flight) if in_flight else None
    for position in committed:
        if position <= checkpoint:
            continue
        if oldest_in_flight is not None and position > oldest_in_flight:
            return
        yield position


def _increasing(positions, what: str) -> None:
    if any(p < 1 for p in positions) or any(a >= b for a, b in zip(positions, positions[1:])):
        raise ValueError(f"{what} must be positions >= 1, each once, in order: {positions}")


def _valid_gap(case) -> None:
    """Refuses an input that cannot happen (a shrink step may make one): the shrinker then
    discards it, so a verdict only ever shows a log that can exist."""
    checkpoint, committed, in_flight = case
    _increasing(list(committed), "committed")
    _increasing(sorted(in_flight), "in flight")
    if len(set(in_flight)) != len(in_flight) or set(committed) & set(in_flight):
        raise ValueError("a position is either committed or in flight, once")
    # The reader delivered only committed positions, never past one still in flight.
    if checkpoint != 0 and checkpoint not in committed:
        raise ValueError(f"checkpoint {checkpoint} is not a committed position")
    if in_flight and checkpoint > min(in_flight):
        raise ValueError(f"checkpoint {checkpoint} is past an in-flight position")


def _run_safe_read(answer, case):
    _valid_gap(case)
    checkpoint, committed, in_flight = case
    return answer(checkpoint, list(committed), set(in_flight))


def _describe_gap(case) -> str:
    checkpoint, committed, in_flight = case
    return f"checkpoint {checkpoint}, committed {list(committed)}, in flight {list(in_flight)}"


def _generate_gap(rng: random.Random, size: int):
    """A log of up to size + 4 positions: each committed, rolled back (a hole) or in flight."""
    committed, in_flight = [], []
    for position in range(1, rng.randint(1, size + 4) + 1):
        fate = rng.choices(["committed", "rolled back", "in flight"], [6, 1, 2])[0]
        if fate == "committed":
            committed.append(position)
        elif fate == "in flight":
            in_flight.append(position)
    # The reader has only ever passed committed positions below everything still in flight.
    passed = [p for p in committed if not in_flight or p < min(in_flight)]
    checkpoint = rng.choice([0, *passed])
    return checkpoint, committed, in_flight


safe_read = Exercise(
    "Read a PostgreSQL log without skipping an event",
    reference=safe_to_read,
    run=_run_safe_read,
    describe=_describe_gap,
    probes=[
        Probe("nothing in flight", (2, [1, 2, 3, 4], [])),
        Probe("position 3 is still being written", (2, [1, 2, 4, 5], [3])),
        Probe("position 3 was rolled back (a hole nobody fills)", (2, [1, 2, 4, 5], [])),
        Probe("two transactions in flight", (0, [1, 2, 3, 5, 7], [4, 6])),
        Probe("the checkpoint is past everything committed", (5, [1, 2, 3, 4, 5], [])),
        Probe("an empty log", (0, [], [])),
        Probe("the oldest position is in flight", (0, [2, 3], [1])),
    ],
    generate=_generate_gap,
    also_correct=[_with_a_bound, _with_a_loop, _yields_the_safe_ones],
    hints=[
        "A position held by a transaction still in flight may commit any moment. Any "
        "committed event after it can wait; delivering it would move the checkpoint past "
        "the one still coming.",
        "So nothing at or beyond the *smallest* in-flight position may be delivered yet. A "
        "hole that no transaction holds is a rollback: it will never fill, so step over it.",
        "first = min(in_flight, default=None); keep committed positions p with "
        "checkpoint < p and (first is None or p < first)",
    ],
    common_mistakes=[
        _everything_committed,
        _stops_at_first_hole,
        _stops_at_last_in_flight,
        _from_the_start,
    ],
    explanation=(
        "This is a high-water mark, the idea behind Marten's async daemon: a reader may go up "
        "to just below the oldest position still in flight, and no further. Delivering "
        "everything committed skips events that commit late; stopping at the first hole "
        "stalls forever on a rolled-back transaction. The hard part in real life is knowing "
        "which positions are in flight: PostgresEventStore avoids the question by giving out "
        "positions one transaction at a time (a row lock), so holes never exist."
    ),
)


# ======================================================================================
# 2. A RabbitMQ consumer's ack discipline


class Crash(BaseException):
    """The consumer process dies here (a BaseException, so ``except Exception`` can't stop it)."""


class Delivery:
    """A message as a consumer receives it, recording what the consumer does with it.

    ``event`` is the payload, ``attempt`` how many times it has been tried (1 the first
    time). ``retry()`` republishes a copy to the retry queue (it comes back later with
    ``attempt + 1``); ``dead_letter(error)`` publishes a copy to the dead-letter queue;
    ``ack()`` tells RabbitMQ this delivery is finished, so it deletes it from the queue.
    """

    def __init__(self, event: Any, attempt: int = 1, *, copy_fails: bool = False) -> None:
        self.event = event
        self.attempt = attempt
        #: When true, ``retry()`` and ``dead_letter()`` raise ``ConnectionError``: the broker
        #: did not confirm the copy, so the delivery must not be acked.
        self.copy_fails = copy_fails
        self.actions: list[str] = []

    def ack(self) -> None:
        self.actions.append("ack")

    def retry(self) -> None:
        self.actions.append("retry")
        self._copy_sent("retry")

    def dead_letter(self, error: str) -> None:
        self.actions.append(f"dead_letter({error})")
        self._copy_sent("dead-letter")

    def _copy_sent(self, queue: str) -> None:
        if self.copy_fails:
            raise ConnectionError(f"no confirm for the {queue} copy")

    def __repr__(self) -> str:
        return f"Delivery({self.event!r}, attempt={self.attempt})"


def handle_delivery(delivery, handler, max_attempts):
    try:
        handler(delivery.event)
    except Exception as error:
        if delivery.attempt < max_attempts:
            delivery.retry()
        else:
            delivery.dead_letter(f"{type(error).__name__}: {error}")
    delivery.ack()  # only now: the handler finished, or its copy was sent on


def _acks_first(delivery, handler, max_attempts):  # at most once: a crash loses the message
    delivery.ack()
    try:
        handler(delivery.event)
    except Exception as error:
        if delivery.attempt < max_attempts:
            delivery.retry()
        else:
            delivery.dead_letter(f"{type(error).__name__}: {error}")


def _acks_in_finally(delivery, handler, max_attempts):  # acks even when the process dies
    try:
        handler(delivery.event)
    except Exception as error:
        if delivery.attempt < max_attempts:
            delivery.retry()
        else:
            delivery.dead_letter(f"{type(error).__name__}: {error}")
    finally:
        delivery.ack()


def _retries_forever(delivery, handler, max_attempts):  # never dead-letters
    try:
        handler(delivery.event)
    except Exception:
        delivery.retry()
    delivery.ack()


def _acks_before_the_copy(delivery, handler, max_attempts):  # a crash in between loses it
    try:
        handler(delivery.event)
    except Exception as error:
        delivery.ack()
        if delivery.attempt < max_attempts:
            delivery.retry()
        else:
            delivery.dead_letter(f"{type(error).__name__}: {error}")
        return
    delivery.ack()


def _off_by_one(delivery, handler, max_attempts):  # one attempt too few
    try:
        handler(delivery.event)
    except Exception as error:
        if delivery.attempt + 1 < max_attempts:
            delivery.retry()
        else:
            delivery.dead_letter(f"{type(error).__name__}: {error}")
    delivery.ack()


def _catches_only_the_expected_error(delivery, handler, max_attempts):  # other errors escape
    try:
        handler(delivery.event)
    except KeyError as error:
        if delivery.attempt < max_attempts:
            delivery.retry()
        else:
            delivery.dead_letter(f"{type(error).__name__}: {error}")
    delivery.ack()


def _acks_after_a_failed_copy(delivery, handler, max_attempts):  # the copy lost, acked anyway
    try:
        handler(delivery.event)
    except Exception as error:
        try:
            if delivery.attempt < max_attempts:
                delivery.retry()
            else:
                delivery.dead_letter(f"{type(error).__name__}: {error}")
        except Exception:
            pass
    delivery.ack()


def _with_else(delivery, handler, max_attempts):
    try:
        handler(delivery.event)
    except Exception as error:
        if delivery.attempt >= max_attempts:
            delivery.dead_letter(f"{type(error).__name__}: {error}")
        else:
            delivery.retry()
        delivery.ack()
    else:
        delivery.ack()


def _with_a_flag(delivery, handler, max_attempts):
    failure = None
    try:
        handler(delivery.event)
    except Exception as error:
        failure = f"{type(error).__name__}: {error}"
    if failure is not None and delivery.attempt < max_attempts:
        delivery.retry()
    elif failure is not None:
        delivery.dead_letter(failure)
    delivery.ack()


# An input is (what the handler does, attempt, max_attempts); the observation is what the
# consumer did to the delivery, and whether the process died or carried on.


def _ok(event: Any) -> None:
    return None


def _unknown_item(event: Any) -> None:
    raise KeyError("sku")


def _bad_value(event: Any) -> None:
    raise ValueError("quantity must be positive")


def _warehouse_down(event: Any) -> None:
    raise RuntimeError("warehouse service unavailable")


def _dies(event: Any) -> None:
    raise Crash("kill -9")


_HANDLERS = {
    "succeeds": _ok,
    "raises KeyError": _unknown_item,
    "raises ValueError": _bad_value,
    "raises RuntimeError": _warehouse_down,
    "dies (kill -9)": _dies,
}


def _run_ack(answer, case):
    """Observes what the consumer did to the delivery, whether the process died, raised or
    carried on, and what the handler was given (the event, nothing else)."""
    behaviour, attempt, max_attempts, copy_fails = case
    if not 1 <= attempt <= max_attempts:
        raise ValueError(f"attempt {attempt} of {max_attempts} cannot happen")
    delivery = Delivery("order.created", attempt, copy_fails=copy_fails)
    given: list[Any] = []

    def handler(event: Any) -> None:
        given.append(event if isinstance(event, str) else f"not the event: {event!r}")
        _HANDLERS[behaviour](event)

    try:
        answer(delivery, handler, max_attempts)
    except Crash:
        return delivery.actions, "the process died", given
    except Exception as error:  # it must reach RabbitMQBus (which then closes the channel)
        return delivery.actions, f"raised {type(error).__name__}: {error}", given
    return delivery.actions, "carried on", given


def _describe_ack(case) -> str:
    behaviour, attempt, max_attempts, copy_fails = case
    copy = ", and the broker refuses the copy" if copy_fails else ""
    return f"the handler {behaviour} on attempt {attempt} of {max_attempts}{copy}"


def _generate_ack(rng: random.Random, size: int):
    max_attempts = rng.randint(1, 2 + size)
    behaviour = rng.choice(list(_HANDLERS))
    return behaviour, rng.randint(1, max_attempts), max_attempts, rng.random() < 0.25


ack_discipline = Exercise(
    "Ack a RabbitMQ delivery at the right moment",
    reference=handle_delivery,
    run=_run_ack,
    describe=_describe_ack,
    probes=[
        Probe("a handler that succeeds", ("succeeds", 1, 3, False)),
        Probe("a failure with attempts left", ("raises KeyError", 1, 3, False)),
        Probe("a failure on the second of three attempts", ("raises KeyError", 2, 3, False)),
        Probe("a failure on the last attempt", ("raises KeyError", 3, 3, False)),
        Probe("a failure with no retries at all", ("raises KeyError", 1, 1, False)),
        Probe("a ValueError, not a KeyError", ("raises ValueError", 1, 3, False)),
        Probe("a RuntimeError on the last attempt", ("raises RuntimeError", 2, 2, False)),
        Probe("the process dies inside the handler", ("dies (kill -9)", 1, 3, False)),
        Probe("the process dies on the last attempt", ("dies (kill -9)", 3, 3, False)),
        Probe(
            "the broker refuses the retry copy (no ack: the error must propagate)",
            ("raises KeyError", 1, 3, True),
        ),
        Probe(
            "the broker refuses the dead-letter copy (no ack: the error must propagate)",
            ("raises ValueError", 3, 3, True),
        ),
    ],
    generate=_generate_ack,
    also_correct=[_with_else, _with_a_flag],
    hints=[
        "An ack tells RabbitMQ to forget the message. Ask yourself after every line: if the "
        "process died right here, would the message be lost?",
        "Call the handler first. If it raised any Exception (not only the one you expect), "
        "send the copy on (retry() while attempts remain, else dead_letter(text)) and only "
        "then ack(). If sending the copy raises, let that error out with no ack: the message "
        "stays in the queue. A BaseException (the process dying) must pass through without "
        "any ack.",
        "try: handler(delivery.event) / except Exception as error: retry() if delivery.attempt "
        "< max_attempts else dead_letter(f'{type(error).__name__}: {error}') / then ack()",
    ],
    common_mistakes=[
        _acks_first,
        _acks_in_finally,
        _retries_forever,
        _acks_before_the_copy,
        _off_by_one,
        _catches_only_the_expected_error,
        _acks_after_a_failed_copy,
    ],
    explanation=(
        "Ack last, and only for a delivery you have finished with: handled, or handed on to "
        "the retry or dead-letter queue with a confirmed publish. Every crash before the ack "
        "means RabbitMQ delivers the message again (at least once, so handlers must be "
        "idempotent); every crash after it means the work is done or safely elsewhere. An ack "
        "in `finally` also runs while the process is dying, which loses the message; and an "
        "ack after a copy the broker did not confirm loses it too, so that error must go up "
        "with no ack. This is what RabbitMQBus does for each message."
    ),
)


# ======================================================================================
# 3. An outbox relay's claim: SKIP LOCKED without breaking a stream's order


def claim(pending, locked, limit):
    taken, blocked = [], set()
    for position, stream in pending:
        if len(taken) == limit:
            break
        if position in locked or stream in blocked:
            blocked.add(stream)  # everything after a locked row of this stream must wait
            continue
        taken.append((position, stream))
    return taken


def _plain_skip_locked(pending, locked, limit):  # row by row: a stream's order breaks
    return [row for row in pending if row[0] not in locked][:limit]


def _limit_then_skip(pending, locked, limit):  # takes fewer rows than it could
    return [row for row in pending[:limit] if row[0] not in locked]


def _stops_at_first_lock(pending, locked, limit):  # safe but blocks every stream
    taken = []
    for position, stream in pending:
        if position in locked or len(taken) == limit:
            break
        taken.append((position, stream))
    return taken


def _ignores_the_limit(pending, locked, limit):  # claims more than it was asked for
    taken, blocked = [], set()
    for position, stream in pending:
        if position in locked or stream in blocked:
            blocked.add(stream)
            continue
        taken.append((position, stream))
    return taken


def _with_first_locked(pending, locked, limit):
    first_locked = {}
    for position, stream in pending:
        if position in locked:
            first_locked.setdefault(stream, position)
    free = [(p, s) for p, s in pending if s not in first_locked or p < first_locked[s]]
    return free[:limit]


def _with_a_generator(pending, locked, limit):
    def free_rows():
        waiting = set()
        for position, stream in pending:
            if position in locked:
                waiting.add(stream)
            elif stream not in waiting:
                yield position, stream

    return list(free_rows())[:limit]


# An input is (pending rows as (position, stream), positions locked elsewhere, limit).


def _valid_claim(case) -> None:
    """Refuses an input that cannot happen (a shrink step may make one), so the shrinker
    discards it: positions unique and increasing, ``locked`` among the pending positions, and
    what another relay holds of a stream is that stream's oldest rows (it keeps order too)."""
    pending, locked, limit = case
    positions = [position for position, _ in pending]
    _increasing(positions, "pending")
    if len(set(locked)) != len(locked) or not set(locked) <= set(positions):
        raise ValueError(f"locked {list(locked)} must be pending positions, each once")
    holding_on = set()  # streams where the other relay's prefix has ended
    for position, stream in pending:
        if position not in locked:
            holding_on.add(stream)
        elif stream in holding_on:
            raise ValueError(f"another relay holds {position}{stream} but not an earlier row")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, not {limit}")


def _run_claim(answer, case):
    _valid_claim(case)
    pending, locked, limit = case
    return answer([tuple(row) for row in pending], set(locked), limit)


def _describe_claim(case) -> str:
    pending, locked, limit = case
    rows = ", ".join(f"{position}{stream}" for position, stream in pending)
    return f"pending [{rows}], locked {list(locked)}, limit {limit}"


def _generate_claim(rng: random.Random, size: int):
    streams = ["A", "B", "C", "D"][: rng.randint(1, 4)]
    pending = [(p, rng.choice(streams)) for p in range(1, rng.randint(1, size + 4) + 1)]
    locked: list[int] = []  # another relay holds the first rows of some streams
    for stream in streams:
        rows = [position for position, s in pending if s == stream]
        if rows and rng.random() < 0.5:
            locked.extend(rows[: rng.randint(1, len(rows))])
    return pending, sorted(locked), rng.randint(1, size + 2)


claim_rows = Exercise(
    "Claim outbox rows with SKIP LOCKED, keeping each stream in order",
    reference=claim,
    run=_run_claim,
    describe=_describe_claim,
    probes=[
        Probe("nobody else holds anything", ([(1, "A"), (2, "B"), (3, "A")], [], 10)),
        Probe("the limit cuts the batch", ([(1, "A"), (2, "B"), (3, "A")], [], 2)),
        Probe("another relay holds A's first row", ([(1, "A"), (2, "B"), (3, "A")], [1], 10)),
        Probe(
            "another relay holds B's rows; the limit is 2",
            ([(1, "B"), (2, "B"), (3, "A"), (4, "C"), (5, "A")], [1, 2], 2),
        ),
        Probe("everything is held", ([(1, "A"), (2, "B")], [1, 2], 5)),
    ],
    generate=_generate_claim,
    also_correct=[_with_first_locked, _with_a_generator],
    hints=[
        "SKIP LOCKED passes over rows another relay holds. If it holds order-A's first row "
        "and you publish order-A's second, order-A's events reach the broker out of order.",
        "Walk the rows in position order. Once a stream has a locked row, every later row of "
        "that stream must wait too; other streams carry on. Stop when you have `limit` rows.",
        "blocked = set(); for position, stream in pending: stop at the limit; if position in "
        "locked or stream in blocked: blocked.add(stream) and skip; else take the row",
    ],
    common_mistakes=[
        _plain_skip_locked,
        _limit_then_skip,
        _stops_at_first_lock,
        _ignores_the_limit,
    ],
    explanation=(
        "FOR UPDATE SKIP LOCKED lets two relays share one outbox table without waiting for "
        "each other and without both publishing one row at the same time (after a crash a "
        "row may still go out again: at least once), but on its own it is row by row. "
        "Per-stream order needs one more rule: a stream belongs to whoever holds its oldest "
        "pending row. eda_kit's PostgresRelay does exactly this: it claims rows with SKIP LOCKED "
        "in position order, holds back (without counting them) the rows of a stream another "
        "relay holds an earlier row of, and claims further rows until its batch is full of "
        "rows it may publish. Kafka gets per-key order another way: each partition belongs "
        "to one consumer of a group."
    ),
)
