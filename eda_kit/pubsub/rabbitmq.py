"""``RabbitMQBus``: the ``EventBus`` idea on a real broker, across processes (aio-pika).

The in-process ``EventBus`` delivers inside ``publish``, in one Python process. A broker keeps
each subscriber's messages in its own **queue**, on disk, until a consumer (in any process)
handles and acknowledges them. Same words, same topic patterns::

    bus = RabbitMQBus("amqp://guest:guest@127.0.0.1:5672/")
    bus.subscribe("order.*", reserve_stock, name="inventory", max_attempts=3)
    bus.publish(Event("order.created", {"order_id": "A1"}))   # returns once RabbitMQ has it
    bus.dead_letters("inventory")                             # what failed for good

What it builds in RabbitMQ (``prefix`` defaults to ``"eda"``)::

    exchange  eda.events            type topic: routing key = the event's type
    queue     eda.inventory         durable, bound with "order.*"; rejected messages go to ->
    exchange  eda.dead-letters      type direct
    queue     eda.inventory.dead    the dead letters of "inventory"
    queue     eda.inventory.retry.1 TTL backoff_base s, then back into eda.inventory
    queue     eda.inventory.retry.2 TTL 2 * backoff_base s, ... (max_attempts - 1 of them)

**The delivery rules, and how each maps onto RabbitMQ**

1. *Routing*: a topic exchange, with exactly the course's patterns (``*`` one word, ``#`` zero
   or more); tests/services/test_rabbitmq.py runs one table of cases on both buses.
2. *Isolation*: each subscription has its own durable queue, so a slow or broken subscriber
   never holds up the others, nor the publisher.
3. *At least once, acknowledged after the handler*: a message is acked only after the handler
   returned. A consumer that dies mid-message (kill -9, a lost connection) never acked it, so
   RabbitMQ delivers it again, to another consumer of the same queue if there is one. Handlers
   must be idempotent (or use an inbox).
4. *Retries with backoff*: a handler that raises gets its message republished to the retry
   queue for that attempt, whose TTL holds it back; when it expires RabbitMQ dead-letters it
   back into the subscriber's queue. The attempt number travels in the kit's own ``eda-attempt``
   header, a plain application header the broker leaves alone. RabbitMQ's own ``x-death``
   header records the trips through the retry queues too, but only on RabbitMQ 3.x is it a
   full history: a copy republished with the ``x-death`` it received has it merged by 3.x
   brokers (3.13.0 to 3.13.2 excepted), while 4.x no longer interprets ``x-`` headers a
   client sets ("x-headers belong to the broker": rabbitmq-server #10709, #11339), so there
   it lists only the last trip.
   Attempts are therefore never counted from ``x-death``.
5. *Dead letters*: after ``max_attempts``, the message goes through the dead-letter exchange
   to ``<queue>.dead`` with headers naming the subscriber, the error and the attempt count,
   plus the ``x-death`` history. A message that is not even a valid event is *rejected*, and
   RabbitMQ dead-letters it there itself (``x-death`` reason ``rejected``).
6. *Publisher confirms and* ``mandatory``: ``publish`` waits until the broker has confirmed
   the message (persistent, so in durable queues it survives a broker restart), and an event
   that no queue is bound for raises ``Unroutable`` instead of silently vanishing.
7. *Robust connections*: after a broker restart the connection, channels, queues and
   consumers are restored; unacknowledged messages are delivered again.

**Honest differences from** ``EventBus``:

- ``publish`` returns when RabbitMQ has *stored* the event, before any handler ran, and
  returns a ``Confirmed`` receipt, not a ``PublishReport``: who handled it is only known later,
  elsewhere. ``PublishReport.unhandled`` becomes the ``Unroutable`` error.
- Handlers run on the bus's own thread (plain functions in a worker thread, coroutines on the
  bus's event loop), one message at a time per subscription, in queue order; events published
  from a handler go straight to the broker (no "queued until the delivery ends" rule).
- A subscription *name* is a queue: subscribing twice with one name (in one process or many)
  makes **competing consumers** that share the work, not two copies of every event. The queue
  outlives the process: ``unsubscribe()`` stops consuming and keeps it (messages wait);
  ``remove(name)`` deletes it.
- Dead letters are messages in a queue: ``dead_letters(name)`` reads them (leaving them there),
  ``redeliver(name)`` moves them back with fresh attempts; there is no ``bus.dead_letters``
  list in memory.
- The backoff is fixed when a subscriber's retry queues are first declared (their TTL is a
  queue argument, and RabbitMQ refuses to redeclare a queue with other arguments:
  ``QueueMismatch``); ``max_attempts`` is each consumer's own decision.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import (
    BrokerError,
    BrokerUnavailable,
    InvalidType,
    InvalidValue,
    PublishRefused,
    QueueMismatch,
    StoreClosed,
    Unroutable,
    describe_error,
)
from ..events import Event, RecordedEvent
from ..trace import Tracer, handler_name
from .topics import TopicPattern, parse_topic

if TYPE_CHECKING:
    import aio_pika

__all__ = [
    "BrokerUnavailable",
    "Confirmed",
    "PublishRefused",
    "QueueMismatch",
    "RabbitDeadLetter",
    "RabbitMQBus",
    "RabbitSubscription",
    "Unroutable",
    "decode_event",
    "encode_event",
]

T = TypeVar("T")
Handler = Callable[[Event], Any]

#: How long sync calls wait for the broker before giving up (seconds).
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Confirmed:
    """RabbitMQ confirmed a published event: it is stored in every queue bound for it."""

    event_id: str
    topic: str
    exchange: str


#: The queue types ``RabbitMQBus(queue_type=...)`` declares.
QUEUE_TYPES = ("classic", "quorum")

#: The kit's own message headers. Not ``x-`` names: RabbitMQ reserves those for itself.
_KIT_HEADERS = ("eda-attempt", "eda-error", "eda-subscriber")


def _kit_header(headers: dict[str, Any], name: str, default: Any) -> Any:
    """The kit's header ``eda-<name>``, or ``x-eda-<name>`` (its earlier name) on a message
    queued by an older version."""
    return headers.get(f"eda-{name}", headers.get(f"x-eda-{name}", default))


@dataclass(frozen=True)
class RabbitDeadLetter:
    """A message in a subscriber's dead-letter queue: the event and why it is there.

    ``event`` is ``None`` when the message was not a valid event (then ``body`` says what it
    was). ``attempts`` comes from the kit's ``eda-attempt`` header; ``x_death`` is RabbitMQ's own
    history of the message's dead-letterings (complete on RabbitMQ 3.x; on 4.x only the last
    one, since the broker no longer merges an ``x-death`` a republished copy carries).
    """

    event: Event | None
    subscriber: str
    error: str
    attempts: int
    x_death: tuple[dict[str, Any], ...] = ()
    body: bytes = b""

    def __repr__(self) -> str:
        what = f"{self.event.type!r} {self.event.id}" if self.event is not None else "not an event"
        return (
            f"RabbitDeadLetter({what} -> {self.subscriber}, {self.attempts} "
            f"attempt{'s' if self.attempts != 1 else ''}: {self.error})"
        )


def encode_event(event: Event) -> bytes:
    """The message body: the event as JSON (a ``RecordedEvent`` keeps stream, version, position)."""
    return json.dumps(
        event.to_dict(), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def decode_event(body: bytes) -> Event:
    """The ``Event`` (or ``RecordedEvent``) in a message body; ``InvalidValue`` if not one."""
    try:
        fields = json.loads(body)
        common = (
            fields["type"],
            fields.get("data", {}),
            fields.get("metadata", {}),
            fields["id"],
            datetime.fromisoformat(fields["time"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidValue(
            f"not an eda_kit event: {body[:80]!r} ({describe_error(error)})"
        ) from None
    if "stream_id" in fields:
        return RecordedEvent(*common, fields["stream_id"], fields["version"], fields["position"])
    return Event(*common)


@functools.lru_cache(maxsize=1024)
def _checked_topic(topic: str) -> str:
    """``topic`` if it can be a routing key (checked once per topic, remembered after)."""
    parse_topic(topic)  # InvalidValue for wildcards or empty words
    if len(topic.encode()) > 255:
        raise InvalidValue(f"topic {topic[:40]!r}... is longer than AMQP's 255 bytes")
    return topic


class RabbitSubscription:
    """One subscriber's consumer on its queue. Made by ``RabbitMQBus.subscribe``."""

    def __init__(
        self, bus: RabbitMQBus, pattern: str, handler: Handler, name: str, max_attempts: int
    ) -> None:
        self._bus = bus
        self.pattern = pattern
        self.handler = handler
        self.name = name
        self.max_attempts = max_attempts
        self.queue = bus.queue_name(name)
        self.active = True
        #: How many messages this consumer handled (acked) / retried / dead-lettered.
        self.handled = 0
        self.retried = 0
        self.dead_lettered = 0
        self._inbox: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._consumer_tag: str | None = None
        self._amqp_queue: Any = None

    def unsubscribe(self) -> None:
        """Stop consuming (the queue stays, and keeps collecting events). Idempotent."""
        if self.active:
            self.active = False
            self._bus._run(self._bus._stop_consuming(self))

    def __repr__(self) -> str:
        state = "" if self.active else " (unsubscribed)"
        return f"<RabbitSubscription {self.pattern!r} -> {self.name} [{self.queue}]{state}>"


class RabbitMQBus:
    """``EventBus``'s interface on RabbitMQ. See the module docs for what maps onto what.

    - ``url``: ``amqp://user:password@host:port/vhost``.
    - ``prefix``: the first word of every exchange and queue this bus declares (so several
      courses, or test runs, share one broker without meeting).
    - ``prefetch``: how many unacknowledged messages each consumer may hold at a time.
    - ``backoff_base`` / ``backoff_max``: seconds before retry 1, doubled each retry, capped.
    - ``queue_type``: ``"classic"`` (the default: durable queues on one broker, all a single
      node needs) or ``"quorum"`` (replicated over the cluster's nodes, what production
      clusters use; RabbitMQ 3.10 or later, for the retry queues' TTL and at-least-once
      dead-lettering). A queue's type is fixed when it is first declared.
    - ``tracer``: records "sent" on publish and each delivery step in this process.

    Every method is synchronous (the bus runs its own event loop in a background thread);
    ``await bus.publish_async(event)`` is the same publish for async code. ``close()`` (or a
    ``with`` block) stops the consumers and the connection.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "eda",
        prefetch: int = 10,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        queue_type: str = "classic",
        tracer: Tracer | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        try:
            import aio_pika
        except ImportError as error:  # pragma: no cover  (the extra is missing)
            raise ImportError(
                'RabbitMQBus needs aio-pika: pip install "eda_kit[rabbitmq]"'
            ) from error
        if not isinstance(url, str) or not url.startswith(("amqp://", "amqps://")):
            raise InvalidValue(f"url must be an amqp:// URL, not {url!r}")
        if not isinstance(prefix, str) or not prefix or prefix.startswith("amq."):
            raise InvalidValue(
                f"prefix must be a non-empty name not starting 'amq.', not {prefix!r}"
            )
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1:
            raise InvalidValue(f"prefetch must be an int >= 1, not {prefetch!r}")
        for label, value in (
            ("backoff_base", backoff_base),
            ("backoff_max", backoff_max),
            ("timeout", timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidValue(f"{label} must be a number of seconds > 0, not {value!r}")
        if queue_type not in QUEUE_TYPES:
            raise InvalidValue(f"queue_type must be one of {QUEUE_TYPES}, not {queue_type!r}")
        self._aio_pika = aio_pika
        self.queue_type = queue_type
        self.url = url
        self.prefix = prefix
        self.exchange_name = f"{prefix}.events"
        self.dead_exchange_name = f"{prefix}.dead-letters"
        self.prefetch = prefetch
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.timeout = float(timeout)
        self._tracer = tracer
        self._subscriptions: list[RabbitSubscription] = []
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"eda_kit rabbitmq {prefix}", daemon=True
        )
        self._thread.start()
        self._connection: Any = None
        self._publisher: Any = None  # a channel with publisher confirms
        self._exchange: Any = None
        try:
            self._run(self._connect())
        except BaseException:
            self._stop_loop()
            raise

    # --- the event loop thread --------------------------------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the bus's loop and wait for its result (from any other thread)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise BrokerError(
                "a RabbitMQBus handler must not call the bus's blocking methods "
                "from a coroutine handler: await bus.publish_async(...) instead"
            )
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        wait = timeout if timeout is not None else self.timeout
        try:
            return future.result(wait)
        except TimeoutError:
            future.cancel()
            raise BrokerUnavailable(
                f"RabbitMQ at {self._broker()}: no answer within {wait:g} s"
            ) from None

    def _broker(self) -> str:
        import re

        return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", self.url)

    async def _connect(self) -> None:
        aio_pika = self._aio_pika
        url = self.url + ("&" if "?" in self.url else "?") + "reconnect_interval=1"
        try:
            self._connection = await aio_pika.connect_robust(url, timeout=self.timeout)
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as error:
            raise BrokerUnavailable(
                f"RabbitMQ at {self._broker()}: could not connect: {describe_error(error)}"
            ) from error
        self._publisher = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await self._publisher.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await self._publisher.declare_exchange(
            self.dead_exchange_name, aio_pika.ExchangeType.DIRECT, durable=True
        )

    # --- names ------------------------------------------------------------------------------

    def queue_name(self, name: str) -> str:
        """The queue of subscriber ``name``: ``<prefix>.<name>``."""
        return f"{self.prefix}.{name}"

    def backoff_delay(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1, 2, 3...): base, 2*base, 4*base..."""
        return min(self.backoff_base * 2 ** (retry - 1), self.backoff_max)

    # --- subscribing ------------------------------------------------------------------------

    def subscribe(
        self, pattern: str, handler: Handler, *, name: str | None = None, max_attempts: int = 1
    ) -> RabbitSubscription:
        """Consume the events whose topic matches ``pattern`` from subscriber ``name``'s queue.

        Declares the queue (durable), its binding, its retry queues and its dead-letter
        queue, then starts consuming. Another process subscribing with the same ``name``
        shares the queue's work (competing consumers).
        """
        TopicPattern(pattern)  # checks it: InvalidValue with the reason if bad
        if not callable(handler):
            raise InvalidType(f"handler must be callable, got {type(handler).__name__}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
            raise InvalidType(f"max_attempts must be an int, got {type(max_attempts).__name__}")
        if max_attempts < 1:
            raise InvalidValue(
                f"max_attempts must be 1 or more (1 = no retries), got {max_attempts}"
            )
        if name is None:
            name = handler_name(handler)
        elif not isinstance(name, str) or not name.strip():
            raise InvalidValue(f"name must be a non-empty str, got {name!r}")
        self._check_open()
        subscription = RabbitSubscription(self, pattern, handler, name, max_attempts)
        self._run(self._start_consuming(subscription))
        self._subscriptions.append(subscription)
        return subscription

    async def _declare(
        self, channel: Any, name: str, pattern: str | None, max_attempts: int
    ) -> Any:
        aio_pika = self._aio_pika
        queue_name = self.queue_name(name)
        kind: dict[str, Any] = {}
        dead_lettering: dict[str, Any] = {}
        if self.queue_type == "quorum":
            kind = {"x-queue-type": "quorum"}
            # A quorum queue dead-letters at most once unless told otherwise (and at least once
            # needs reject-publish on overflow): a retry's copy must not be lost on its way.
            dead_lettering = {
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
        try:
            queue = await channel.declare_queue(
                queue_name,
                durable=True,
                arguments={
                    **kind,
                    **dead_lettering,
                    "x-dead-letter-exchange": self.dead_exchange_name,
                    "x-dead-letter-routing-key": queue_name,
                },
            )
            dead = await channel.declare_queue(f"{queue_name}.dead", durable=True, arguments=kind)
            await dead.bind(self.dead_exchange_name, routing_key=queue_name)
            for retry in range(1, max_attempts):
                await channel.declare_queue(
                    f"{queue_name}.retry.{retry}",
                    durable=True,
                    arguments={
                        **kind,
                        **dead_lettering,
                        "x-message-ttl": round(self.backoff_delay(retry) * 1000),
                        "x-dead-letter-exchange": "",  # the default exchange: straight back to
                        "x-dead-letter-routing-key": queue_name,  # the subscriber's own queue
                    },
                )
        except aio_pika.exceptions.ChannelPreconditionFailed as error:
            raise QueueMismatch(
                f"the queues of {queue_name!r} already exist with other settings (another "
                f"backoff or queue type): {describe_error(error)}; remove them first with "
                f"bus.remove({name!r})"
            ) from error
        if pattern is not None:
            await queue.bind(self.exchange_name, routing_key=pattern)
        return queue

    async def _start_consuming(self, subscription: RabbitSubscription) -> None:
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        queue = await self._declare(
            channel, subscription.name, subscription.pattern, subscription.max_attempts
        )
        subscription._amqp_queue = queue
        # aio-pika runs each delivery callback as its own task; an asyncio.Queue in between
        # lets one worker handle them one at a time, in the order RabbitMQ delivered them.
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        subscription._inbox = inbox
        subscription._worker = asyncio.ensure_future(self._work(subscription, inbox))
        subscription._consumer_tag = await queue.consume(inbox.put)

    async def _stop_consuming(self, subscription: RabbitSubscription) -> None:
        queue, tag = subscription._amqp_queue, subscription._consumer_tag
        if queue is not None and tag is not None:
            try:
                await queue.cancel(tag)
            except Exception:  # the channel is already gone: nothing to cancel
                pass
        if subscription._worker is not None:
            subscription._worker.cancel()
        try:
            await queue.channel.close()
        except Exception:
            pass

    # --- handling one message ---------------------------------------------------------------

    async def _work(self, subscription: RabbitSubscription, inbox: asyncio.Queue[Any]) -> None:
        while True:
            message = await inbox.get()
            try:
                message.channel  # noqa: B018  (raises once the delivering channel is gone)
            except Exception:
                continue  # the connection dropped: RabbitMQ redelivers this one, don't run it
            try:
                await self._handle(subscription, message)
            except Exception:  # the channel broke mid-ack: RabbitMQ redelivers the message
                continue

    async def _call(self, handler: Handler, event: Event) -> None:
        if inspect.iscoroutinefunction(handler):
            await handler(event)
            return
        result = await asyncio.to_thread(handler, event)  # never block the loop
        if inspect.isawaitable(result):
            await result

    async def _handle(self, subscription: RabbitSubscription, message: Any) -> None:
        headers = dict(message.headers or {})
        attempt = int(_kit_header(headers, "attempt", 1))
        try:
            event = decode_event(message.body)
        except ValueError:
            await message.reject(requeue=False)  # RabbitMQ dead-letters it (x-death: rejected)
            subscription.dead_lettered += 1
            return
        source = str(_kit_header(headers, "source", "publisher"))
        try:
            await self._call(subscription.handler, event)
        except Exception as error:
            self._trace(source, event, subscription, "failed", attempt, describe_error(error))
            if attempt < subscription.max_attempts:
                await self._send_to_retry(subscription, message, headers, attempt, error)
                subscription.retried += 1
                self._trace(source, event, subscription, "retried", attempt + 1)
            else:
                await self._send_to_dead_letters(subscription, message, headers, attempt, error)
                subscription.dead_lettered += 1
                self._trace(
                    source, event, subscription, "dead_lettered", attempt, describe_error(error)
                )
            await message.ack()  # only after the copy was confirmed: at least once
            return
        await message.ack()  # only now: a crash before this line means redelivery
        subscription.handled += 1
        self._trace(source, event, subscription, "delivered", attempt)

    def _copy(self, message: Any, headers: dict[str, Any]) -> aio_pika.Message:
        return self._aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=message.type,
            delivery_mode=self._aio_pika.DeliveryMode.PERSISTENT,
        )

    async def _send_to_retry(
        self,
        subscription: RabbitSubscription,
        message: Any,
        headers: dict[str, Any],
        attempt: int,
        error: Exception,
    ) -> None:
        headers.update({"eda-attempt": attempt + 1, "eda-error": describe_error(error)})
        await self._publisher.default_exchange.publish(
            self._copy(message, headers), routing_key=f"{subscription.queue}.retry.{attempt}"
        )

    async def _send_to_dead_letters(
        self,
        subscription: RabbitSubscription,
        message: Any,
        headers: dict[str, Any],
        attempt: int,
        error: Exception,
    ) -> None:
        headers.update(
            {
                "eda-attempt": attempt,
                "eda-error": describe_error(error),
                "eda-subscriber": subscription.name,
            }
        )
        dead_exchange = await self._publisher.get_exchange(self.dead_exchange_name, ensure=False)
        await dead_exchange.publish(self._copy(message, headers), routing_key=subscription.queue)

    def _trace(
        self,
        source: str,
        event: Event,
        subscription: RabbitSubscription,
        outcome: str,
        attempt: int,
        detail: str = "",
    ) -> None:
        if self._tracer is not None:
            self._tracer.record(
                source,
                event.type,
                subscription.name,
                outcome,
                attempt=attempt,
                detail=detail,
                event_id=event.id,
                via=subscription.pattern,
            )

    # --- publishing -------------------------------------------------------------------------

    def publish(self, event: Event, *, source: str | None = None) -> Confirmed:
        """Publish ``event`` to the topic ``event.type``; return once RabbitMQ confirmed it.

        Raises ``Unroutable`` if no queue is bound for the topic, ``PublishRefused`` on a
        negative confirm, ``BrokerUnavailable`` when the connection is down (the outcome is
        then unknown: publishing again may duplicate, which consumers must tolerate anyway).
        """
        self._check_open()
        return self._run(self._publish(event, source))

    async def publish_async(self, event: Event, *, source: str | None = None) -> Confirmed:
        """``publish`` for async code (any event loop): ``await bus.publish_async(event)``.

        From a coroutine handler (on the bus's own loop) it publishes directly; from another
        event loop it hands the publish to the bus's loop and awaits the result there. After
        ``timeout`` seconds without a confirm it raises ``BrokerUnavailable``, like ``publish``.
        """
        self._check_open()
        try:
            async with asyncio.timeout(self.timeout):  # (asyncio.wait_for: a task per call)
                if asyncio.get_running_loop() is self._loop:  # called by a coroutine handler
                    return await self._publish(event, source)
                future = asyncio.run_coroutine_threadsafe(self._publish(event, source), self._loop)
                return await asyncio.wrap_future(future)
        except TimeoutError:
            raise BrokerUnavailable(
                f"RabbitMQ at {self._broker()}: no answer within {self.timeout:g} s"
            ) from None

    async def _publish(self, event: Event, source: str | None) -> Confirmed:
        aio_pika = self._aio_pika
        if not isinstance(event, Event):
            raise InvalidType(f"publish takes an Event, not {type(event).__name__}")
        topic = _checked_topic(event.type)
        source = source or str(event.metadata.get("source") or "publisher")
        correlation = event.metadata.get("correlation_id")
        message = aio_pika.Message(
            encode_event(event),
            content_type="application/json",
            message_id=event.id,
            type=topic,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            correlation_id=str(correlation) if correlation is not None else None,
            headers={"eda-source": source},
        )
        try:
            # (No per-publish timeout here: asyncio.wait_for costs a task per message. The
            # synchronous publish waits at most `timeout` for the result.)
            await self._exchange.publish(message, routing_key=topic, mandatory=True)
        except aio_pika.exceptions.PublishError:
            raise Unroutable(topic, self.exchange_name) from None
        except aio_pika.exceptions.DeliveryError as error:
            raise PublishRefused(
                f"RabbitMQ refused event {event.id} ({topic}): {describe_error(error)}"
            ) from error
        except (
            TimeoutError,
            ConnectionError,
            RuntimeError,
            aio_pika.exceptions.AMQPError,
        ) as error:
            raise BrokerUnavailable(
                f"RabbitMQ at {self._broker()}: could not publish {topic!r} (event {event.id}); "
                f"it may or may not have arrived: {describe_error(error)}"
            ) from error
        if self._tracer is not None:
            self._tracer.record(source, topic, None, "sent", event_id=event.id)
        return Confirmed(event.id, topic, self.exchange_name)

    # --- dead letters -----------------------------------------------------------------------

    def dead_letters(self, name: str) -> list[RabbitDeadLetter]:
        """The dead letters of subscriber ``name``, oldest first (they stay in the queue)."""
        self._check_open()
        return self._run(self._dead_letters(name, redeliver=False))

    def redeliver(self, name: str) -> int:
        """Move ``name``'s dead letters back into its queue with fresh attempts; how many."""
        self._check_open()
        return len(self._run(self._dead_letters(name, redeliver=True)))

    async def _dead_letters(self, name: str, *, redeliver: bool) -> list[RabbitDeadLetter]:
        channel = await self._connection.channel(publisher_confirms=True)
        try:
            queue = await channel.declare_queue(f"{self.queue_name(name)}.dead", passive=True)
            taken, letters = [], []
            while (message := await queue.get(fail=False, no_ack=False)) is not None:
                taken.append(message)
                letters.append(self._letter(name, message))
            for message in taken:
                if redeliver:
                    headers = dict(message.headers or {})
                    for key in _KIT_HEADERS:
                        headers.pop(key, None)
                        headers.pop(f"x-{key}", None)
                    await channel.default_exchange.publish(
                        self._copy(message, headers), routing_key=self.queue_name(name)
                    )
                    await message.ack()
                else:
                    await message.nack(requeue=True)  # back where it was
            return letters
        finally:
            await channel.close()

    def _letter(self, name: str, message: Any) -> RabbitDeadLetter:
        headers = dict(message.headers or {})
        x_death = tuple(dict(entry) for entry in headers.get("x-death", ()) or ())
        try:
            event: Event | None = decode_event(message.body)
        except ValueError as error:
            event, default_error = None, str(error)
        else:
            default_error = "rejected"
        error_text = _kit_header(headers, "error", None)
        return RabbitDeadLetter(
            event,
            str(_kit_header(headers, "subscriber", name)),
            str(error_text) if error_text is not None else default_error,
            int(_kit_header(headers, "attempt", 1)),
            x_death,
            bytes(message.body),
        )

    # --- housekeeping -----------------------------------------------------------------------

    def queue_depth(self, name: str) -> int:
        """How many messages wait in subscriber ``name``'s queue (not yet delivered)."""
        self._check_open()

        async def depth() -> int:
            channel = await self._connection.channel()
            try:
                queue = await channel.declare_queue(self.queue_name(name), passive=True)
                return int(queue.declaration_result.message_count)
            finally:
                await channel.close()

        return self._run(depth())

    def purge(self, name: str) -> int:
        """Throw away every message waiting in ``name``'s queue; return how many there were."""
        self._check_open()

        async def purge() -> int:
            channel = await self._connection.channel()
            try:
                queue = await channel.declare_queue(self.queue_name(name), passive=True)
                result = await queue.purge()
                return int(result.message_count)
            finally:
                await channel.close()

        return self._run(purge())

    def remove(self, name: str) -> None:
        """Delete subscriber ``name``'s queues (its waiting messages and dead letters too)."""
        self._check_open()
        for subscription in [s for s in self._subscriptions if s.name == name]:
            subscription.unsubscribe()

        async def delete() -> None:
            base = self.queue_name(name)
            names = [base, f"{base}.dead"]
            while True:  # find the retry queues: .retry.1, .retry.2, ... until one is missing
                channel = await self._connection.channel()
                try:
                    await channel.declare_queue(f"{base}.retry.{len(names) - 1}", passive=True)
                except self._aio_pika.exceptions.ChannelNotFoundEntity:
                    break  # (a failed passive declare closes the channel)
                names.append(f"{base}.retry.{len(names) - 1}")
                await channel.close()
            channel = await self._connection.channel()
            try:
                for queue in names:
                    await channel.queue_delete(queue)
            finally:
                await channel.close()

        self._run(delete())

    def delete_exchanges(self) -> None:
        """Delete this bus's two exchanges (after ``remove`` of every subscriber)."""
        self._check_open()

        async def delete() -> None:
            for exchange in (self.exchange_name, self.dead_exchange_name):
                await self._publisher.exchange_delete(exchange)

        self._run(delete())

    @property
    def subscriptions(self) -> tuple[RabbitSubscription, ...]:
        return tuple(s for s in self._subscriptions if s.active)

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the RabbitMQ bus is closed")

    def close(self) -> None:
        """Stop consuming and close the connection (queues and their messages stay)."""
        if self._closed:
            return
        self._closed = True
        for subscription in self._subscriptions:
            subscription.active = False

        async def shutdown() -> None:
            for subscription in self._subscriptions:
                await self._stop_consuming(subscription)
            if self._connection is not None:
                await self._connection.close()

        try:
            self._run(shutdown())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> RabbitMQBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        count = len(self.subscriptions)
        state = "closed" if self._closed else f"{count} subscription{'s' if count != 1 else ''}"
        return f"<RabbitMQBus {self.exchange_name!r}: {state}>"
