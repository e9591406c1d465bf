"""Stock: each SKU's figures with what is on its way, its ledger, and adjustments by
operations (count corrections, breakage, goods found). Each change writes a ledger row; on-hand
stock never drops below what is reserved for orders, nor below zero."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from activities.inventory import OPEN_PO_STATUSES
from api.deps import AnyRole, Ops, Sessions, WarehouseOrOps
from api.errors import ApiError
from api.examples import STOCK_ADJUSTMENT_EXAMPLE
from api.routers.orders import AUTH_RESPONSES
from api.schemas import ErrorOut, StockAdjustment, StockAdjustmentOut, StockOut
from logs import get_logger
from storage.db import transaction
from domain.accountability import StaffActionKind
from domain.enums import PurchaseOrderStatus
from storage.staff_actions import action_row
from storage.models import PreorderClaim, Product, PurchaseOrder, StockLevel, StockMovement

router = APIRouter(prefix="/stock", tags=["stock"])
log = get_logger(__name__)

MAX_ON_HAND = 1_000_000_000  # far below the integer column's limit


@router.post("/adjustments", status_code=201, response_model=StockAdjustmentOut, summary="Adjust stock on hand",
             responses={**AUTH_RESPONSES,
                        404: {"model": ErrorOut, "description": "Unknown sku"},
                        409: {"model": ErrorOut, "description": "On hand would drop below reserved or zero"}})
async def adjust(
    body: Annotated[StockAdjustment, Body(openapi_examples={
        "broken": {"summary": "Two broken", "value": STOCK_ADJUSTMENT_EXAMPLE},
        "found": {"summary": "Found on a wrong shelf", "value": {"sku": "LAMP-200", "delta": 3, "reason": "recount"}},
    })],
    principal: Ops,
    sessions: Sessions,
) -> StockAdjustmentOut:
    """Body: `{"sku": "MUG-001", "delta": -2, "reason": "..."}`: `delta` units are added to
    (positive) or removed from (negative) on-hand stock, and a ledger row records it with the
    reason and the key's name. 409 when on hand would drop below the units reserved for orders
    or below zero. Roles: ops."""
    new_on_hand = StockLevel.on_hand + body.delta
    async with transaction(sessions) as session:
        if await session.scalar(select(Product.sku).where(Product.sku == body.sku)) is None:
            raise ApiError(404, f"no product with sku {body.sku!r}; create it first with PUT /products/{body.sku}")
        if await session.scalar(select(StockLevel.sku).where(StockLevel.sku == body.sku)) is None:
            try:
                async with session.begin_nested():
                    session.add(StockLevel(sku=body.sku, on_hand=0, reserved=0))
            except IntegrityError:
                pass  # a concurrent adjustment created it
        # Conditional: the database decides, so a reservation racing this cannot be undercut.
        row = (await session.execute(
            update(StockLevel)
            .where(StockLevel.sku == body.sku, new_on_hand >= StockLevel.reserved, new_on_hand >= 0,
                   new_on_hand <= MAX_ON_HAND)
            .values(on_hand=new_on_hand)
            .returning(StockLevel.on_hand, StockLevel.reserved)
        )).one_or_none()
        if row is None:
            on_hand, reserved = (await session.execute(
                select(StockLevel.on_hand, StockLevel.reserved).where(StockLevel.sku == body.sku))).one()
            if on_hand + body.delta > MAX_ON_HAND:
                raise ApiError(409, f"{body.sku}: on hand would exceed {MAX_ON_HAND} units; check the delta")
            raise ApiError(409, f"cannot remove {-body.delta} of {body.sku}: {on_hand} on hand, {reserved} reserved "
                                f"for orders; on hand may not drop below the reserved units (or below 0), so at "
                                f"most {on_hand - reserved} can be removed now")
        actor = principal.actor()
        movement = StockMovement(sku=body.sku, on_hand_delta=body.delta, reason="adjustment",
                                 note=f"{body.reason} (by {principal.name})"[:500],
                                 actor=actor.key_name, actor_role=actor.role)
        session.add(movement)
        session.add(action_row(StaffActionKind.STOCK_ADJUSTMENT, actor, sku=body.sku,
                               detail=f"{body.delta:+d} x {body.sku} on hand"))
        await session.flush()
        on_hand, reserved = row
        movement_id = movement.id
    log.info("stock adjusted", sku=body.sku, delta=body.delta, on_hand=on_hand, reserved=reserved)
    return StockAdjustmentOut(movement_id=movement_id, sku=body.sku, delta=body.delta, reason=body.reason,
                              stock=StockOut(on_hand=on_hand, reserved=reserved, available=on_hand - reserved))


class IncomingOut(BaseModel):
    purchase_order_id: str
    quantity: int = Field(description="Units still to come on this purchase order")
    expected_date: date | None
    status: PurchaseOrderStatus


class StockLevelOut(StockOut):
    sku: str
    incoming: list[IncomingOut] = Field(description="Open purchase orders, earliest expected first")
    waiting_preorders: int = Field(description="Units pre-ordered by customers and not yet received")


class MovementOut(BaseModel):
    id: int
    on_hand_delta: int
    reserved_delta: int
    reason: str
    order_id: str | None
    purchase_order_id: str | None
    note: str | None
    actor: str | None = Field(description="The name of the API key that booked it (adjustment, goods receipt, "
                                          "return inspection); null for what Orderflow did by itself")
    actor_role: str | None
    created_at: datetime


class MovementPage(BaseModel):
    items: list[MovementOut]
    next_cursor: int | None = Field(description="Pass as `after` for the next page; null at the end")


async def _level(session: AsyncSession, sku: str) -> StockLevel:
    level = await session.get(StockLevel, sku)
    if level is None:
        raise ApiError(404, f"no stock record for sku {sku!r}; check the sku with GET /products")
    return level


@router.get("/{sku}", response_model=StockLevelOut, summary="Stock of one SKU",
            responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "Unknown sku"}})
async def stock_level(sku: str, principal: AnyRole, sessions: Sessions) -> StockLevelOut:
    """On hand, reserved for orders, available, what is on its way from suppliers (with the
    expected dates) and what customers have pre-ordered. Roles: any."""
    async with sessions() as session:
        level = await _level(session, sku)
        pos = (await session.execute(select(PurchaseOrder).where(
            PurchaseOrder.sku == sku, PurchaseOrder.status.in_(OPEN_PO_STATUSES))
            .order_by(PurchaseOrder.expected_date, PurchaseOrder.created_at))).scalars().all()
        waiting = await session.scalar(select(func.coalesce(func.sum(PreorderClaim.quantity - PreorderClaim.allocated), 0))
                                       .where(PreorderClaim.sku == sku, PreorderClaim.status == "waiting"))
    return StockLevelOut(
        sku=sku, on_hand=level.on_hand, reserved=level.reserved, available=level.on_hand - level.reserved,
        incoming=[IncomingOut(purchase_order_id=po.id, quantity=po.quantity - po.received, expected_date=po.expected_date,
                              status=PurchaseOrderStatus(po.status)) for po in pos],
        waiting_preorders=waiting)


@router.get("/{sku}/movements", response_model=MovementPage, summary="The stock ledger of one SKU",
            responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "Unknown sku"}})
async def movements(
    sku: str, principal: WarehouseOrOps, sessions: Sessions,
    after: Annotated[int | None, Query(ge=0, description="Cursor: the last movement id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MovementPage:
    """Every change of on-hand or reserved stock, oldest first, with its reason and the order
    or purchase order it belongs to. The deltas sum to the stock figures. Roles: warehouse, ops."""
    async with sessions() as session:
        await _level(session, sku)
        query = select(StockMovement).where(StockMovement.sku == sku)
        if after is not None:
            query = query.where(StockMovement.id > after)
        rows = (await session.execute(query.order_by(StockMovement.id).limit(limit + 1))).scalars().all()
    page = rows[:limit]
    return MovementPage(
        items=[MovementOut(id=m.id, on_hand_delta=m.on_hand_delta, reserved_delta=m.reserved_delta, reason=m.reason,
                           order_id=m.order_id, purchase_order_id=m.purchase_order_id, note=m.note,
                           actor=m.actor, actor_role=m.actor_role, created_at=m.created_at) for m in page],
        next_cursor=page[-1].id if len(rows) > limit else None)
