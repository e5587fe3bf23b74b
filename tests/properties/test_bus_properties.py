"""Property-based tests of delivery: isolation and dead letters under random failures.

Each subscriber gets a random script of outcomes ("ok" or "fail", one per call; once the
script runs out, calls succeed) and a random ``max_attempts``. A tiny model predicts what
must happen; the bus (sync and async) must agree exactly:

- every subscriber that never fails receives every event, in publish order;
- the dead letters are exactly the deliveries whose failures outlasted ``max_attempts``,
  each with that attempt count, and nothing else;
- each report's ``delivered`` / ``failed`` split matches.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit import Event
from eda_kit.pubsub.bus import EventBus

TOPICS = ["order.created", "order.paid", "invoice.sent"]
PATTERNS = ["order.created", "order.*", "#", "invoice.#", "*.paid"]

subscriber = st.fixed_dictionaries(
    {
        "pattern": st.sampled_from(PATTERNS),
        "max_attempts": st.integers(1, 3),
        "script": st.lists(st.booleans(), max_size=8),  # True = this call fails
    }
)
scenario = st.fixed_dictionaries(
    {
        "subscribers": st.lists(subscriber, min_size=1, max_size=5),
        "topics": st.lists(st.sampled_from(TOPICS), min_size=1, max_size=5),
    }
)


def route(pattern: str, topic: str) -> bool:
    return (
        pattern == "#"
        or pattern == topic
        or (pattern.endswith(".*") and topic.split(".")[0] == pattern[:-2])
        or (pattern.endswith(".#") and topic.split(".")[0] == pattern[:-2])
        or (pattern == "*.paid" and topic.endswith(".paid"))
    )


def model(scenario: dict) -> tuple[dict[str, list[int]], list[tuple[int, str, int]], list]:
    """What must happen: who receives which events, the dead letters, each report's split."""
    received: dict[str, list[int]] = {f"s{i}": [] for i in range(len(scenario["subscribers"]))}
    dead: list[tuple[int, str, int]] = []
    splits = []
    calls = [0] * len(scenario["subscribers"])
    for n, topic in enumerate(scenario["topics"]):
        delivered, failed = [], []
        for i, sub in enumerate(scenario["subscribers"]):
            if not route(sub["pattern"], topic):
                continue
            for _ in range(sub["max_attempts"]):
                fails = calls[i] < len(sub["script"]) and sub["script"][calls[i]]
                calls[i] += 1
                if not fails:
                    received[f"s{i}"].append(n)
                    delivered.append(f"s{i}")
                    break
            else:
                dead.append((n, f"s{i}", sub["max_attempts"]))
                failed.append(f"s{i}")
        splits.append((tuple(delivered), tuple(failed)))
    return received, dead, splits


def build(
    scenario: dict, bus: EventBus, make_async: bool = False, scripts: list | None = None
) -> dict[str, list[int]]:
    """Subscribe the scenario's handlers; return name -> the event numbers each received.
    ``scripts`` (if given) collects each handler's remaining script, to "fix" them later."""
    received: dict[str, list[int]] = {}
    for i, sub in enumerate(scenario["subscribers"]):
        name, script, log = f"s{i}", list(sub["script"]), []
        received[name] = log
        if scripts is not None:
            scripts.append(script)

        def call(event, script=script, log=log):
            fails = bool(script) and script.pop(0)
            if fails:
                raise RuntimeError("scripted failure")
            log.append(event.data["n"])

        if make_async:

            async def handler(event, call=call):
                await asyncio.sleep(0)  # let the others interleave
                call(event)
        else:
            handler = call
        bus.subscribe(sub["pattern"], handler, name=name, max_attempts=sub["max_attempts"])
    return received


def test_the_model_routes_like_the_bus():
    bus = EventBus()
    for pattern in PATTERNS:
        for topic in TOPICS:
            bus.subscribe(pattern, print, name=f"{pattern}|{topic}")
            names = [s.name for s in bus.route(topic)]
            assert (f"{pattern}|{topic}" in names) is route(pattern, topic)


@settings(max_examples=100, deadline=None)
@given(scenario)
def test_sync_isolation_and_exact_dead_letters(scenario):
    bus = EventBus()
    received = build(scenario, bus)
    reports = [bus.publish(Event(t, {"n": n})) for n, t in enumerate(scenario["topics"])]

    expected_received, expected_dead, expected_splits = model(scenario)
    assert received == expected_received
    assert [(d.event.data["n"], d.subscriber, d.attempts) for d in bus.dead_letters] == (
        expected_dead
    )
    assert [(r.delivered, r.failed) for r in reports] == expected_splits
    matching = [
        [n for n, t in enumerate(scenario["topics"]) if route(s["pattern"], t)]
        for s in scenario["subscribers"]
    ]
    for i, sub in enumerate(scenario["subscribers"]):
        if not any(sub["script"]):  # never fails: gets every event routed to it
            assert received[f"s{i}"] == matching[i]


@settings(max_examples=50, deadline=None)
@given(scenario)
def test_async_isolation_and_exact_dead_letters(scenario):
    async def no_wait(seconds):
        await asyncio.sleep(0)

    bus = EventBus(sleep=no_wait)
    received = build(scenario, bus, make_async=True)

    async def main():
        return [
            await bus.publish_async(Event(t, {"n": n})) for n, t in enumerate(scenario["topics"])
        ]

    reports = asyncio.run(main())
    expected_received, expected_dead, expected_splits = model(scenario)
    assert received == expected_received
    assert [(d.event.data["n"], d.subscriber, d.attempts) for d in bus.dead_letters] == (
        expected_dead
    )
    assert [(r.delivered, r.failed) for r in reports] == expected_splits


@settings(max_examples=40, deadline=None)
@given(scenario)
def test_redelivery_after_a_fix_delivers_exactly_the_dead_letters(scenario):
    bus, scripts = EventBus(), []
    received = build(scenario, bus, scripts=scripts)
    for n, topic in enumerate(scenario["topics"]):
        bus.publish(Event(topic, {"n": n}))
    owed = [(d.subscriber, d.event.data["n"]) for d in bus.dead_letters]
    before = {name: list(log) for name, log in received.items()}
    for script in scripts:  # "the fix": every handler works from now on
        script.clear()
    report = bus.redeliver()
    assert report.ok and len(bus.dead_letters) == 0
    assert [(d.subscriber, d.event.data["n"]) for d in report.delivered] == owed
    for name, log in received.items():
        assert log == before[name] + [n for who, n in owed if who == name]
