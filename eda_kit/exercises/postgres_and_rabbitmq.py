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

from .framework import Checker, Exercise

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


def _gap_case(rng: random.Random) -> tuple[int, list[int], set[int]]:
    """A log of up to 12 positions: each committed, rolled back (a hole) or still in flight."""
    size = rng.randint(1, 12)
    committed, in_flight = [], set()
    for position in range(1, size + 1):
        fate = rng.choices(["committed", "rolled back", "in flight"], [6, 1, 2])[0]
        if fate == "committed":
            committed.append(position)
        elif fate == "in flight":
            in_flight.add(position)
    checkpoint = rng.choice([0, *[p for p in committed if rng.random() < 0.3]]) if committed else 0
    # The reader has never passed a position that is still in flight.
    while in_flight and checkpoint >= min(in_flight):
        checkpoint = rng.choice([0, *[p for p in committed if p < min(in_flight)]])
    return checkpoint, committed, in_flight


def _test_safe_read(answer, check: Checker) -> None:
    named = [
        ("nothing in flight: every committed event after the checkpoint", 2, [1, 2, 3, 4], set()),
        ("position 3 is still being written while 4 and 5 are committed", 2, [1, 2, 4, 5], {3}),
        ("position 3 was rolled back (a hole nobody will fill)", 2, [1, 2, 4, 5], set()),
        ("two transactions in flight, at 4 and 6", 0, [1, 2, 3, 5, 7], {4, 6}),
        ("the checkpoint is past everything committed", 5, [1, 2, 3, 4, 5], set()),
        ("an empty log", 0, [], set()),
    ]
    for description, checkpoint, committed, in_flight in named:
        with check.case(
            f"{description}: checkpoint {checkpoint}, committed {committed}, "
            f"in flight {sorted(in_flight)}"
        ):
            got = answer(checkpoint, list(committed), set(in_flight))
            check.expect(
                got, safe_to_read(checkpoint, committed, in_flight), "positions to deliver"
            )
    rng = random.Random(8)
    for _ in range(300):
        checkpoint, committed, in_flight = _gap_case(rng)
        with check.case(
            f"checkpoint {checkpoint}, committed {committed}, in flight {sorted(in_flight)}"
        ):
            got = answer(checkpoint, list(committed), set(in_flight))
            check.expect(
                got, safe_to_read(checkpoint, committed, in_flight), "positions to deliver"
            )


safe_read = Exercise(
    "Read a PostgreSQL log without skipping an event",
    test=_test_safe_read,
    reference=safe_to_read,
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

    def __init__(self, event: Any, attempt: int = 1) -> None:
        self.event = event
        self.attempt = attempt
        self.actions: list[str] = []

    def ack(self) -> None:
        self.actions.append("ack")

    def retry(self) -> None:
        self.actions.append("retry")

    def dead_letter(self, error: str) -> None:
        self.actions.append(f"dead_letter({error})")

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


def _test_ack_discipline(answer, check: Checker) -> None:
    def ok(event: Any) -> None:
        return None

    def broken(event: Any) -> None:
        raise KeyError("sku")

    def dies(event: Any) -> None:
        raise Crash("kill -9")

    for attempt, max_attempts in [(1, 1), (1, 3), (3, 3)]:
        with check.case(f"the handler succeeds (attempt {attempt} of {max_attempts})"):
            delivery = Delivery("order.created", attempt)
            answer(delivery, ok, max_attempts)
            check.expect(delivery.actions, ["ack"], "what the consumer did")
    for attempt, max_attempts in [(1, 3), (2, 3), (1, 2)]:
        with check.case(f"the handler raises KeyError on attempt {attempt} of {max_attempts}"):
            delivery = Delivery("order.created", attempt)
            answer(delivery, broken, max_attempts)
            check.expect(
                delivery.actions,
                ["retry", "ack"],
                "what the consumer did (the copy first, then the ack)",
            )
    for attempt, max_attempts in [(3, 3), (1, 1), (5, 5)]:
        with check.case(
            f"the handler raises KeyError on the last attempt ({attempt} of {max_attempts})"
        ):
            delivery = Delivery("order.created", attempt)
            answer(delivery, broken, max_attempts)
            check.expect(
                delivery.actions, ["dead_letter(KeyError: 'sku')", "ack"], "what the consumer did"
            )
    with check.case("the process dies inside the handler"):
        delivery = Delivery("order.created", 1)
        try:
            answer(delivery, dies, 3)
        except Crash:
            pass
        else:
            check.fail("the crash did not reach the process: a dying process can't carry on")
        check.require(
            delivery.actions == [],
            f"the consumer did {delivery.actions} before dying: with no ack, "
            "RabbitMQ delivers the message again; with one, it is gone",
        )


ack_discipline = Exercise(
    "Ack a RabbitMQ delivery at the right moment",
    test=_test_ack_discipline,
    reference=handle_delivery,
    hints=[
        "An ack tells RabbitMQ to forget the message. Ask yourself after every line: if the "
        "process died right here, would the message be lost?",
        "Call the handler first. If it raised an Exception, send the copy on (retry() while "
        "attempts remain, else dead_letter(text)) and only then ack(). A BaseException (the "
        "process dying) must pass through without any ack.",
        "try: handler(delivery.event) / except Exception as error: retry() if delivery.attempt "
        "< max_attempts else dead_letter(f'{type(error).__name__}: {error}') / then ack()",
    ],
    common_mistakes=[
        _acks_first,
        _acks_in_finally,
        _retries_forever,
        _acks_before_the_copy,
        _off_by_one,
    ],
    explanation=(
        "Ack last, and only for a delivery you have finished with: handled, or handed on to "
        "the retry or dead-letter queue with a confirmed publish. Every crash before the ack "
        "means RabbitMQ delivers the message again (at least once, so handlers must be "
        "idempotent); every crash after it means the work is done or safely elsewhere. An ack "
        "in `finally` also runs while the process is dying, which loses the message. This "
        "is what RabbitMQBus does for each message."
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


def _claim_case(rng: random.Random) -> tuple[list[tuple[int, str]], set[int], int]:
    streams = ["order-A", "order-B", "order-C", "order-D"][: rng.randint(1, 4)]
    pending = [(position, rng.choice(streams)) for position in range(1, rng.randint(1, 12) + 1)]
    # The other relay holds a prefix of some streams' rows (it claims in order, too).
    locked: set[int] = set()
    for stream in streams:
        rows = [position for position, s in pending if s == stream]
        if rows and rng.random() < 0.5:
            locked.update(rows[: rng.randint(1, len(rows))])
    return pending, locked, rng.randint(1, 8)


def _test_claim_rows(answer, check: Checker) -> None:
    named = [
        ("nobody else holds anything", [(1, "A"), (2, "B"), (3, "A")], set(), 10),
        ("the limit cuts the batch", [(1, "A"), (2, "B"), (3, "A")], set(), 2),
        ("another relay holds A's first row", [(1, "A"), (2, "B"), (3, "A"), (4, "B")], {1}, 10),
        (
            "another relay holds B's rows; the limit is 2",
            [(1, "B"), (2, "B"), (3, "A"), (4, "C"), (5, "A")],
            {1, 2},
            2,
        ),
        ("everything is held", [(1, "A"), (2, "B")], {1, 2}, 5),
    ]
    for description, pending, locked, limit in named:
        with check.case(
            f"{description}: pending {pending}, locked {sorted(locked)}, limit {limit}"
        ):
            check.expect(
                answer(list(pending), set(locked), limit),
                claim(pending, locked, limit),
                "rows claimed",
            )
    rng = random.Random(15)
    for _ in range(300):
        pending, locked, limit = _claim_case(rng)
        with check.case(f"pending {pending}, locked {sorted(locked)}, limit {limit}"):
            check.expect(
                answer(list(pending), set(locked), limit),
                claim(pending, locked, limit),
                "rows claimed",
            )


claim_rows = Exercise(
    "Claim outbox rows with SKIP LOCKED, keeping each stream in order",
    test=_test_claim_rows,
    reference=claim,
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
        "each other and without publishing a row twice, but on its own it is row by row. "
        "Per-stream order needs one more rule: a stream belongs to whoever holds its oldest "
        "pending row. PostgreSQL's relay in eda_kit gets the same effect by locking whole "
        "streams; Kafka gets it by giving each partition to one consumer of a group."
    ),
)
