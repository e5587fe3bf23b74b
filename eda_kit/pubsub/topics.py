"""Topic patterns, the AMQP way: how a message bus decides who gets an event.

A *topic* names what happened, as words separated by dots: ``order.created``,
``order.created.eu``. A subscriber does not have to list every topic it cares about; it gives a
*pattern*, where two words are special (the rules of RabbitMQ's topic exchange, from AMQP):

- ``*`` stands for exactly one word:       ``order.*``  matches ``order.created``,
  not ``order`` and not ``order.created.eu``;
- ``#`` stands for zero or more words:     ``order.#``  matches ``order``, ``order.created``
  and ``order.created.eu``; ``#`` alone matches every topic.

Everything else must match word for word. The examples of RabbitMQ's topic tutorial::

    >>> matches("*.orange.*", "quick.orange.rabbit")
    True
    >>> matches("*.*.rabbit", "quick.orange.new.rabbit")      # '*' is one word, not two
    False
    >>> matches("lazy.#", "lazy")                             # '#' may be zero words
    True

Bad patterns are refused early, with the reason: an empty pattern, an empty word
(``order..created``, ``.order``), or a wildcard glued into a word (``order*``, ``a.#b``: those
would be literal text in RabbitMQ, almost always a typo here). A *topic* (what you publish to)
may not contain wildcards at all: you publish something concrete.
"""

from __future__ import annotations

from ..errors import InvalidType, InvalidValue

__all__ = ["TopicPattern", "parse_pattern", "parse_topic", "matches", "ONE_WORD", "ANY_WORDS"]

ONE_WORD = "*"
ANY_WORDS = "#"
_WILDCARDS = (ONE_WORD, ANY_WORDS)


def _split(text: object, what: str, example: str) -> tuple[str, ...]:
    """Split ``text`` into its words, refusing what no topic or pattern may be."""
    if not isinstance(text, str):
        raise InvalidType(f"a {what} must be a str such as {example!r}, not {type(text).__name__}")
    if not text:
        raise InvalidValue(
            f"a {what} must not be empty: give dot-separated words, e.g. {example!r}"
        )
    words = tuple(text.split("."))
    for position, word in enumerate(words, start=1):
        if not word.strip():
            raise InvalidValue(
                f"{what} {text!r} has an empty word at position {position}: words are "
                "separated by single dots, with no dot at the start or the end"
            )
    return words


def parse_pattern(pattern: str) -> tuple[str, ...]:
    """Check a subscription pattern and return its words.

    ``'*'`` and ``'#'`` must stand alone between dots: ``'order.*'`` is a pattern,
    ``'order*'`` is refused (``ValueError``) because the wildcard is glued to a word.
    """
    words = _split(pattern, "pattern", "order.*")
    for word in words:
        if word not in _WILDCARDS and (ONE_WORD in word or ANY_WORDS in word):
            glued = ONE_WORD if ONE_WORD in word else ANY_WORDS
            raise InvalidValue(
                f"pattern {pattern!r} mixes the wildcard {glued!r} into the word {word!r}: "
                "'*' and '#' must be whole words between dots, e.g. 'order.*' or 'order.#'"
            )
    return words


def parse_topic(topic: str) -> tuple[str, ...]:
    """Check a concrete topic (what is published) and return its words.

    A topic may not contain ``'*'`` or ``'#'``: wildcards belong in subscription patterns.
    """
    words = _split(topic, "topic", "order.created")
    for word in words:
        for wildcard in _WILDCARDS:
            if wildcard in word:
                raise InvalidValue(
                    f"topic {topic!r} contains the wildcard {wildcard!r}: publish to a concrete "
                    "topic such as 'order.created'; wildcards belong in subscription patterns"
                )
    return words


def _words_match(pattern: tuple[str, ...], topic: tuple[str, ...]) -> bool:
    """Does the pattern (as words) match the topic (as words)?

    Walk both word lists left to right. A literal or ``*`` consumes one topic word. A ``#``
    first tries to consume nothing; we remember where it was, and if the rest fails to match
    later we come back and let that ``#`` swallow one more word. Only the most recent ``#``
    needs remembering (the classic wildcard-matching argument), so this never takes more than
    ``len(pattern) * len(topic)`` steps, however many ``#`` there are.
    """
    p = t = 0
    last_hash = -1  # index in `pattern` of the most recent '#', or -1 if none yet
    hash_took = 0  # index in `topic` where that '#' stopped swallowing words
    while t < len(topic):
        if p < len(pattern) and pattern[p] == ANY_WORDS:
            last_hash, hash_took = p, t  # '#' takes zero words, for now
            p += 1
        elif p < len(pattern) and (pattern[p] == ONE_WORD or pattern[p] == topic[t]):
            p += 1
            t += 1
        elif last_hash >= 0:  # dead end: let the last '#' swallow one more word, retry
            hash_took += 1
            p, t = last_hash + 1, hash_took
        else:
            return False
    # The topic is used up: what is left of the pattern must be able to match zero words.
    return all(word == ANY_WORDS for word in pattern[p:])


class TopicPattern:
    """A checked, ready-to-use subscription pattern.

    >>> TopicPattern("order.#").matches("order.created.eu")
    True

    A pattern without wildcards is compared as a plain string (the common, fastest case),
    and ``'#'`` alone matches everything without looking.
    """

    __slots__ = ("text", "words", "_kind")

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.words = parse_pattern(pattern)
        if ONE_WORD not in self.words and ANY_WORDS not in self.words:
            self._kind = "exact"
        elif all(word == ANY_WORDS for word in self.words):
            self._kind = "everything"
        else:
            self._kind = "wildcard"

    @property
    def is_exact(self) -> bool:
        """True when the pattern has no wildcards: it matches one topic, itself."""
        return self._kind == "exact"

    def matches(self, topic: str, words: tuple[str, ...] | None = None) -> bool:
        """Does this pattern match ``topic``? (``topic`` is assumed already checked.)

        ``words``: the topic already split on dots, to save splitting it again when one topic
        is matched against many patterns.
        """
        if self._kind == "exact":
            return topic == self.text
        if self._kind == "everything":
            return True
        return _words_match(self.words, words or tuple(topic.split(".")))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TopicPattern) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"TopicPattern({self.text!r})"


def matches(pattern: str, topic: str) -> bool:
    """Does ``pattern`` match ``topic`` under the AMQP topic rules? Both are checked first."""
    parse_topic(topic)
    return TopicPattern(pattern).matches(topic)
