"""The escalation sweep against a real database (and a real SMTP server for the operations
mailbox): each rule raises its alert once when its time has come and not before, operations
get one mail per alert however often the sweep runs, the order's needs_attention follows its
open alerts, and alerts whose cause is gone resolve themselves."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_outbound import RecordOnlyOpsNotifier
from activities.adapters.smtp_email import SmtpOpsNotifier, SmtpSender
from activities.alerts import AlertActivities
from domain.cases import CaseKind
from domain.enums import AlertKind, OrderStatus, PurchaseOrderStatus
from domain.models import EscalationSweep, RaiseAlertRequest
from storage import alerts as store
from storage.cases import add_note, get_case, open_case
from storage.db import transaction
from storage.models import Alert, Order, OrderEvent, PurchaseOrder
from tests.activities.test_smtp_email import smtp_server  # noqa: F401 (fixture)
from tests.factories import place_order, seed

env = ActivityEnvironment()
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RULES = store.EscalationRules(pick_sla=timedelta(hours=2), tracking_silence=timedelta(hours=48),
                              case_sla=timedelta(hours=24), supplier_grace=timedelta(days=1))


async def _put_in(sessions, order_id: str, status: OrderStatus, since: datetime) -> None:
    """The read model as the order's workflow leaves it: status and its timeline row."""
    async with transaction(sessions) as session:
        sequence = int(await session.scalar(select(func.count()).select_from(OrderEvent)
                                            .where(OrderEvent.order_id == order_id)) or 0) + 1
        session.add(OrderEvent(order_id=order_id, sequence=sequence, status=status.value, reason="test",
                               occurred_at=since))
        await session.execute(update(Order).where(Order.id == order_id)
                              .values(status=status.value, status_sequence=sequence))


async def _alerts(sessions, **where) -> list[Alert]:
    async with sessions() as session:
        return list((await session.execute(select(Alert).filter_by(**where).order_by(Alert.id))).scalars())


async def _needs_attention(sessions, order_id: str) -> bool:
    async with sessions() as session:
        return (await session.get(Order, order_id)).needs_attention


@pytest.fixture
async def orders(sessions):
    await seed(sessions)
    return [await place_order(sessions, external_reference=f"alert-{i}") for i in range(3)]


async def test_a_late_pick_raises_one_alert_and_resolves_itself_when_picked(sessions, orders, smtp_server) -> None:
    inbox, port = smtp_server
    late, on_time, _ = orders
    await _put_in(sessions, late, OrderStatus.PICKING, NOW - timedelta(hours=2, minutes=1))
    await _put_in(sessions, on_time, OrderStatus.PICKING, NOW - timedelta(hours=1, minutes=50))
    ops = SmtpOpsNotifier(SmtpSender(host="127.0.0.1", port=port, sender="orders@shop.example", sender_name="Shop"),
                          "ops@shop.example")
    activities = AlertActivities(sessions, ops, RULES)

    first = await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW))
    again = await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW + timedelta(minutes=1)))

    assert (first.raised, first.notified, again.raised, again.notified) == (1, 1, 0, 0)
    [alert] = await _alerts(sessions, kind=AlertKind.LATE_PICK.value)
    assert alert.order_id == late and alert.notified_at is not None and alert.resolved_at is None
    assert "2 h" in alert.message or "121 min" in alert.message
    assert await _needs_attention(sessions, late) and not await _needs_attention(sessions, on_time)
    [mail] = inbox.mails
    assert mail["To"] == "ops@shop.example" and late in mail["Subject"] and "late pick" in mail["Subject"]
    assert mail["Message-ID"] == f"<alert-{alert.id}@shop.example>"

    # The pick comes: the alert resolves itself and the order no longer needs attention.
    await _put_in(sessions, late, OrderStatus.PACKING, NOW + timedelta(minutes=5))
    resolved = await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW + timedelta(minutes=6)))  # the other order is not late yet
    assert resolved.resolved == 1
    [alert] = await _alerts(sessions, kind=AlertKind.LATE_PICK.value)
    assert alert.resolved_by == "escalation sweep" and "PACKING" in (alert.resolution or "")
    assert not await _needs_attention(sessions, late)


async def test_tracking_silence_is_raised_per_status_and_clears_with_the_next_event(sessions, orders) -> None:
    order = orders[0]
    await _put_in(sessions, order, OrderStatus.SHIPPED, NOW - timedelta(hours=49))
    activities = AlertActivities(sessions, RecordOnlyOpsNotifier(), RULES)
    assert (await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW))).raised == 1

    await _put_in(sessions, order, OrderStatus.IN_TRANSIT, NOW)  # the carrier reports again
    result = await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW + timedelta(minutes=1)))
    assert (result.raised, result.resolved) == (0, 1)
    # ...and falls silent again: a new occurrence, a new alert.
    result = await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW + timedelta(hours=49)))
    assert result.raised == 1
    assert [a.resolved_at is None for a in await _alerts(sessions, kind=AlertKind.TRACKING_SILENCE.value)] == [
        False, True]


async def test_an_unanswered_case_escalates_and_an_answer_resolves_it(sessions, orders) -> None:
    async with transaction(sessions) as session:
        case = await open_case(session, kind=CaseKind.COMPLAINT, subject="parcel smells of fish", opened_by="webshop",
                               order_id=orders[1], note="customer's own words")
        case.created_at = NOW - timedelta(hours=25)
        fresh = await open_case(session, kind=CaseKind.OTHER, subject="question", opened_by="webshop")
        fresh.created_at = NOW - timedelta(hours=23)
        case_id = case.id
    activities = AlertActivities(sessions, RecordOnlyOpsNotifier(), RULES)

    assert (await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW))).raised == 1
    [alert] = await _alerts(sessions, kind=AlertKind.UNANSWERED_CASE.value)
    assert (alert.reference, alert.order_id) == (case_id, orders[1])
    assert await _needs_attention(sessions, orders[1])

    async with transaction(sessions) as session:
        await add_note(session, await get_case(session, case_id, for_update=True), "Sanne", "calling the customer")
    assert (await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW))).resolved == 1
    assert not await _needs_attention(sessions, orders[1])


async def test_a_late_supplier_is_raised_after_the_grace_period(sessions, orders) -> None:
    async with transaction(sessions) as session:
        for po_id, expected in (("po_late", date(2026, 11, 25)), ("po_within_grace", date(2026, 11, 26))):
            session.add(PurchaseOrder(id=po_id, sku="MUG-001", supplier="sandbox", quantity=10, received=0,
                                      status=PurchaseOrderStatus.CONFIRMED.value, idempotency_key=po_id,
                                      expected_date=expected))
    activities = AlertActivities(sessions, RecordOnlyOpsNotifier(), RULES)
    assert (await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW))).raised == 1
    [alert] = await _alerts(sessions, kind=AlertKind.LATE_SUPPLIER.value)
    assert alert.reference == "po_late" and alert.order_id is None and "MUG-001" in alert.message

    async with transaction(sessions) as session:
        (await session.get(PurchaseOrder, "po_late")).status = PurchaseOrderStatus.RECEIVED.value
    assert (await env.run(activities.run_escalation_sweep, EscalationSweep(now=NOW))).resolved == 1


async def test_nothing_is_due_on_time(sessions, orders) -> None:
    for order, status in zip(orders, (OrderStatus.PICKING, OrderStatus.IN_TRANSIT, OrderStatus.RESERVED)):
        await _put_in(sessions, order, status, NOW - timedelta(hours=1))
    result = await env.run(AlertActivities(sessions, RecordOnlyOpsNotifier(), RULES).run_escalation_sweep,
                           EscalationSweep(now=NOW))
    assert (result.raised, result.resolved, result.notified) == (0, 0, 0)


async def test_raise_alert_is_once_per_occurrence_even_when_retried_concurrently(sessions, orders) -> None:
    import asyncio

    activities = AlertActivities(sessions, RecordOnlyOpsNotifier(), RULES)
    request = RaiseAlertRequest(kind=AlertKind.DELIVERY_EXCEPTION, order_id=orders[2], raised_at=NOW,
                                dedupe_key=f"delivery_exception:{orders[2]}:7", message="parcel damaged in transit")
    results = await asyncio.gather(*(env.run(activities.raise_alert, request) for _ in range(4)))
    assert sorted(r.alert_id is None for r in results) == [False, True, True, True]
    assert {r.open_alerts for r in results} == {1}
    assert len(await _alerts(sessions, order_id=orders[2])) == 1


async def test_operations_mail_that_fails_stays_pending_for_the_retry(sessions, orders, smtp_server) -> None:
    inbox, port = smtp_server
    await _put_in(sessions, orders[0], OrderStatus.PICKING, NOW - timedelta(hours=3))
    down = SmtpOpsNotifier(SmtpSender(host="127.0.0.1", port=1, sender="o@shop.example", sender_name="Shop",
                                      timeout=2), "ops@shop.example")
    with pytest.raises(OSError):
        await env.run(AlertActivities(sessions, down, RULES).run_escalation_sweep, EscalationSweep(now=NOW))
    # The alert was raised (its own transaction) but not marked as sent.
    [alert] = await _alerts(sessions, kind=AlertKind.LATE_PICK.value)
    assert alert.notified_at is None

    up = SmtpOpsNotifier(SmtpSender(host="127.0.0.1", port=port, sender="o@shop.example", sender_name="Shop"),
                         "ops@shop.example")
    result = await env.run(AlertActivities(sessions, up, RULES).run_escalation_sweep, EscalationSweep(now=NOW))
    assert (result.raised, result.notified, len(inbox.mails)) == (0, 1, 1)
