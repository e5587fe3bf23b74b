"""Exercises for notebook 07, Reliable messaging.

- ``relay_crash``: where may a relay die, and what happens to the event it was carrying?
  (publish, then save the position: at least once; the other way round: at most once)
- ``inbox``: handle each message once, atomically with the change, in a dict-backed inbox.
- ``first_outcome``: an idempotency memory that claims the key before the work, replays the
  first outcome (errors too), and refuses a key reused with other arguments.
- ``follow_up``: the metadata of an event caused by another (correlation, causation, actor).
"""

from __future__ import annotations

import random
from typing import Any

from ..events import Event
from .framework import Exercise, Probe, Raised, Returned, outcome

__all__ = ["relay_crash", "inbox", "first_outcome", "follow_up"]


# ======================================================================================
# 1. The relay dies: lost, once or twice?


def fate_of_the_event(steps, done):
    published = "publish" in steps[:done]
    saved = "save_position" in steps[:done]
    times = published + (0 if saved else 1)  # the restart publishes it again unless saved
    return {0: "lost", 1: "once", 2: "twice"}[times]


def _ignores_the_restart(steps, done):  # forgets that the restart resumes after the position
    return "once" if "publish" in steps[:done] else "lost"


def _saved_means_published(steps, done):  # "the position moved, so it went out"
    if "save_position" in steps[:done]:
        return "once"
    return "twice" if "publish" in steps[:done] else "once"


def _counts_the_crashed_step(steps, done):  # off by one: the step it died in did not finish
    published = "publish" in steps[: done + 1]
    saved = "save_position" in steps[: done + 1]
    return {0: "lost", 1: "once", 2: "twice"}[published + (not saved)]


def _with_indexes(steps, done):
    publish, save = steps.index("publish"), steps.index("save_position")
    published, saved = publish < done, save < done
    if published and not saved:
        return "twice"
    if saved and not published:
        return "lost"
    return "once"


def _with_a_loop(steps, done):
    times = 0
    saved = False
    for step in steps[:done]:
        if step == "publish":
            times += 1
        elif step == "save_position":
            saved = True
    if not saved:
        times += 1  # the restart starts before this event
    return ["lost", "once", "twice"][times]


_OTHER_STEPS = ["read", "log", "ack_the_read", "update_metrics"]


def _describe_fate(case) -> str:
    steps, done = case
    return f"steps {steps}, died after {done} of them"


def _generate_fate(rng: random.Random, size: int):
    steps = ["publish", "save_position"] + rng.sample(_OTHER_STEPS, rng.randint(0, min(size, 4)))
    rng.shuffle(steps)
    return steps, rng.randint(0, len(steps))


def _run_fate(answer, case):
    steps, done = case
    return answer(list(steps), done)


relay_crash = Exercise(
    "What a relay's crash does to the event it was carrying",
    reference=fate_of_the_event,
    run=_run_fate,
    describe=_describe_fate,
    probes=[
        Probe("publish then save, died before anything", (["publish", "save_position"], 0)),
        Probe("publish then save, died between the two", (["publish", "save_position"], 1)),
        Probe("publish then save, died after both", (["publish", "save_position"], 2)),
        Probe("save then publish, died between the two", (["save_position", "publish"], 1)),
        Probe("save then publish, died after both", (["save_position", "publish"], 2)),
        Probe(
            "read, publish, log, save: died after the log",
            (["read", "publish", "log", "save_position"], 3),
        ),
    ],
    generate=_generate_fate,
    also_correct=[_with_indexes, _with_a_loop],
    hints=[
        "Two things decide it: did the publish happen before the crash, and was the position "
        "saved before the crash? steps[:done] are the steps that finished.",
        "On restart the relay publishes every event after the saved position: if this event's "
        "position was not saved, it goes out (again).",
        "times = ('publish' in steps[:done]) + (0 if 'save_position' in steps[:done] else 1); "
        "then 0 is 'lost', 1 is 'once', 2 is 'twice'.",
    ],
    common_mistakes=[_ignores_the_restart, _saved_means_published, _counts_the_crashed_step],
    explanation=(
        "A relay that publishes and then saves its position can only publish twice (a crash "
        "between the two): at-least-once delivery, which consumers absorb with an inbox. One "
        "that saves first can lose the event (a crash between the two): at-most-once, and "
        "nothing downstream can bring it back. That is why eda_kit's Relay saves after the "
        "publish, and why 'exactly once' is made by the consumer, not by the relay."
    ),
)


# ======================================================================================
# 2. An inbox in a dict: each message once, atomically with its change


def handle_once(inbox, event, apply):
    if event.id in inbox["handled"]:
        return False  # a duplicate: already handled
    work = dict(inbox["state"])  # change a copy...
    apply(work, event)  # (if this raises, nothing below runs: nothing is kept)
    inbox["state"] = work  # ...and keep it together with the id
    inbox["handled"].append(event.id)
    return True


def _marks_first(inbox, event, apply):  # a failed message is never tried again: lost
    if event.id in inbox["handled"]:
        return False
    inbox["handled"].append(event.id)
    apply(inbox["state"], event)
    return True


def _changes_the_real_state(inbox, event, apply):  # a failure leaves half a change behind
    if event.id in inbox["handled"]:
        return False
    apply(inbox["state"], event)
    inbox["handled"].append(event.id)
    return True


def _no_memory(inbox, event, apply):  # at-least-once delivery double-counts
    work = dict(inbox["state"])
    apply(work, event)
    inbox["state"] = work
    return True


def _swallows_the_error(inbox, event, apply):  # the caller never hears the message failed
    if event.id in inbox["handled"]:
        return False
    work = dict(inbox["state"])
    try:
        apply(work, event)
    except Exception:
        return False
    inbox["state"] = work
    inbox["handled"].append(event.id)
    return True


def _with_rollback(inbox, event, apply):
    if event.id in inbox["handled"]:
        return False
    before = dict(inbox["state"])
    try:
        apply(inbox["state"], event)
    except Exception:
        inbox["state"] = before  # put everything back
        raise
    inbox["handled"].append(event.id)
    return True


def _with_a_set(inbox, event, apply):
    seen = set(inbox["handled"])
    if event.id in seen:
        return False
    new_state = {key: value for key, value in inbox["state"].items()}
    apply(new_state, event)
    inbox["state"], inbox["handled"] = new_state, [*inbox["handled"], event.id]
    return True


def _with_a_set_of_ids(inbox, event, apply):  # right: the handled ids kept as a set
    if event.id in inbox["handled"]:
        return False
    state = dict(inbox["state"])
    apply(state, event)
    inbox.update(state=state, handled={*inbox["handled"], event.id})
    return True


def _ship(state, event):
    """The consumer's change: count a shipment, then (unless the printer jams) its revenue."""
    state["shipped"] += 1
    if event.data["jams"]:
        raise TimeoutError("label printer jammed")
    state["revenue"] += event.data["amount"]


def _run_inbox(answer, deliveries):
    inbox = {"handled": [], "state": {"shipped": 0, "revenue": 0}}
    results = []
    for message_id, amount, jams in deliveries:
        event = Event("OrderShipped", {"amount": amount, "jams": jams}, id=message_id)
        results.append(outcome(answer, inbox, event, _ship))
    handled = inbox["handled"]
    if isinstance(handled, list | tuple | set | frozenset):  # a set of ids is fine: order is not
        handled = sorted(handled)  # part of the task (a list that repeats an id still shows)
    return {"returned": results, "inbox": {**inbox, "handled": handled}}


def _describe_inbox(deliveries) -> str:
    words = [f"{m}({amount}{', jams' if jams else ''})" for m, amount, jams in deliveries]
    return "deliveries " + ", ".join(words)


def _generate_inbox(rng: random.Random, size: int):
    deliveries: list[tuple[str, int, bool]] = []
    for _ in range(rng.randint(1, size + 2)):
        if deliveries and rng.random() < 0.4:  # a redelivery of an earlier message
            message_id, amount, _jammed = rng.choice(deliveries)
        else:
            message_id, amount = f"m{len(deliveries) + 1}", rng.randint(1, 50)
        deliveries.append((message_id, amount, rng.random() < 0.25))
    return deliveries


inbox = Exercise(
    "An inbox: each message handled once, with its change or not at all",
    reference=handle_once,
    run=_run_inbox,
    describe=_describe_inbox,
    probes=[
        Probe("one message", [("m1", 30, False)]),
        Probe("the same message twice (a redelivery)", [("m1", 30, False), ("m1", 30, False)]),
        Probe("two different messages", [("m1", 30, False), ("m2", 12, False)]),
        Probe(
            "a message whose handler fails, then its redelivery succeeds",
            [("m1", 30, True), ("m1", 30, False)],
        ),
        Probe("a failure between two good messages", [("m1", 5, False), ("m2", 7, True)]),
    ],
    generate=_generate_inbox,
    also_correct=[_with_rollback, _with_a_set, _with_a_set_of_ids],
    hints=[
        "Before anything else: is event.id already in inbox['handled']? Then it is a duplicate: "
        "return False and change nothing.",
        "apply may raise half-way (it counts the shipment, then the printer jams). Let it work "
        "on a copy, dict(inbox['state']), and keep the copy only if apply returned.",
        "After apply returns: inbox['state'] = the copy, inbox['handled'].append(event.id), "
        "return True. If apply raised, let the error out: nothing was kept, so a redelivery "
        "runs it again.",
    ],
    common_mistakes=[_marks_first, _changes_the_real_state, _no_memory, _swallows_the_error],
    explanation=(
        "The id and the change must be kept together, or not at all. Mark the id first and a "
        "failure loses the message; change the real state first and a failure leaves half a "
        "change that the redelivery adds to. In a database both happen in one transaction "
        "(eda_kit's SQLiteInbox: INSERT the id and make the change, then COMMIT); here the "
        "copy plays the transaction. Let errors out: the sender must know to try again."
    ),
)


# ======================================================================================
# 3. An idempotency memory: claim first, replay the first outcome, same key same request


def make_idempotent(fn):
    records = {}  # key -> (args, state, value)

    def once(key, *args):
        if key in records:
            first_args, state, value = records[key]
            if first_args != args:
                raise ValueError(f"key {key!r} was first used with other arguments")
            if state == "running":
                raise RuntimeError(f"key {key!r} is in use: its first call has not finished")
            if state == "raised":
                raise value  # the first outcome was an error: the same error, again
            return value
        records[key] = (args, "running", None)  # claim the key before the work
        try:
            result = fn(*args)
        except Exception as error:
            records[key] = (args, "raised", error)
            raise
        records[key] = (args, "returned", result)
        return result

    return once


def _stores_after_success(fn):  # no claim, no memory of errors: the old Deduplicator
    results = {}

    def once(key, *args):
        if key in results:
            return results[key]
        result = fn(*args)
        results[key] = result
        return result

    return once


def _forgets_errors(fn):  # a declined card is charged again on retry
    records = {}

    def once(key, *args):
        if key in records:
            first_args, state, value = records[key]
            if first_args != args:
                raise ValueError("other arguments")
            if state == "running":
                raise RuntimeError("in use")
            return value
        records[key] = (args, "running", None)
        try:
            result = fn(*args)
        except Exception:
            del records[key]
            raise
        records[key] = (args, "returned", result)
        return result

    return once


def _ignores_the_arguments(fn):  # answers a different question with the first answer
    records = {}

    def once(key, *args):
        if key in records:
            state, value = records[key]
            if state == "running":
                raise RuntimeError("in use")
            if state == "raised":
                raise value
            return value
        records[key] = ("running", None)
        try:
            result = fn(*args)
        except Exception as error:
            records[key] = ("raised", error)
            raise
        records[key] = ("returned", result)
        return result

    return once


def _claims_after_the_work(fn):  # a retry arriving mid-work runs it a second time
    records = {}

    def once(key, *args):
        if key in records:
            first_args, state, value = records[key]
            if first_args != args:
                raise ValueError("other arguments")
            if state == "raised":
                raise value
            return value
        try:
            result = fn(*args)
        except Exception as error:
            records[key] = (args, "raised", error)
            raise
        records[key] = (args, "returned", result)
        return result

    return once


def _none_means_not_done(fn):  # a result of None looks like "no result yet": charged again
    results, errors, requests, running = {}, {}, {}, set()

    def once(key, *args):
        if key in requests and requests[key] != args:
            raise ValueError("other arguments")
        if key in running:
            raise RuntimeError("in use")
        if key in errors:
            raise errors[key]
        if results.get(key) is not None:
            return results[key]
        requests[key] = args
        running.add(key)
        try:
            results[key] = fn(*args)
        except Exception as error:
            errors[key] = error
            raise
        finally:
            running.discard(key)
        return results[key]

    return once


class _Memory:
    """A right answer as a class: one record per key."""

    def __init__(self, fn):
        self.fn = fn
        self.records = {}

    def __call__(self, key, *args):
        record = self.records.get(key)
        if record is not None:
            if record["args"] != args:
                raise ValueError("a key names one request")
            if record["done"] is False:
                raise RuntimeError("still running")
            if "error" in record:
                raise record["error"]
            return record["result"]
        record = self.records[key] = {"args": args, "done": False}
        try:
            record["result"] = self.fn(*args)
        except Exception as error:
            record["error"] = error
            raise
        finally:
            record["done"] = True
        return record["result"]


def _as_a_class(fn):
    return _Memory(fn)


def _with_sentinels(fn):
    running = object()
    outcomes = {}
    requests = {}

    def once(key, *args):
        if key in requests and requests[key] != args:
            raise ValueError("mismatch")
        if key in outcomes:
            kind, value = outcomes[key]
            if value is running:
                raise RuntimeError("in use")
            if kind == "error":
                raise value
            return value
        requests[key] = args
        outcomes[key] = ("result", running)
        try:
            outcomes[key] = ("result", fn(*args))
        except Exception as error:
            outcomes[key] = ("error", error)
            raise
        return outcomes[key][1]

    return once


def _run_first_outcome(answer, calls):
    """Each call: (key, amount, a retry arrives while it runs). Amounts over 50 are declined;
    amounts under 15 go through without a receipt: fn returns None, an outcome like any other
    (an answer that takes None for "not done yet" charges them twice). A replayed error must
    be the very error fn raised (the task: "the same error raised again"), not a new one made
    to look like it."""
    charges = []
    inside = []
    pending_retry = []
    declined = []  # the errors fn raised, in order
    once = answer(lambda amount: _charge(amount, charges, inside, pending_retry, once, declined))
    seen = []
    for key, amount, retry_inside in calls:
        if retry_inside:
            pending_retry.append(key)
        seen.append(_outcome(once, key, amount, declined))
        pending_retry.clear()
    return {"returned": seen, "charges": charges, "retries while running": inside}


def _outcome(once, key, amount, declined):
    """``outcome`` with the exact error type (the task names each), and for an error fn raised,
    which one: the same object, not an equal copy."""
    try:
        return Returned(once(key, amount))
    except Exception as error:
        for number, raised in enumerate(declined, start=1):
            if error is raised:
                return Raised(f"{type(error).__name__} (fn's own error no. {number})", exact=True)
        return Raised(type(error).__name__, str(error), exact=True)


def _charge(amount, charges, inside, pending_retry, once, declined):
    if pending_retry:  # the caller timed out and retried while we are still working
        key = pending_retry.pop()
        inside.append(_outcome(once, key, amount, declined))
    if amount > 50:
        declined.append(LookupError(f"card declined: {amount} is over the limit of 50"))
        raise declined[-1]
    charges.append(amount)
    return f"pay-{len(charges)}" if amount >= 15 else None  # small charges: no receipt


def _describe_calls(calls) -> str:
    words = [f"{k}({a}{', retried mid-call' if r else ''})" for k, a, r in calls]
    return "calls " + ", ".join(words)


def _generate_calls(rng: random.Random, size: int):
    calls: list[tuple[str, int, bool]] = []
    for _ in range(rng.randint(1, size + 2)):
        if calls and rng.random() < 0.5:
            key, amount, _retry = rng.choice(calls)
            if rng.random() < 0.25:
                amount += rng.choice([-1, 1]) * rng.randint(1, 20)  # the key reused
        else:
            key, amount = f"k{len(calls) + 1}", rng.choice([10, 20, 30, 60, 80])
        calls.append((key, amount, rng.random() < 0.2))
    return calls


first_outcome = Exercise(
    "An idempotency memory that keeps the first outcome",
    reference=make_idempotent,
    run=_run_first_outcome,
    describe=_describe_calls,
    probes=[
        Probe("one charge", [("k1", 30, False)]),
        Probe("the same charge retried", [("k1", 30, False), ("k1", 30, False)]),
        Probe("a declined charge retried", [("k1", 60, False), ("k1", 60, False)]),
        Probe(
            "a charge that returns None, retried (None is an outcome too)",
            [("k1", 10, False), ("k1", 10, False)],
        ),
        Probe("the key reused for another amount", [("k1", 30, False), ("k1", 40, False)]),
        Probe("a retry that arrives while the first call runs", [("k1", 30, True)]),
        Probe("two keys", [("k1", 30, False), ("k2", 30, False), ("k1", 30, False)]),
    ],
    generate=_generate_calls,
    also_correct=[_as_a_class, _with_sentinels],
    hints=[
        "Keep one record per key: the arguments it was first used with, and its state: "
        "running, returned (with the result) or raised (with the error).",
        "Write 'running' BEFORE calling fn: a retry that arrives while fn works must find it "
        "and raise, not call fn again. Then record the result, or the error, and pass it on.",
        "A known key: other arguments -> raise ValueError; running -> raise RuntimeError; "
        "raised -> raise the recorded error; returned -> return the recorded result.",
    ],
    common_mistakes=[
        _stores_after_success,
        _forgets_errors,
        _ignores_the_arguments,
        _claims_after_the_work,
        _none_means_not_done,
    ],
    explanation=(
        "These are Stripe's rules, and eda_kit's IdempotencyStore's: the key is claimed before "
        "the work (so a concurrent retry is refused, never run), the first outcome is final "
        "(a declined card stays declined for that key; to try again, use a new key), and a key "
        "names one request (reusing it with another amount is a bug, refused). Recording only "
        "successes, after the work, is the version that charges twice."
    ),
)


# ======================================================================================
# 4. Follow-up metadata: correlation, causation, actor


def follow_up_metadata(cause, actor):
    return {
        "correlation_id": cause.metadata.get("correlation_id", cause.id),
        "causation_id": cause.id,
        "actor": actor,
    }


def _new_conversation(cause, actor):  # every event starts its own conversation
    return {"correlation_id": cause.id, "causation_id": cause.id, "actor": actor}


def _copies_the_causation(cause, actor):  # points at the cause's cause
    return {
        "correlation_id": cause.metadata.get("correlation_id", cause.id),
        "causation_id": cause.metadata.get("causation_id", cause.id),
        "actor": actor,
    }


def _copies_the_actor(cause, actor):  # says the customer reserved the stock
    return {
        "correlation_id": cause.metadata.get("correlation_id", cause.id),
        "causation_id": cause.id,
        "actor": cause.metadata.get("actor", actor),
    }


def _with_or(cause, actor):
    return {
        "correlation_id": cause.metadata.get("correlation_id") or cause.id,
        "causation_id": cause.id,
        "actor": actor,
    }


def _step_by_step(cause, actor):
    metadata = {"causation_id": cause.id, "actor": actor}
    if "correlation_id" in cause.metadata:
        metadata["correlation_id"] = cause.metadata["correlation_id"]
    else:
        metadata["correlation_id"] = cause.id
    return metadata


def _run_follow_up(answer, case):
    event_id, metadata, actor = case
    cause = Event("OrderPlaced", {"order_id": "A1"}, metadata=dict(metadata), id=event_id)
    return answer(cause, actor)


def _describe_follow_up(case) -> str:
    event_id, metadata, actor = case
    return f"a cause {event_id} with metadata {metadata}, handled by {actor}"


def _generate_follow_up(rng: random.Random, size: int) -> Any:
    metadata = {}
    if rng.random() < 0.6:
        metadata["correlation_id"] = f"req-{rng.randint(1, 9)}"
    if rng.random() < 0.5:
        metadata["causation_id"] = f"evt-{rng.randint(1, 9)}"
    if rng.random() < 0.5:
        metadata["actor"] = rng.choice(["asha", "checkout", "OrderService"])
    actor = rng.choice(["InventoryService", "PaymentService", "Shipping"])
    return f"evt-{rng.randint(10, 99)}", metadata, actor


follow_up = Exercise(
    "The metadata of an event caused by another",
    reference=follow_up_metadata,
    run=_run_follow_up,
    describe=_describe_follow_up,
    probes=[
        Probe("a cause that started the conversation", ("evt-1", {}, "InventoryService")),
        Probe(
            "a cause inside a conversation",
            ("evt-2", {"correlation_id": "req-7", "causation_id": "evt-1"}, "PaymentService"),
        ),
        Probe(
            "a cause recorded by a user",
            ("evt-3", {"correlation_id": "req-7", "actor": "asha"}, "InventoryService"),
        ),
    ],
    generate=_generate_follow_up,
    also_correct=[_with_or, _step_by_step],
    hints=[
        "Three keys: correlation_id (the conversation), causation_id (what caused this event), "
        "actor (who records it).",
        "The conversation carries over: the cause's correlation_id, or the cause's own id when "
        "the cause started the conversation. The causation is the cause itself: cause.id.",
        "actor is the one handling the cause (the argument), not the cause's actor: asha placed "
        "the order, InventoryService reserved the stock.",
    ],
    common_mistakes=[_new_conversation, _copies_the_causation, _copies_the_actor],
    explanation=(
        "correlation_id is copied from cause to effect, so one query finds the whole "
        "conversation; causation_id points one step back, so the chain can be walked and "
        "drawn; actor says who recorded each event. eda_kit fills them in for you while a bus "
        "handler, a command handler or a saga step runs (eda_kit.causation); this is the rule "
        "it follows."
    ),
)
