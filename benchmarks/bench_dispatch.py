"""Emitter and bus: the cost of delivering one event to three handlers.

The floor is a plain ``for`` loop calling the three handlers: no library can beat it, so
every contender is reported as a multiple of it (1.0x would be free dispatch).
"""

from __future__ import annotations

from .harness import Row, Section, Skip, best_per_call


def _three_handlers() -> list:
    """Three distinct do-nothing handlers taking one argument, shared by every contender
    (blinker passes its one argument as the sender; pypubsub needs its own, see below)."""

    def first(message: object) -> None:
        return None

    def second(message: object) -> None:
        return None

    def third(message: object) -> None:
        return None

    return [first, second, third]


def _peers_for_three(topic: str, handlers: list) -> tuple[dict, list]:
    """pyee, blinker and pypubsub, each with three handlers on one event name.

    Returns the contenders and the objects that must stay alive while they run (pypubsub only
    keeps weak references to its listeners).
    """
    import blinker
    import pyee
    from pubsub import pub

    contenders = {}
    emitter = pyee.EventEmitter()
    for handler in handlers:
        emitter.on(topic, handler)
    contenders["pyee"] = lambda: emitter.emit(topic, 1)

    signal = blinker.Namespace().signal(topic)
    for handler in handlers:
        signal.connect(handler)
    contenders["blinker"] = lambda: signal.send(1)

    publisher = pub.getDefaultPublisher()
    pub_topic = topic.replace(".", "_") + "_bench"
    # pypubsub wants listeners whose signature matches the message; it keeps weak refs only.
    listeners = [lambda payload=None: None for _ in handlers]
    for listener in listeners:
        pub.subscribe(listener, pub_topic)
    contenders["pypubsub"] = lambda: publisher.sendMessage(pub_topic, payload=1)
    return contenders, listeners


def emitter_section(number: int, rounds: int) -> Section:
    try:
        from eda_kit.emitter import EventEmitter
    except ImportError as error:
        raise Skip(f"eda_kit.emitter is missing ({error})") from None

    handlers = _three_handlers()
    emitter = EventEmitter()
    for handler in handlers:
        emitter.on("order.created", handler)

    def floor() -> None:  # the plain loop the goal is measured against
        for handler in handlers:
            handler(1)

    contenders = {
        "plain loop (floor)": floor,
        "eda_kit EventEmitter": lambda: emitter.emit("order.created", 1),
    }
    peers, keepalive = _peers_for_three("order.created", handlers)
    contenders.update(peers)
    times = best_per_call(contenders, number=number, rounds=rounds)
    del keepalive
    return _dispatch_section(
        "Emitter: emit to 3 listeners",
        times,
        goal_ratio=2.0,
        what="`emit('order.created', 1)` with three listeners registered",
    )


def bus_section(number: int, rounds: int) -> Section:
    try:
        from eda_kit import Event
        from eda_kit.bus import EventBus
    except ImportError as error:
        raise Skip(f"eda_kit.bus is missing ({error})") from None

    handlers = _three_handlers()
    bus = EventBus()
    for pattern, handler in zip(("order.created", "order.*", "order.#"), handlers):
        bus.subscribe(pattern, handler)
    event = Event("order.created", {"order_id": "A1"})

    def floor() -> None:
        for handler in handlers:
            handler(event)

    contenders = {"plain loop (floor)": floor, "eda_kit EventBus": lambda: bus.publish(event)}
    peers, keepalive = _peers_for_three("order.created", handlers)
    contenders.update(peers)
    times = best_per_call(contenders, number=number, rounds=rounds)
    del keepalive
    return _dispatch_section(
        "Bus: publish to 3 matching subscribers",
        times,
        goal_ratio=4.0,
        what="`publish(event)` routed to an exact topic, a `*` and a `#` subscription "
        "(peers have no wildcards: three handlers on one name)",
    )


def _dispatch_section(
    title: str, times: dict[str, float], *, goal_ratio: float, what: str
) -> Section:
    floor = times["plain loop (floor)"]
    rows = [
        Row(name, seconds * 1e9, "ns/call", seconds / floor)
        for name, seconds in sorted(times.items(), key=lambda item: item[1])
    ]
    ours = next(row for row in rows if row.name.startswith("eda_kit"))
    return Section(
        title,
        what,
        rows,
        goal=f"eda_kit at most {goal_ratio:g}x the floor",
        met=ours.ratio is not None and ours.ratio <= goal_ratio,
        ratio_label="x floor",
    )
