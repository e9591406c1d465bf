"""Activities against the sandbox systems and the database: a repeated idempotency key —
sequential or concurrent — acts once and returns the original result."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.adapters.sandbox_outbound import SandboxNotifier, SandboxPim
from activities.adapters.sandbox_payments import SandboxPaymentProvider
from activities.inventory import InventoryActivities
from activities.order_status import OrderStatusActivities
from activities.payments import PaymentActivities
from activities.shipping import ShippingActivities
from domain.enums import NotificationChannel, OrderStatus, PaymentStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import PaymentRequest, ShipmentRequest, StatusChange, StatusChanges, StockRequest
from storage.models import (
    CustomerMessage,
    Order,
    OrderEvent,
    PimUpdate,
    SandboxCarrierBooking,
    SandboxPaymentIntent,
    StockLevel,
    StockMovement,
)
from tests.factories import place_order, seed

env = ActivityEnvironment()
BERLIN = {"country": "DE", "street": "Unter den Linden", "house_number": "5", "postcode": "10117", "city": "Berlin"}


async def _count(sessions, model, *where) -> int:
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def twice_concurrently(fn, arg):
    return await asyncio.gather(env.run(fn, arg), env.run(fn, arg))


async def test_authorize_twice_concurrently_charges_once(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    acts = PaymentActivities(sessions, SandboxPaymentProvider(sessions))
    req = PaymentRequest(order_id=order_id, idempotency_key=f"order-{order_id}:authorize")
    a, b = await twice_concurrently(acts.authorize_payment, req)
    assert a == b
    assert a.status == PaymentStatus.AUTHORIZED
    assert await _count(sessions, SandboxPaymentIntent) == 1
    again = await env.run(acts.authorize_payment, req)
    assert again == a


async def test_capture_never_exceeds_the_authorization(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    provider = SandboxPaymentProvider(sessions)
    acts = PaymentActivities(sessions, provider)
    auth = await env.run(acts.authorize_payment, PaymentRequest(order_id=order_id, idempotency_key="k:auth"))
    c1, c2 = await twice_concurrently(acts.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="k:cap"))
    assert c1 == c2
    assert c1.captured == auth.amount
    with pytest.raises(Exception, match="only an authorization can be captured"):
        await provider.capture(payment_id=auth.payment_id, amount=auth.amount, idempotency_key="another")
    async with sessions() as s:
        intent = await s.get(SandboxPaymentIntent, auth.payment_id)
        assert intent.captured == intent.authorized


async def test_declined_token_is_a_non_retryable_refusal(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, payment={"method": "card", "token": "tok_chargeDeclined"})
    acts = PaymentActivities(sessions, SandboxPaymentProvider(sessions))
    with pytest.raises(ApplicationError) as err:
        await env.run(acts.authorize_payment, PaymentRequest(order_id=order_id, idempotency_key="k"))
    assert (err.value.type, err.value.non_retryable, err.value.message) == ("PaymentDeclined", True, "card declined")


async def test_ideal_is_refunded_on_cancel(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, payment={"method": "ideal", "token": "tok_ideal"})
    acts = PaymentActivities(sessions, SandboxPaymentProvider(sessions))
    paid = await env.run(acts.authorize_payment, PaymentRequest(order_id=order_id, idempotency_key="k:a"))
    assert paid.status == PaymentStatus.CAPTURED and paid.captured == paid.amount
    r1, r2 = await twice_concurrently(acts.cancel_payment, PaymentRequest(order_id=order_id, idempotency_key="k:c"))
    assert r1 == r2
    assert r1.status == PaymentStatus.REFUNDED and r1.refunded == paid.amount


async def test_reserve_twice_concurrently_reserves_once(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    acts = InventoryActivities(sessions)
    req = StockRequest(order_id=order_id, idempotency_key=f"order-{order_id}:reserve")
    a, b = await twice_concurrently(acts.reserve_stock, req)
    assert a == b
    async with sessions() as s:
        assert (await s.get(StockLevel, "MUG-001")).reserved == 2
        assert (await s.get(StockLevel, "BOOK-042")).reserved == 1
    rel1, rel2 = await twice_concurrently(acts.release_stock, StockRequest(order_id=order_id, idempotency_key="rel"))
    assert rel1 == rel2
    async with sessions() as s:
        assert (await s.get(StockLevel, "MUG-001")).reserved == 0
        # the ledger sums to the stock figures
        reserved = await s.scalar(select(func.sum(StockMovement.reserved_delta)).where(StockMovement.sku == "MUG-001"))
        on_hand = await s.scalar(select(func.sum(StockMovement.on_hand_delta)).where(StockMovement.sku == "MUG-001"))
        level = await s.get(StockLevel, "MUG-001")
        assert (on_hand, reserved) == (level.on_hand, level.reserved)


async def test_reserve_refuses_when_short_and_holds_nothing(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, lines=[{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 1}])
    with pytest.raises(ApplicationError) as err:
        await env.run(InventoryActivities(sessions).reserve_stock, StockRequest(order_id=order_id, idempotency_key="k"))
    assert (err.value.type, err.value.non_retryable) == ("OutOfStock", True)
    async with sessions() as s:
        assert (await s.get(StockLevel, "MUG-001")).reserved == 0


async def test_book_shipment_twice_concurrently_books_once(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, shipping={"preference": "fastest"}, shipping_address=BERLIN)
    acts = ShippingActivities(sessions, SandboxCarrierGateway(sessions))
    a, b = await twice_concurrently(acts.book_shipment, ShipmentRequest(order_id=order_id, idempotency_key="k:book"))
    assert a == b
    assert (a.carrier, a.service) == ("dhl", "express")
    assert a.tracking_number.startswith("JD")
    assert await _count(sessions, SandboxCarrierBooking) == 1


@pytest.mark.parametrize("shipping, carrier", [
    ({"preference": "cheapest"}, ("postnl", "standard")),  # 9.50, 3 days
    ({"preference": "fastest"}, ("dhl", "express")),  # 24.00, 1 day
    ({"preference": "named", "carrier": "dpd"}, ("dpd", "classic")),
])
async def test_carrier_choice_follows_the_preference(sessions, shipping, carrier) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, shipping=shipping, shipping_address=BERLIN)
    info = await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).book_shipment,
                         ShipmentRequest(order_id=order_id, idempotency_key="k"))
    assert (info.carrier, info.service) == carrier
    assert info.choice_reason


async def test_a_refusing_carrier_falls_back_to_the_next(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, shipping={"preference": "named", "carrier": "dpd"})
    gateway = SandboxCarrierGateway(sessions, refuse_carriers=frozenset({"dpd"}))
    info = await env.run(ShippingActivities(sessions, gateway).book_shipment, ShipmentRequest(order_id=order_id, idempotency_key="k"))
    assert info.carrier == "postnl"
    assert info.choice_reason.startswith("dpd refused the booking")


async def test_a_garden_bench_goes_by_pallet_freight(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, lines=[{"sku": "BENCH-500", "quantity": 1}])
    info = await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).book_shipment,
                         ShipmentRequest(order_id=order_id, idempotency_key="k"))
    assert (info.carrier, info.service) == ("freight", "pallet")


def _status_activities(sessions) -> OrderStatusActivities:
    notifier = SandboxNotifier(sessions)
    return OrderStatusActivities(sessions, SandboxPim(sessions), {c: notifier for c in NotificationChannel},
                                 CUSTOMER_STATUSES_DEFAULT)


async def test_status_change_published_twice_concurrently_tells_everyone_once(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    change = StatusChange(order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED,
                          occurred_at=datetime.now(UTC), reason="paid")
    a, b = await twice_concurrently(_status_activities(sessions).publish_status_change, change)
    assert sorted(a.messages) == sorted(b.messages) == ["email", "sms"]
    assert await _count(sessions, PimUpdate, PimUpdate.order_id == order_id) == 1
    assert await _count(sessions, CustomerMessage, CustomerMessage.order_id == order_id) == 2
    assert await _count(sessions, OrderEvent, OrderEvent.order_id == order_id) == 1


async def test_changes_published_together_are_each_told_once_in_sequence_order(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    now = datetime.now(UTC)
    batch = StatusChanges(changes=[  # given out of order: published in sequence order
        StatusChange(order_id=order_id, sequence=3, status=OrderStatus.PICKING, occurred_at=now),
        StatusChange(order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED, occurred_at=now),
        StatusChange(order_id=order_id, sequence=2, status=OrderStatus.RESERVED, occurred_at=now)])
    acts = _status_activities(sessions)
    first = await env.run(acts.publish_status_changes, batch)
    again = await env.run(acts.publish_status_changes, batch)  # a retry of the whole activity
    assert [r.applied_to_read_model for r in first] == [True, True, True]
    assert [r.applied_to_read_model for r in again] == [False, False, False]
    async with sessions() as s:
        order = await s.get(Order, order_id)
        assert (order.status, order.status_sequence) == ("PICKING", 3)
        events = (await s.execute(select(OrderEvent.sequence, OrderEvent.status)
                                  .where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))).all()
        assert [tuple(e) for e in events] == [(1, "PAYMENT_AUTHORIZED"), (2, "RESERVED"), (3, "PICKING")]
        pim = (await s.execute(select(PimUpdate.sequence).where(PimUpdate.order_id == order_id)
                               .order_by(PimUpdate.sequence))).scalars().all()
        assert pim == [1, 2, 3]
    # Only PAYMENT_AUTHORIZED of these is a customer status by default: e-mail and SMS, once.
    assert await _count(sessions, CustomerMessage, CustomerMessage.order_id == order_id) == 2


async def test_a_late_retry_never_moves_the_read_model_back(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions)
    acts = _status_activities(sessions)
    now = datetime.now(UTC)
    await env.run(acts.publish_status_change, StatusChange(order_id=order_id, sequence=2, status=OrderStatus.RESERVED, occurred_at=now))
    late = await env.run(acts.publish_status_change,
                         StatusChange(order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED, occurred_at=now))
    assert late.applied_to_read_model is False
    async with sessions() as s:
        order = await s.get(Order, order_id)
        assert (order.status, order.status_sequence) == ("RESERVED", 2)
        assert await _count(sessions, OrderEvent, OrderEvent.order_id == order_id) == 2
