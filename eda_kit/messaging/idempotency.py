"""Idempotency keys: making "do it again" safe.

A saga that crashes in the middle of ``charge_payment`` cannot know whether the charge went
through: the process died between calling the payment provider and writing ``StepDone``. On
resume it charges again. The customer must not pay twice.

The fix is on the receiving side. Every request carries an **idempotency key**, a name for
*this piece of work* that stays the same however often it is retried::

    idempotency_key("order-A1", "charge_payment")   # 'order-A1/charge_payment'

The receiver remembers the keys it has processed, and for a key it has seen it returns the
first answer instead of doing the work again. :class:`Deduplicator` is that memory::

    payments = Deduplicator()
    payments.run_once("order-A1/charge_payment", charge_card, 30)   # charges, returns receipt
    payments.run_once("order-A1/charge_payment", charge_card, 30)   # same receipt, no charge

Two details matter. The key names the work, not the attempt: a random id per call would make
every retry look new. And a key is recorded only when the work *succeeded*: a failed attempt
must be allowed to try again. (Real payment APIs, e.g. Stripe's ``Idempotency-Key`` header,
work the same way; there the memory is a database table that survives the crash.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidValue

__all__ = ["idempotency_key", "Deduplicator"]


def idempotency_key(saga_id: str, step: str) -> str:
    """The key for one step of one saga: the same on every retry and after every resume."""
    for what, value in (("saga_id", saga_id), ("step", step)):
        if not isinstance(value, str) or not value:
            raise InvalidValue(f"idempotency_key needs a non-empty str {what}, got {value!r}")
    return f"{saga_id}/{step}"


class Deduplicator:
    """Remembers which keys were processed, and what the answer was.

    ``run_once(key, fn, *args)`` calls ``fn(*args)`` the first time it sees ``key`` and
    returns the stored result on every later call with that key. If ``fn`` raises, nothing
    is remembered, so the next call with the key tries again.
    """

    def __init__(self) -> None:
        self._results: dict[str, Any] = {}
        self.duplicates = 0  # how many calls were answered from memory

    def run_once(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not isinstance(key, str) or not key:
            raise InvalidValue(f"an idempotency key must be a non-empty str, got {key!r}")
        if key in self._results:
            self.duplicates += 1
            return self._results[key]
        result = fn(*args, **kwargs)  # raises: nothing recorded, a retry may run it again
        self._results[key] = result
        return result

    def seen(self, key: str) -> bool:
        """Whether ``key`` was processed successfully already."""
        return key in self._results

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        return f"<Deduplicator: {len(self._results)} keys, {self.duplicates} duplicates absorbed>"
