"""Event sourcing: an object's state is the fold of the events it recorded.

    aggregate   Aggregate: commands check rules and record events; apply() changes state
    repository  Repository: save pending events with optimistic concurrency; load by
                folding them (from the newest snapshot); time travel with at_version
    upcasting   Upcasters: old event shapes brought up to date on read

::

    repo = Repository(store, BankAccount, snapshot_every=100)
    account = BankAccount("acc-1"); account.open("asha"); account.deposit(500)
    repo.save(account)
    repo.get("acc-1").balance        # 500
"""

from ..errors import AggregateNotFound
from .aggregate import Aggregate
from .repository import Repository
from .upcasting import SCHEMA_KEY, Upcaster, Upcasters, schema_of

__all__ = [
    "Aggregate",
    "Repository",
    "AggregateNotFound",
    "Upcaster",
    "Upcasters",
    "SCHEMA_KEY",
    "schema_of",
]
