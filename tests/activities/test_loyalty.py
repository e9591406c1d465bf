"""Loyalty codes Orderflow issues by itself from the status activity: after good feedback, to
make up for a low rating or a late delivery; once per order and kind, however often (and
however concurrently) the activity runs, and told to the customer once."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_outbound import SandboxNotifier, SandboxPim
from activities.order_status import OrderStatusActivities
from domain.enums import NotificationChannel, OrderStatus
from domain.loyalty import LoyaltyRules
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import FeedbackInput, StatusChange
from storage.db import transaction
from storage.models import CustomerMessage, DiscountCode, OrderEvent, Shipment
from tests.factories import place_order, seed

env = ActivityEnvironment()
RULES = LoyaltyRules(thanks_min_rating=4, thanks_percent=Decimal("10"), make_up_amount=Decimal("7.50"),
                     valid_days=60, late_delivery_grace=timedelta(hours=12))
SHIPPED_AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _activities(sessions, rules: LoyaltyRules | None = RULES) -> OrderStatusActivities:
    notifier = SandboxNotifier(sessions)
    return OrderStatusActivities(sessions, SandboxPim(sessions), {c: notifier for c in NotificationChannel},
                                 CUSTOMER_STATUSES_DEFAULT, feedback_link=lambda o: f"https://x.example/feedback/{o}",
                                 loyalty=rules)


async def _shipped(sessions, reference: str, transit_days: int = 2) -> str:
    order_id = await place_order(sessions, external_reference=reference)
    async with transaction(sessions) as session:
        session.add(OrderEvent(order_id=order_id, sequence=5, status=OrderStatus.SHIPPED, occurred_at=SHIPPED_AT))
        session.add(Shipment(id=f"shp_{reference}", order_id=order_id, carrier="postnl", service="standard",
                             tracking_number=f"3S{reference}", status="SHIPPED", price=Decimal("4.95"),
                             transit_days=transit_days, choice_reason="cheapest"))
    return order_id


def _delivered(order_id: str, at: datetime) -> StatusChange:
    return StatusChange(order_id=order_id, sequence=7, status=OrderStatus.DELIVERED, occurred_at=at,
                        tracking_number=None)


async def _codes(sessions, order_id: str) -> list[DiscountCode]:
    async with sessions() as session:
        return list((await session.execute(select(DiscountCode).where(DiscountCode.order_id == order_id))).scalars())


async def _messages(sessions, order_id: str, sequence: int) -> list[CustomerMessage]:
    async with sessions() as session:
        return list((await session.execute(select(CustomerMessage).where(
            CustomerMessage.order_id == order_id, CustomerMessage.sequence == sequence))).scalars())


async def test_a_late_delivery_earns_one_make_up_code_however_often_the_activity_runs(sessions) -> None:
    await seed(sessions)
    late = await _shipped(sessions, "LATE-1")
    acts = _activities(sessions)
    change = _delivered(late, SHIPPED_AT + timedelta(days=2, hours=13))  # promised 2 days, 12 h grace
    await asyncio.gather(*(env.run(acts.publish_status_change, change) for _ in range(3)))
    await env.run(acts.publish_status_change, change)  # a later retry

    [code] = await _codes(sessions, late)
    assert (code.kind, code.value, code.max_uses, code.uses) == ("fixed", Decimal("7.50"), 1, 0)
    assert code.code.startswith("SORRY-") and code.issued_by == "orderflow (late delivery)"
    assert code.expires_at == change.occurred_at + timedelta(days=60)
    told = await _messages(sessions, late, -2)
    assert sorted(m.channel for m in told) == ["email", "sms"]  # once per channel
    assert code.code in told[0].body and "EUR 7.50" in told[0].body and "te late levering" in told[0].body

    on_time = await _shipped(sessions, "ONTIME-1")
    await env.run(acts.publish_status_change, _delivered(on_time, SHIPPED_AT + timedelta(days=2, hours=11)))
    assert await _codes(sessions, on_time) == [] and await _messages(sessions, on_time, -2) == []


async def test_feedback_earns_a_thank_you_or_a_make_up_code_and_a_middle_rating_none(sessions) -> None:
    await seed(sessions)
    acts = _activities(sessions)
    earned = {}
    for rating in (5, 4, 3, 2):
        order_id = await _shipped(sessions, f"FB-{rating}")
        change = StatusChange(order_id=order_id, sequence=9, status=OrderStatus.COMPLETED,
                              occurred_at=SHIPPED_AT + timedelta(days=5), feedback=FeedbackInput(rating=rating))
        await env.run(acts.publish_status_change, change)
        await env.run(acts.publish_status_change, change)
        earned[rating] = [(c.kind, c.value, c.code.split("-")[0]) for c in await _codes(sessions, order_id)]
    assert earned == {5: [("percentage", Decimal("10.00"), "THANKS")], 4: [("percentage", Decimal("10.00"), "THANKS")],
                      3: [], 2: [("fixed", Decimal("7.50"), "SORRY")]}


async def test_a_late_delivery_then_a_low_rating_make_up_once(sessions) -> None:
    await seed(sessions)
    acts = _activities(sessions)
    order_id = await _shipped(sessions, "LATE-LOW")
    await env.run(acts.publish_status_change, _delivered(order_id, SHIPPED_AT + timedelta(days=9)))
    await env.run(acts.publish_status_change, StatusChange(
        order_id=order_id, sequence=9, status=OrderStatus.COMPLETED, occurred_at=SHIPPED_AT + timedelta(days=10),
        feedback=FeedbackInput(rating=1)))
    assert len(await _codes(sessions, order_id)) == 1
    assert len(await _messages(sessions, order_id, -2)) == 2  # e-mail and SMS, once


async def test_no_codes_when_loyalty_is_off_or_the_customer_was_erased(sessions) -> None:
    await seed(sessions)
    order_id = await _shipped(sessions, "OFF-1")
    await env.run(_activities(sessions, None).publish_status_change,
                  _delivered(order_id, SHIPPED_AT + timedelta(days=9)))
    erased = await _shipped(sessions, "ERASED-1")
    async with transaction(sessions) as session:
        from storage.models import Customer, Order

        order = await session.get(Order, erased)
        customer = await session.get(Customer, order.customer_id)
        customer.erased_at = datetime.now(UTC)
    await env.run(_activities(sessions).publish_status_change, _delivered(erased, SHIPPED_AT + timedelta(days=9)))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DiscountCode)) == 0
