"""Answers two learners really gave to notebooks 03, 04, 06 and 07 (issue 17), checked again.

Each wrong answer once got "Correct" and must now be refused with a short verdict that names
the case it gets wrong; each right one was once refused and must now pass. They are written the
way the learners wrote them, not tidied up.
"""

from __future__ import annotations

from decimal import Decimal

from test_exercises import MAX_VERDICT  # (tests/unit is on the path)

from eda_kit.exercises import event_sourcing


def refused(exercise, answer, *names: str) -> str:
    """The verdict on ``answer``: "Not yet", short, one line, naming one of ``names``."""
    message = exercise.verdict(answer).message
    assert message.startswith("Not yet: "), f"accepted: {message}"
    assert len(message) <= MAX_VERDICT and "\n" not in message, message
    assert any(name in message for name in names), f"does not name {names}: {message}"
    return message


def accepted(exercise, answer) -> None:
    message = exercise.verdict(answer).message
    assert message == "Correct", message


# --- 04, exercise 1: FeeAccount under a BankAccount that declares upcasters ----------------


def test_04_fee_account_inheriting_the_notebooks_upcasters_is_accepted():
    """Notebook 04's section 8 sets ``BankAccount.upcasters`` before exercise 1; the reference
    FeeAccount(BankAccount) inherits them, and the checker's plain (schema 1) deposits were
    multiplied by 100 on load: "expected (100000, 0, 2), got (10000000, 0, 2)"."""

    class BankAccount(event_sourcing.BankAccount):
        pass

    def deposited_v1_to_v2(data):
        return {"amount": int(Decimal(data["amount"]) * 100)}

    BankAccount.upcasters = {("Deposited", 1): deposited_v1_to_v2}

    class FeeAccount(BankAccount):
        def __init__(self, id):
            super().__init__(id)
            self.fees_paid = 0

        def apply(self, event):
            match event.type:
                case "FeeCharged":
                    self.balance -= event.data["amount"]
                    self.fees_paid += event.data["amount"]
                case _:
                    super().apply(event)

    accepted(event_sourcing.new_event, FeeAccount)
