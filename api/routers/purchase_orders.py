"""Purchase orders placed by the replenishment workflows, and goods receipt by warehouse
staff: received units go to waiting pre-orders first come, first served; the rest becomes
available. A receipt is booked once per receipt id, however often it is sent."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.adapters.temporal_replenishment import replenishment_workflow_id
from activities.inventory import purchase_order_info
from api.deps import Sessions, Temporal, WarehouseOrOps
from api.errors import ApiError
from api.routers.orders import AUTH_RESPONSES
from api.schemas import ErrorOut
from api.temporal import is_unavailable, temporal_unavailable
from domain.enums import PurchaseOrderStatus
from domain.stock import GoodsReceipt, PurchaseOrderInfo, ReceiptResult
from logs import get_logger
from storage.models import PurchaseOrder
from workflows.replenishment import ReplenishmentWorkflow

router = APIRouter(prefix="/purchase-orders", tags=["purchasing"])
log = get_logger(__name__)


class ReceiptBody(BaseModel):
    quantity: int = Field(gt=0, le=1_000_000, description="Units received in this delivery")
    receipt_id: str | None = Field(default=None, min_length=1, max_length=128,
                                   description="The delivery's own id (e.g. the packing note number); a receipt "
                                               "with an id already booked is not booked again. Or send Idempotency-Key.")


class PurchaseOrderPage(BaseModel):
    items: list[PurchaseOrderInfo]


@router.get("", response_model=PurchaseOrderPage, responses=AUTH_RESPONSES, summary="List purchase orders")
async def list_purchase_orders(
    principal: WarehouseOrOps, sessions: Sessions,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    status: PurchaseOrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PurchaseOrderPage:
    """Newest first, with status (placed = not yet confirmed by the supplier, confirmed,
    partially_received, received) and the expected date. Roles: warehouse, ops."""
    query = select(PurchaseOrder)
    if sku:
        query = query.where(PurchaseOrder.sku == sku)
    if status:
        query = query.where(PurchaseOrder.status == status)
    async with sessions() as session:
        rows = (await session.execute(query.order_by(PurchaseOrder.created_at.desc()).limit(limit))).scalars().all()
    return PurchaseOrderPage(items=[purchase_order_info(po) for po in rows])


async def _purchase_order(sessions: Sessions, purchase_order_id: str) -> PurchaseOrder:
    async with sessions() as session:
        po = await session.get(PurchaseOrder, purchase_order_id[:40])
    if po is None:
        raise ApiError(404, f"no purchase order {purchase_order_id[:64]!r}; see GET /purchase-orders")
    return po


@router.get("/{purchase_order_id}", response_model=PurchaseOrderInfo, summary="Get a purchase order",
            responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "Unknown purchase order"}})
async def get_purchase_order(purchase_order_id: str, principal: WarehouseOrOps, sessions: Sessions) -> PurchaseOrderInfo:
    """Roles: warehouse, ops."""
    return purchase_order_info(await _purchase_order(sessions, purchase_order_id))


@router.post("/{purchase_order_id}/receipt", response_model=ReceiptResult, summary="Book a goods receipt",
             responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "Unknown purchase order"},
                        409: {"model": ErrorOut, "description": "More than is still to come"},
                        422: {"model": ErrorOut, "description": "No receipt id"}})
async def receive(
    purchase_order_id: str, principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
    body: Annotated[ReceiptBody, Body(openapi_examples={
        "delivery": {"summary": "A delivery", "value": {"quantity": 10, "receipt_id": "PAKBON-2026-0042"}}})],
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> ReceiptResult:
    """Body: `{"quantity": n, "receipt_id": "..."}` (partial receipts allowed). Books the units
    into stock, reserves them for waiting pre-orders in order of arrival (each of which then
    continues to picking), and answers with the allocations. The same receipt id (or
    Idempotency-Key) answers the first booking again. Roles: warehouse, ops."""
    receipt_id = body.receipt_id or idempotency_key
    if not receipt_id:
        raise ApiError(422, "give the delivery a receipt_id in the body (or an Idempotency-Key header), so that "
                            "sending it twice does not book it twice")
    po = await _purchase_order(sessions, purchase_order_id)
    receipt = GoodsReceipt(purchase_order_id=po.id, quantity=body.quantity, receipt_id=f"{po.id}:{receipt_id}",
                           received_by=principal.name, actor=principal.actor())
    handle = temporal.get_workflow_handle_for(ReplenishmentWorkflow.run, replenishment_workflow_id(po.sku))
    try:
        result = await handle.execute_update(ReplenishmentWorkflow.receive_goods, receipt)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.__cause__
        if isinstance(cause, ApplicationError) and cause.type == "InvalidRequest":
            raise ApiError(409, cause.message) from exc
        raise
    except RPCError as exc:
        if is_unavailable(exc):
            raise temporal_unavailable("received") from exc
        raise
    log.info("goods received", purchase_order_id=po.id, quantity=body.quantity,
             allocations=len(result.allocations))
    return result
