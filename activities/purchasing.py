"""Purchasing activities (the supplier): plan and place purchase orders for a SKU, add new
demand to the one the supplier has not confirmed yet, record confirmations, and move the
expected date on when a supplier is late."""

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.inventory import OPEN_PO_STATUSES, purchase_order_info
from activities.ports import Supplier
from domain.enums import ErrorType, PurchaseOrderStatus
from domain.stock import (
    ConfirmRequest,
    DelayNotice,
    DelayResult,
    PlanPurchaseRequest,
    PurchaseOrderInfo,
    PurchasePlan,
)
from storage.db import transaction
from storage.idempotency import run_once
from storage.models import PreorderClaim, Product, PurchaseOrder, StockLevel

LATE_SUPPLIER_EXTRA_DAYS = 3


def purchase_order_id(idempotency_key: str) -> str:
    """Derived from the key, so a retried placement names the same purchase order."""
    return "po_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


class PurchasingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], supplier: Supplier) -> None:
        self._sessions = sessions
        self._supplier = supplier

    @activity.defn
    async def plan_purchase(self, req: PlanPurchaseRequest) -> PurchasePlan:
        """Cover every waiting pre-order and the reorder point: add to the unconfirmed purchase
        order if there is one (at most one per SKU and supplier), else place a new one for the
        shortfall plus the SKU's reorder quantity."""

        async def work(session: AsyncSession) -> PurchasePlan:
            product = await session.get(Product, req.sku)
            if product is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"unknown sku {req.sku}")
            level = await session.get(StockLevel, req.sku)
            available = (level.on_hand - level.reserved) if level else 0
            waiting = await session.scalar(select(func.coalesce(func.sum(PreorderClaim.quantity - PreorderClaim.allocated), 0))
                                           .where(PreorderClaim.sku == req.sku, PreorderClaim.status == "waiting"))
            open_pos = (await session.execute(select(PurchaseOrder).where(
                PurchaseOrder.sku == req.sku, PurchaseOrder.status.in_(OPEN_PO_STATUSES)).order_by(PurchaseOrder.created_at))).scalars().all()
            incoming = sum(po.quantity - po.received for po in open_pos)
            below_reorder_point = product.reorder_point > 0 and available + incoming - waiting < product.reorder_point
            # What should be on its way: every waiting pre-order plus one reorder quantity.
            uncovered = waiting + max(product.reorder_quantity, 0) - incoming
            unconfirmed = next((po for po in open_pos if po.status == PurchaseOrderStatus.PLACED
                                and po.supplier == product.supplier), None)
            if unconfirmed is not None:
                if uncovered <= 0:
                    return PurchasePlan(action="none", purchase_order=purchase_order_info(unconfirmed))
                unconfirmed.quantity += uncovered
                await self._supplier.amend_purchase_order(purchase_order_id=unconfirmed.id, quantity=unconfirmed.quantity)
                return PurchasePlan(action="amended", purchase_order=purchase_order_info(unconfirmed))
            # A confirmed purchase order's surplus already covers newer pre-orders; buy again
            # only for pre-orders nothing is coming for, or when stock would sink below the
            # reorder point.
            if uncovered <= 0 or not (waiting > incoming or below_reorder_point):
                return PurchasePlan(action="none")
            quantity = uncovered
            po = PurchaseOrder(id=purchase_order_id(req.idempotency_key), sku=req.sku, supplier=product.supplier,
                               quantity=quantity, received=0, status=PurchaseOrderStatus.PLACED,
                               idempotency_key=req.idempotency_key,
                               expected_date=(datetime.now(UTC) + timedelta(days=product.lead_time_days)).date())
            session.add(po)
            await session.flush()
            await self._supplier.place_purchase_order(purchase_order_id=po.id, sku=po.sku, quantity=po.quantity)
            return PurchasePlan(action="placed", purchase_order=purchase_order_info(po))

        return await run_once(self._sessions, req.idempotency_key, "purchasing.plan", PurchasePlan, work)

    @activity.defn
    async def confirm_purchase_order(self, req: ConfirmRequest) -> PurchaseOrderInfo:
        async with transaction(self._sessions) as session:
            po = await session.get(PurchaseOrder, req.purchase_order_id)
            if po is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"purchase order {req.purchase_order_id} does not exist")
            if po.status == PurchaseOrderStatus.PLACED:
                product = await session.get(Product, po.sku)
                assert product is not None
                confirmation = await self._supplier.confirm_purchase_order(
                    purchase_order_id=po.id, lead_time_days=product.lead_time_days, today=req.today)
                po.status = PurchaseOrderStatus.CONFIRMED
                po.expected_date = confirmation.expected_date
                po.confirmed_at = datetime.now(UTC)
            return purchase_order_info(po)

    @activity.defn
    async def record_supplier_delay(self, req: DelayNotice) -> DelayResult:
        """The expected date passed without (full) receipt: move it on and list the orders
        still waiting for this SKU, so each can tell its customer."""
        async with transaction(self._sessions) as session:
            po = await session.get(PurchaseOrder, req.purchase_order_id)
            if po is None:
                raise refusal(ErrorType.INVALID_REQUEST, f"purchase order {req.purchase_order_id} does not exist")
            if po.expected_date is None or po.expected_date <= req.today:
                po.expected_date = req.today + timedelta(days=LATE_SUPPLIER_EXTRA_DAYS)
            waiting = (await session.execute(select(PreorderClaim.order_id).where(
                PreorderClaim.sku == po.sku, PreorderClaim.status == "waiting").order_by(PreorderClaim.id))).scalars().all()
            return DelayResult(new_expected_date=po.expected_date, order_ids=list(waiting))
