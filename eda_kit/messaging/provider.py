"""A fake payment provider that honours idempotency keys, the way Stripe does.

Calling somebody else's service is the case no local transaction can cover: the charge
happens in *their* database. If the answer is lost on the way back (a timeout, a dropped
connection, your process killed while waiting), you cannot know whether the card was
charged. Retrying might charge twice; not retrying might never charge.

The pattern that is actually right: **send an idempotency key with the request, and let the
provider keep the rules.** Every retry of the same piece of work sends the same key
(``idempotency_key(saga_id, "charge_payment")``, or a key stored with your order); the
provider runs the charge once and answers every retry with the first response. Keeping a
deduplication table on *your* side cannot do this: your table and their charge never commit
together.

:class:`FakePaymentProvider` plays the provider in notebooks and tests::

    provider = FakePaymentProvider(card_limit=100)
    provider.lose_responses(1)                  # the next answer is lost after the charge
    try:
        provider.charge(30, idempotency_key="order-A1/pay")
    except ResponseLost:
        pass                                    # charged? we can't tell...
    provider.charge(30, idempotency_key="order-A1/pay")   # ...so retry: same charge back
    provider.total_charged                      # 30, not 60

Without a key every call is a new charge (what a naive client gets). Inside, the provider
uses an :class:`~eda_kit.messaging.idempotency.IdempotencyStore` (in memory unless you pass
one), so it also refuses a key reused for another amount, refuses a retry while the first
call is still running, and replays a decline. Charge ids count up (``ch_0001``, ...), so
outputs are reproducible.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidType, InvalidValue, PaymentDeclined, ResponseLost
from .idempotency import IdempotencyStore, InMemoryIdempotencyStore, check_seconds

__all__ = ["FakePaymentProvider", "Charge"]


@dataclass(frozen=True, slots=True)
class Charge:
    """One charge the provider really made (or refunded): the provider's own ledger."""

    id: str
    amount: int
    currency: str
    refunded: bool = False


class FakePaymentProvider:
    """A payment provider in memory that honours idempotency keys.

    - ``card_limit``: charges above it are declined (``PaymentDeclined``); ``None``: no limit.
    - ``delay``: seconds each call takes (to show a retry arriving while the first runs).
    - ``keys``: the provider's idempotency store (default: a fresh in-memory one).

    ``charges`` is the ledger of every charge made; ``calls`` counts requests received.
    """

    def __init__(
        self,
        *,
        card_limit: int | None = None,
        delay: float = 0.0,
        keys: IdempotencyStore | None = None,
    ) -> None:
        if card_limit is not None and (type(card_limit) is not int or card_limit < 0):
            raise InvalidValue(f"card_limit must be None or an int >= 0, not {card_limit!r}")
        if keys is not None and not isinstance(keys, IdempotencyStore):
            raise InvalidType(f"keys must be an IdempotencyStore, not {type(keys).__name__}")
        self.card_limit = card_limit
        self.delay = check_seconds(delay, "delay")
        self.keys = keys if keys is not None else InMemoryIdempotencyStore(owner="provider")
        self.charges: list[Charge] = []
        self.calls = 0
        self._lost = 0
        self._lock = threading.Lock()

    # --- faults --------------------------------------------------------------------------

    def lose_responses(self, count: int = 1) -> None:
        """The next ``count`` calls do their work, then raise ``ResponseLost`` instead of
        answering: the network ate the reply."""
        if type(count) is not int or count < 0:
            raise InvalidValue(f"count must be an int >= 0, not {count!r}")
        self._lost = count

    # --- the API -------------------------------------------------------------------------

    def charge(
        self, amount: int, *, currency: str = "eur", idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Charge ``amount`` (whole cents); return ``{"id": "ch_0001", "amount": ..., ...}``.

        With ``idempotency_key``, the first call's outcome is the answer to every call with
        that key (and a key reused for another amount or currency is refused).
        """
        if type(amount) is not int or amount <= 0:
            raise InvalidValue(f"amount must be a positive int (cents), not {amount!r}")
        request = {"operation": "charge", "amount": amount, "currency": currency}
        return self._call(idempotency_key, request, self._make_charge, amount, currency)

    def refund(self, charge_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Refund a charge in full: ``{"id": "re_ch_0001", "charge": ..., "amount": ...}``."""
        request = {"operation": "refund", "charge": charge_id}
        return self._call(idempotency_key, request, self._make_refund, charge_id)

    @property
    def total_charged(self) -> int:
        """What the customer has paid, net of refunds."""
        with self._lock:
            return sum(c.amount for c in self.charges if not c.refunded)

    # --- inside the provider ---------------------------------------------------------------

    def _call(self, key: str | None, request: dict[str, Any], work: Any, *args: Any) -> Any:
        with self._lock:
            self.calls += 1
        if key is None:
            response = work(*args)
        else:
            response = self.keys.run(key, work, *args, request=request)
        with self._lock:
            lose = self._lost > 0
            if lose:
                self._lost -= 1
        if lose:
            raise ResponseLost(
                f"no answer from the payment provider for {request} (the work may have happened)"
            )
        return response

    def _make_charge(self, amount: int, currency: str) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        if self.card_limit is not None and amount > self.card_limit:
            raise PaymentDeclined(f"{amount} is over the card limit of {self.card_limit}")
        with self._lock:
            charge = Charge(f"ch_{len(self.charges) + 1:04d}", amount, currency)
            self.charges.append(charge)
        return {"id": charge.id, "amount": amount, "currency": currency, "status": "succeeded"}

    def _make_refund(self, charge_id: str) -> dict[str, Any]:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            for index, charge in enumerate(self.charges):
                if charge.id == charge_id:
                    if charge.refunded:
                        raise InvalidValue(f"charge {charge_id!r} is already refunded")
                    self.charges[index] = Charge(charge.id, charge.amount, charge.currency, True)
                    return {"id": f"re_{charge_id}", "charge": charge_id, "amount": charge.amount}
        raise InvalidValue(f"no charge {charge_id!r} at this provider")

    def __repr__(self) -> str:
        return (
            f"<FakePaymentProvider: {len(self.charges)} charges, {self.total_charged} charged, "
            f"{self.calls} calls>"
        )
