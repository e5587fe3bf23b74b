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


# -- bounded memory: max_records ------------------------------------------------------------


def test_a_capped_tracer_keeps_the_newest_steps_with_their_seq_and_counts_the_rest():
    tracer = Tracer(max_records=3)
    for i in range(1, 8):
        tracer.record("A", f"e{i}", "B")
    assert len(tracer) == 3
    assert tracer.dropped == 4
    assert [(r.seq, r.event) for r in tracer.records] == [(5, "e5"), (6, "e6"), (7, "e7")]
    assert tracer[0].seq == 5 and tracer[-1].seq == 7
    assert [r.seq for r in tracer.where(event="e6")] == [6]
    assert tracer.where(seq=6)[0].event == "e6"
    assert tracer.where(seq=2) == []  # dropped
    assert repr(tracer) == "<Tracer: 3 steps, newest 3 kept, 4 dropped>"
    assert tracer.table().splitlines()[1].startswith("…    4 older steps dropped")
    tracer.clear()
    assert (len(tracer), tracer.dropped) == (0, 0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_a_cap_must_be_a_whole_number_of_steps(bad):
    with pytest.raises(ValueError, match="max_records must be a whole number >= 1 or None"):
        Tracer(max_records=bad)


def test_where_matches_a_plain_filter_on_any_fields():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    row = st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(["x", "y"]),
        st.sampled_from([None, "C", "D"]),
        st.sampled_from(["sent", "delivered", "failed"]),
        st.integers(1, 2),
    )
    query = st.dictionaries(
        st.sampled_from(["source", "event", "target", "outcome", "attempt", "seq"]),
        st.one_of(st.sampled_from(["A", "x", None, "C", "failed"]), st.integers(1, 6)),
        max_size=3,
    )

    @settings(max_examples=150, deadline=None)
    @given(st.lists(row, max_size=12), query, st.sampled_from([None, 1, 4]))
    def check(rows, fields, cap):
        tracer = Tracer(max_records=cap)
        for source, event, target, outcome, attempt in rows:
            tracer.record(source, event, target, outcome, attempt=attempt)
        naive = [r for r in tracer.records if all(getattr(r, k) == v for k, v in fields.items())]
        assert tracer.where(**fields) == naive

    check()


# -- cause before effect: dispatch, then finish ---------------------------------------------


def test_a_dispatch_with_nothing_in_between_becomes_one_step():
    tracer = Tracer()
    seq = tracer.dispatch("Shop", "order.created", "Email", event_id="e1")
    tracer.finish(seq, "delivered")
    assert [(r.seq, r.target, r.outcome, r.event_id) for r in tracer] == [
        (1, "Email", "delivered", "e1")
    ]


def test_a_dispatch_whose_handler_caused_more_steps_ends_after_them():
    tracer = Tracer()
    seq = tracer.dispatch("Waiter", "order.placed", "Kitchen")
    tracer.record("Kitchen", "food.ready", None, "sent")
    tracer.finish(seq, "failed", detail="OvenError: cold")
    assert [(r.seq, r.event, r.outcome, r.detail) for r in tracer] == [
        (1, "order.placed", "dispatched", ""),
        (2, "food.ready", "sent", ""),
        (3, "order.placed", "failed", "OvenError: cold"),
    ]
    assert tracer[2].target == "Kitchen"
    with pytest.raises(ValueError, match="seq 1 is not a dispatched step still waiting"):
        tracer.finish(seq)


def test_a_capped_tracer_still_finishes_a_dispatch_whose_step_was_dropped():
    tracer = Tracer(max_records=2)
    seq = tracer.dispatch("A", "e", "B")
    tracer.record("B", "f", None, "sent")
    tracer.record("B", "g", None, "sent")
    tracer.finish(seq)
    kept = [(r.seq, r.event, r.outcome) for r in tracer]
    assert kept == [(3, "g", "sent"), (4, "e", "delivered")]
