"""Tracer: an append-only record of who sent what to whom."""

from __future__ import annotations

import pytest

from eda_kit import Tracer, TraceRecord


def make_trace() -> Tracer:
    tracer = Tracer()
    tracer.record("OrderService", "order.created", outcome="sent", event_id="evt-0001")
    tracer.record("OrderService", "order.created", "EmailService", "delivered")
    tracer.record(
        "OrderService", "order.created", "InventoryService", "failed", detail="KeyError: 'sku'"
    )
    tracer.record("OrderService", "order.created", "InventoryService", "retried", attempt=2)
    return tracer


def test_records_are_numbered_in_order():
    records = make_trace().records
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[0] == TraceRecord(
        1, "OrderService", "order.created", None, "sent", event_id="evt-0001"
    )
    assert records[3].attempt == 2


def test_the_trace_cannot_be_changed_through_what_it_hands_out():
    tracer = make_trace()
    tracer.records.clear()
    assert len(tracer) == 4
    with pytest.raises(AttributeError):
        tracer[0].outcome = "delivered"  # type: ignore[misc]


def test_indexing_counts_seq_from_one_and_from_the_end():
    tracer = make_trace()
    assert tracer[0].seq == 1
    assert tracer[-1].seq == 4
    assert tracer[-1].outcome == "retried"


def test_where_filters_by_field_and_rejects_unknown_fields():
    tracer = make_trace()
    assert [r.seq for r in tracer.where(target="InventoryService")] == [3, 4]
    assert [r.detail for r in tracer.where(outcome="failed")] == ["KeyError: 'sku'"]
    with pytest.raises(TypeError, match=r"no field\(s\) \['colour'\]"):
        tracer.where(colour="red")


def test_participants_in_order_of_first_appearance():
    assert make_trace().participants() == ["OrderService", "EmailService", "InventoryService"]


def test_table_is_aligned_text():
    table = make_trace().table().splitlines()
    assert table[0].split() == ["seq", "source", "event", "target", "outcome", "detail"]
    assert table[3].split()[-3:] == ["failed", "KeyError:", "'sku'"]
    assert "retried #2" in table[4]


def test_extend_and_clear():
    first, second = make_trace(), make_trace()
    first.extend(second)
    assert len(first) == 8 and first[7].seq == 8
    first.clear()
    assert len(first) == 0 and first.records == []


def test_str_of_a_record_reads_like_an_arrow():
    assert str(make_trace()[2]) == (
        "  3  OrderService --order.created--> InventoryService: failed [KeyError: 'sku']"
    )
