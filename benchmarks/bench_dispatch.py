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
    """pyee, blinker and pypubsub (those installed), each with three handlers on one event name.

    Returns the contenders and the objects that must stay alive while they run (pypubsub only
    keeps weak references to its listeners). A peer that is not installed is left out: the
    `bench` extra installs them all.
    """
    contenders: dict = {}
    keepalive: list = []
    try:
        import pyee
    except ImportError:
        pass
    else:
        emitter = pyee.EventEmitter()
        for handler in handlers:
            emitter.on(topic, handler)
        contenders["pyee"] = lambda: emitter.emit(topic, 1)
    try:
        import blinker
    except ImportError:
        pass
    else:
        signal = blinker.Namespace().signal(topic)
        for handler in handlers:
            signal.connect(handler)
        contenders["blinker"] = lambda: signal.send(1)
    try:
        from pubsub import pub
    except ImportError:
        pass
    else:
        publisher = pub.getDefaultPublisher()
        pub_topic = topic.replace(".", "_") + "_bench"
        # pypubsub wants listeners whose signature matches the message; it keeps weak refs only.
        keepalive = [lambda payload=None: None for _ in handlers]
        for listener in keepalive:
            pub.subscribe(listener, pub_topic)
        contenders["pypubsub"] = lambda: publisher.sendMessage(pub_topic, payload=1)
    return contenders, keepalive


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
        from eda_kit.pubsub.bus import EventBus
    except ImportError as error:
        raise Skip(f"eda_kit.pubsub.bus is missing ({error})") from None

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


ORDER = {"order_id": "A1", "customer": "asha", "total": 30}


def event_section(number: int, rounds: int) -> Section:
    """What building an event costs: checks, read-only copies, an id and a timestamp."""
    try:
        from eda_kit import Event
    except ImportError as error:
        raise Skip(f"eda_kit is missing ({error})") from None
    goal_us = 1.5
    times = best_per_call(
        {
            "dict(ORDER) (a plain copy, floor)": lambda: dict(ORDER),
            "eda_kit Event(type, 3-key data)": lambda: Event("order.created", ORDER),
        },
        number=number,
        rounds=rounds,
    )
    floor = times["dict(ORDER) (a plain copy, floor)"]
    rows = [
        Row(name, seconds * 1e6, "µs/event", seconds / floor) for name, seconds in times.items()
    ]
    ours = times["eda_kit Event(type, 3-key data)"] * 1e6
    return Section(
        "Event construction",
        "`Event('order.created', {3 keys})`: type checks, JSON checks with key paths, "
        "read-only copies, a fresh id and the time",
        rows,
        goal=f"at most {goal_us:g} µs per event",
        met=ours <= goal_us,
        ratio_label="x floor",
    )


def build_and_publish_section(number: int, rounds: int) -> Section:
    """A realistic publish: build the event, then deliver it; pyee just emits the dict."""
    try:
        from eda_kit import Event
        from eda_kit.pubsub import EventBus
    except ImportError as error:
        raise Skip(f"eda_kit.pubsub is missing ({error})") from None
    try:
        import pyee
    except ImportError as error:
        raise Skip(f"pyee is missing ({error}); make setup installs the bench extra") from None

    handlers = _three_handlers()
    bus = EventBus()
    for handler in handlers:
        bus.subscribe("order.created", handler)
    emitter = pyee.EventEmitter()
    for handler in handlers:
        emitter.on("order.created", handler)
    times = best_per_call(
        {
            "pyee emit(topic, dict)": lambda: emitter.emit("order.created", ORDER),
            "eda_kit publish(Event(topic, dict))": lambda: bus.publish(
                Event("order.created", ORDER)
            ),
        },
        number=number,
        rounds=rounds,
    )
    baseline = times["pyee emit(topic, dict)"]
    rows = [
        Row(name, seconds * 1e6, "µs/call", seconds / baseline) for name, seconds in times.items()
    ]
    ratio = times["eda_kit publish(Event(topic, dict))"] / baseline
    return Section(
        "Build + publish: event to 3 subscribers",
        "build a 3-key `Event` and `publish` it to three subscribers, against pyee emitting "
        "the same dict to three listeners (pyee builds nothing: no id, no time, no checks)",
        rows,
        goal="eda_kit at most 1.5x pyee",
        met=ratio <= 1.5,
        ratio_label="x pyee",
    )
