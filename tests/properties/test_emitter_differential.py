"""EventEmitter against two oracles: a naive reference model, and Node.js itself.

Hypothesis writes random "programs": sequences of on / once / prepend / off /
remove_all_listeners / emit / set_max_listeners, and listeners that, when called, do such
things themselves (add, remove, re-emit, raise) up to two levels deep. Each program runs on

- eda_kit's ``EventEmitter``,
- ``ReferenceEmitter`` below: Node's algorithm written the plainest way (lists copied on every
  emit, a linear scan for removal), too slow for real use but easy to check by eye, and
- Node's own ``events.EventEmitter``, through ``tests/node/emitter_harness.js`` (skipped, with
  the reason, when ``node`` is not installed).

After every step the test compares the call log (who was called with what, warnings
included), the step's outcome (return value or the exception's message) and the emitter's
state (listeners, once-ness, counts, event names). The program format is documented in the
harness.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_kit.emitter import EventEmitter, MaxListenersExceededWarning, UnhandledErrorEvent

HARNESS = Path(__file__).parent / "node" / "emitter_harness.js"
EVENTS = ["a", "b", "error", "new_listener", "remove_listener"]
LISTENER_IDS = ["L0", "L1", "L2", "L3"]


# --------------------------------------------------------------------------- the reference model


class ReferenceEmitter:
    """Node's EventEmitter, transcribed as plainly as possible (lists, copies, scans)."""

    def __init__(self) -> None:
        self.events: dict[Any, list[Any]] = {}
        self.warned: set[Any] = set()
        self.max = 10

    class Once:
        def __init__(self, emitter: ReferenceEmitter, event: Any, listener: Any) -> None:
            self.emitter, self.event, self.listener, self.fired = emitter, event, listener, False

        def __call__(self, *args: Any) -> None:
            if not self.fired:
                self.emitter._remove(self.event, lambda entry: entry is self)
                self.fired = True
                self.listener(*args)

    def emit(self, event: Any, *args: Any) -> bool:
        if event not in self.events:
            if event == "error":
                error = args[0] if args else None
                raise error if isinstance(error, BaseException) else UnhandledErrorEvent(error)
            return False
        for listener in list(self.events[event]):  # copy first
            listener(*args)
        return True

    def _add(self, event: Any, listener: Any, prepend: bool, once: bool) -> ReferenceEmitter:
        if "new_listener" in self.events:
            self.emit("new_listener", event, listener)
        entry = ReferenceEmitter.Once(self, event, listener) if once else listener
        entries = self.events.setdefault(event, [])
        entries.insert(0, entry) if prepend else entries.append(entry)
        if self.max > 0 and len(entries) > self.max and event not in self.warned:
            self.warned.add(event)
            warnings.warn(MaxListenersExceededWarning(self, event, len(entries)), stacklevel=2)
        return self

    def on(self, event, listener):
        return self._add(event, listener, prepend=False, once=False)

    def once(self, event, listener):
        return self._add(event, listener, prepend=False, once=True)

    def prepend_listener(self, event, listener):
        return self._add(event, listener, prepend=True, once=False)

    def prepend_once_listener(self, event, listener):
        return self._add(event, listener, prepend=True, once=True)

    def _remove(self, event: Any, matches: Any) -> None:
        entries = self.events.get(event, [])
        for index in reversed(range(len(entries))):
            if matches(entries[index]):
                removed = entries.pop(index)
                if not entries:
                    del self.events[event]
                if len(entries) <= 1:
                    self.warned.discard(event)
                if "remove_listener" in self.events:
                    self.emit("remove_listener", event, getattr(removed, "listener", removed))
                return

    def off(self, event, listener):
        self._remove(event, lambda e: e is listener or getattr(e, "listener", None) is listener)
        return self

    def remove_all_listeners(self, event=None):
        if "remove_listener" not in self.events:
            if event is None:
                self.events.clear()
                self.warned.clear()
            else:
                self.events.pop(event, None)
                self.warned.discard(event)
            return self
        if event is None:
            for name in list(self.events):
                if name != "remove_listener":
                    self.remove_all_listeners(name)
            self.remove_all_listeners("remove_listener")
            self.events.clear()
            self.warned.clear()
            return self
        for entry in reversed(list(self.events.get(event, []))):
            self._remove(
                event, lambda e, entry=entry: e is entry or getattr(e, "listener", None) is entry
            )
        return self

    def set_max_listeners(self, n):
        self.max = n
        return self

    def get_max_listeners(self):
        return self.max

    def listeners(self, event):
        return [getattr(e, "listener", e) for e in self.events.get(event, [])]

    def raw_listeners(self, event):
        return list(self.events.get(event, []))

    def listener_count(self, event):
        return len(self.events.get(event, []))

    def event_names(self):
        return list(self.events)


# --------------------------------------------------------------------------- running a program


def run_program(program: dict, make_emitter: Any = EventEmitter) -> list[dict]:
    """Run ``program`` (the harness's format) on a Python emitter; same result shape as Node's."""
    emitter = make_emitter()
    log: list[str] = []
    functions: dict[str, Any] = {}
    depth = 0

    def render(value: Any) -> str:
        if callable(value):
            return getattr(value, "lid", "?")
        if isinstance(value, BaseException):
            return f"Error({value})"
        return str(value)

    def perform(action: list) -> Any:
        kind = action[0]
        if kind == "throw":
            raise Exception("thrown")
        if kind == "max":
            emitter.set_max_listeners(action[1])
            return emitter.get_max_listeners()
        if kind == "remove_all":
            return emitter.remove_all_listeners(action[1]) is emitter
        _, event, x = action
        if kind == "emit":
            return emitter.emit(event, Exception("boom") if x == "E" else x)
        method = {
            "on": emitter.on,
            "once": emitter.once,
            "prepend": emitter.prepend_listener,
            "prepend_once": emitter.prepend_once_listener,
            "off": emitter.off,
        }[kind]
        return method(event, functions[x]) is emitter

    def make_listener(lid: str, actions: list) -> Any:
        def listener(*args: Any) -> None:
            nonlocal depth
            log.append(f"{lid}({', '.join(render(a) for a in args)})")
            depth += 1
            try:
                if depth <= 2:
                    for action in actions:
                        perform(action)
            finally:
                depth -= 1

        listener.lid = lid
        return listener

    for lid, actions in program["listeners"].items():
        functions[lid] = make_listener(lid, actions)

    def show_warning(message, category, *rest, **kwargs):
        log.append(f"warn {message.event} {message.count}")

    steps = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show_warning
        for op in program["ops"]:
            log.clear()
            try:
                outcome = perform(op)
            except Exception as error:
                outcome = f"raised {error}"
            state: dict[str, Any] = {}
            for event in EVENTS:
                shown, raw = emitter.listeners(event), emitter.raw_listeners(event)
                state[event] = {
                    "listeners": [render(f) for f in shown],
                    "once": [r is not f for r, f in zip(raw, shown)],
                    "count": emitter.listener_count(event),
                }
            state["names"] = [render(name) for name in emitter.event_names()]
            steps.append({"log": list(log), "outcome": outcome, "state": state})
    return steps


# --------------------------------------------------------------------------- programs


events = st.sampled_from(EVENTS) | st.just("a") | st.just("b")  # mostly ordinary events
lids = st.sampled_from(LISTENER_IDS)
adds = st.tuples(st.sampled_from(["on", "once", "prepend", "prepend_once"]), events, lids)
offs = st.tuples(st.just("off"), events, lids)
emits = st.tuples(st.just("emit"), events, st.integers(0, 9) | st.just("E"))
remove_alls = st.tuples(st.just("remove_all"), st.none() | events)
maxes = st.tuples(st.just("max"), st.integers(0, 2))
actions = (adds | offs | emits | remove_alls | st.just(("throw",))).map(list)
ops = (adds | adds | adds | offs | emits | emits | remove_alls | maxes).map(list)
programs = st.fixed_dictionaries(
    {
        "listeners": st.fixed_dictionaries(
            {lid: st.lists(actions, max_size=3) for lid in LISTENER_IDS}
        ),
        "ops": st.lists(ops, min_size=3, max_size=20),
    }
)

# Hand-written programs for the trickiest corners (each also a regression test).
TRICKY = {
    "once re-emitting itself": {
        "listeners": {"L0": [["emit", "a", 2]], "L1": [], "L2": [], "L3": []},
        "ops": [["once", "a", "L0"], ["on", "a", "L1"], ["emit", "a", 1], ["emit", "a", 3]],
    },
    "add and remove during emit": {
        "listeners": {"L0": [["on", "a", "L3"], ["off", "a", "L1"]], "L1": [], "L2": [], "L3": []},
        "ops": [["on", "a", "L0"], ["on", "a", "L1"], ["emit", "a", 1], ["emit", "a", 2]],
    },
    "remove_all with meta listeners": {
        "listeners": {"L0": [], "L1": [], "L2": [], "L3": []},
        "ops": [
            ["on", "remove_listener", "L3"],
            ["on", "new_listener", "L2"],
            ["once", "a", "L0"],
            ["on", "a", "L1"],
            ["once", "a", "L1"],
            ["on", "b", "L0"],
            ["remove_all", "a"],
            ["on", "a", "L0"],
            ["remove_all", None],
        ],
    },
    "max listeners re-arms at one listener": {
        "listeners": {"L0": [], "L1": [], "L2": [], "L3": []},
        "ops": [
            ["max", 1],
            ["on", "a", "L0"],
            ["on", "a", "L1"],
            ["on", "a", "L2"],
            ["off", "a", "L2"],
            ["on", "a", "L2"],
            ["off", "a", "L2"],
            ["off", "a", "L1"],
            ["on", "a", "L1"],
            ["max", 0],
            ["on", "a", "L3"],
        ],
    },
    "errors": {
        "listeners": {"L0": [["throw"]], "L1": [], "L2": [], "L3": []},
        "ops": [
            ["emit", "error", "E"],
            ["emit", "error", 7],
            ["on", "a", "L1"],
            ["on", "a", "L0"],
            ["on", "a", "L2"],
            ["emit", "a", 1],
            ["on", "error", "L1"],
            ["emit", "error", "E"],
        ],
    },
    "a new_listener listener that prepends": {
        "listeners": {"L0": [["prepend", "a", "L1"]], "L1": [], "L2": [], "L3": []},
        "ops": [
            ["on", "new_listener", "L0"],
            ["on", "a", "L2"],
            ["off", "new_listener", "L0"],
            ["emit", "a", 5],
        ],
    },
}


# --------------------------------------------------------------------------- against the model


@pytest.mark.parametrize("name", TRICKY)
def test_tricky_programs_match_the_reference_model(name):
    program = TRICKY[name]
    assert run_program(program) == run_program(program, ReferenceEmitter)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_random_programs_match_the_reference_model(program):
    assert run_program(program) == run_program(program, ReferenceEmitter)


def test_the_comparison_can_fail():
    """A model with one wrong rule (emit without copying the list first) is caught."""

    class NoCopy(ReferenceEmitter):
        def emit(self, event, *args):
            if event not in self.events:
                return super().emit(event, *args)
            for listener in self.events[event]:  # iterates the live list
                listener(*args)
            return True

    program = TRICKY["add and remove during emit"]
    assert run_program(program) != run_program(program, NoCopy)


# --------------------------------------------------------------------------- against Node.js


class NodeHarness:
    def __init__(self, node: str) -> None:
        self.process = subprocess.Popen(
            [node, str(HARNESS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, program: dict) -> list[dict]:
        self.process.stdin.write(json.dumps(program) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        assert "ok" in reply, reply.get("error")
        return reply["ok"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def node():
    executable = shutil.which("node")
    if executable is None:
        pytest.skip(
            "node (Node.js) is not installed: the differential tests against Node's "
            "events.EventEmitter need it; the reference-model tests above still ran"
        )
    harness = NodeHarness(executable)
    yield harness
    harness.close()


@pytest.mark.parametrize("name", TRICKY)
def test_tricky_programs_match_node(node, name):
    program = TRICKY[name]
    assert run_program(program) == node.run(program)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs)
def test_random_programs_match_node(node, program):
    assert run_program(program) == node.run(program)
