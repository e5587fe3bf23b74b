"""The bank account the aggregate, repository and upcasting tests share.

``BankAccount`` is the design document's, verbatim (see test_design_contract.py); an opened
account has four events: opened by asha, 500 in, 500 in, 200 out (balance 800, version 4).
"""

from __future__ import annotations

from test_design_contract import BankAccount

__all__ = ["BankAccount", "opened_account"]


def opened_account(id: str = "acc-1") -> BankAccount:
    account = BankAccount(id)
    account.open("asha")
    account.deposit(500)
    account.deposit(500)
    account.withdraw(200)
    return account
