"""Test data for returns: an order that was paid, shipped and delivered, written straight into
the database and the sandbox payment provider (its workflow is not needed for a return)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.adapters.sandbox_payments import SandboxPaymentProvider
from domain.enums import OrderStatus, PaymentMethod
from storage.db import transaction
from storage.models import Order, OrderEvent, Payment, StockLevel
from tests.factories import place_order


async def delivered_order(
    sessions: async_sessionmaker[AsyncSession], *, delivered_days_ago: float = 1, shipping_costs: str = "0.00",
    **overrides: Any,
) -> str:
    """An order COMPLETED after delivery ``delivered_days_ago`` days ago, its card captured for
    its total (plus ``shipping_costs``, which the order's total then holds above its lines)."""
    order_id = await place_order(sessions, **overrides)
    async with transaction(sessions) as session:
        order = await session.get(Order, order_id)
        assert order is not None
        order.total_amount += Decimal(shipping_costs)
        total = order.total_amount
    provider = SandboxPaymentProvider(sessions)
    p = await provider.authorize(reference=order_id, method=PaymentMethod.CARD, token="tok_visa", amount=total,
                                 idempotency_key=f"test-auth-{order_id}")
    p = await provider.capture(payment_id=p.payment_id, amount=total, idempotency_key=f"test-capture-{order_id}")
    delivered = datetime.now(UTC) - timedelta(days=delivered_days_ago)
    async with transaction(sessions) as session:
        session.add(Payment(id=p.payment_id, order_id=order_id, method=p.method, status=p.status, amount=total,
                            captured=p.captured, refunded=p.refunded))
        order = await session.get(Order, order_id)
        assert order is not None
        order.status, order.status_sequence, order.workflow_started = OrderStatus.COMPLETED, 2, True
        session.add(OrderEvent(order_id=order_id, sequence=1, status=OrderStatus.DELIVERED, occurred_at=delivered))
        session.add(OrderEvent(order_id=order_id, sequence=2, status=OrderStatus.COMPLETED,
                               occurred_at=delivered + timedelta(hours=1)))
    return order_id


async def on_hand(sessions: async_sessionmaker[AsyncSession], sku: str) -> int:
    async with sessions() as session:
        level = await session.get(StockLevel, sku)
        assert level is not None
        return level.on_hand
