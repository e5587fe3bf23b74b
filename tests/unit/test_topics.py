"""AMQP topic patterns: RabbitMQ's own examples, bad input, and a property against a regex."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_kit.pubsub.topics import TopicPattern, matches, parse_pattern, parse_topic

# RabbitMQ tutorial 5 ("Topics"): queue Q1 is bound with *.orange.*, queue Q2 with *.*.rabbit
# and lazy.#. Each routing key and the queues RabbitMQ delivers it to.
TUTORIAL = {
    "quick.orange.rabbit": {"Q1", "Q2"},
    "lazy.orange.elephant": {"Q1", "Q2"},
    "quick.orange.fox": {"Q1"},
    "lazy.brown.fox": {"Q2"},
    "lazy.pink.rabbit": {"Q2"},  # matches two of Q2's bindings, delivered once
    "quick.brown.fox": set(),
    "orange": set(),
    "quick.orange.new.rabbit": set(),
    "lazy.orange.new.rabbit": {"Q2"},
    "quick.orange.male.rabbit": set(),
    "lazy": {"Q2"},  # '#' matches zero words
}
BINDINGS = {"Q1": ["*.orange.*"], "Q2": ["*.*.rabbit", "lazy.#"]}


@pytest.mark.parametrize(("topic", "queues"), TUTORIAL.items())
def test_the_rabbitmq_tutorial_routes_as_rabbitmq_does(topic, queues):
    routed = {q for q, patterns in BINDINGS.items() if any(matches(p, topic) for p in patterns)}
    assert routed == queues


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("#", "anything", True),
        ("#", "a.b.c.d", True),
        ("#.#", "a", True),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("a.#.b", "a.x.y", False),
        ("#.b", "b", True),
        ("#.b", "a.b.c", False),
        ("*", "a", True),
        ("*", "a.b", False),
        ("*.#", "a", True),
        ("#.*", "a.b.c", True),
        ("*.*", "a", False),
        ("order.created", "order.created", True),
        ("order.created", "order.created.eu", False),
        ("order.*", "order", False),
        ("order.#", "order", True),
        ("order.#", "orders", False),
        ("#.a.#.a.#", "a.a", True),
        ("#.a.#.a.#", "b.a.b", False),
    ],
)
def test_wildcard_semantics(pattern, topic, expected):
    assert matches(pattern, topic) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "must not be empty"),
        (".", "empty word at position 1"),
        ("order..created", "empty word at position 2"),
        (".order", "empty word at position 1"),
        ("order.", "empty word at position 2"),
        ("order. .created", "empty word at position 2"),
        ("order*", "mixes the wildcard '\\*' into the word 'order\\*'"),
        ("a.#b", "mixes the wildcard '#' into the word '#b'"),
        ("*.x*y", "into the word 'x\\*y'"),
        ("**", "into the word"),
    ],
)
def test_bad_patterns_are_refused_with_the_reason(pattern, message):
    with pytest.raises(ValueError, match=message):
        parse_pattern(pattern)
    with pytest.raises(ValueError, match=message):
        TopicPattern(pattern)


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("", "must not be empty"),
        ("order..created", "empty word at position 2"),
        ("order.*", "contains the wildcard '\\*'"),
        ("#", "contains the wildcard '#'"),
        ("order.created#", "contains the wildcard '#'"),
    ],
)
def test_bad_topics_are_refused_with_the_reason(topic, message):
    with pytest.raises(ValueError, match=message):
        parse_topic(topic)
    with pytest.raises(ValueError, match=message):
        matches("#", topic)


def test_non_strings_are_a_type_error():
    with pytest.raises(TypeError, match="pattern must be a str"):
        parse_pattern(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="topic must be a str"):
        parse_topic(["order", "created"])  # type: ignore[arg-type]


def test_parsing_returns_the_words():
    assert parse_pattern("order.*.#") == ("order", "*", "#")
    assert parse_topic("order.created.eu") == ("order", "created", "eu")


def test_topic_pattern_kinds_and_equality():
    assert TopicPattern("order.created").is_exact
    assert not TopicPattern("order.*").is_exact
    assert TopicPattern("#.#").matches("x")
    assert TopicPattern("a.*") == TopicPattern("a.*")
    assert TopicPattern("a.*") != TopicPattern("a.#")
    assert len({TopicPattern("a.*"), TopicPattern("a.*")}) == 1
    assert repr(TopicPattern("a.*")) == "TopicPattern('a.*')"


def test_many_hashes_on_a_long_topic_stay_fast():
    # A naive recursive matcher takes exponential time here; the walk takes len*len steps.
    pattern = ".".join(["#"] * 30 + ["x"])
    topic = ".".join(["a"] * 60)
    assert matches(pattern, topic) is False
    assert matches(pattern, topic + ".x") is True


# --- property: the matcher agrees with a regex translation of the AMQP rules ----------------


def reference_matches(pattern: str, topic: str) -> bool:
    """AMQP topic rules as a regex over '.' + topic: every word brings its own leading dot,
    so '#' (zero or more '.word') can vanish together with its dot."""
    parts = []
    for word in pattern.split("."):
        if word == "*":
            parts.append(r"\.[^.]+")
        elif word == "#":
            parts.append(r"(?:\.[^.]+)*")
        else:
            parts.append(r"\." + re.escape(word))
    return re.fullmatch("".join(parts), "." + topic) is not None


def test_the_reference_regex_itself_follows_the_tutorial():
    assert reference_matches("lazy.#", "lazy")
    assert not reference_matches("*.*.rabbit", "quick.orange.new.rabbit")
    assert reference_matches("#", "a.b")


pattern_words = st.lists(st.sampled_from(["a", "b", "*", "#"]), min_size=1, max_size=7)
topic_words = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(pattern_words, topic_words)
def test_matcher_agrees_with_the_reference_regex(pattern, topic):
    pattern_text, topic_text = ".".join(pattern), ".".join(topic)
    expected = reference_matches(pattern_text, topic_text)
    assert matches(pattern_text, topic_text) is expected
    assert TopicPattern(pattern_text).matches(topic_text) is expected


@settings(max_examples=100, deadline=None)
@given(topic_words)
def test_a_topic_used_as_a_pattern_matches_only_itself(topic):
    text = ".".join(topic)
    assert matches(text, text)
    assert not matches(text, text + ".z")
    assert matches("#", text)


def test_pre_split_words_give_the_same_answer():
    pattern = TopicPattern("order.*.eu")
    assert pattern.matches("order.created.eu", ("order", "created", "eu"))
    assert not pattern.matches("order.created", ("order", "created"))
