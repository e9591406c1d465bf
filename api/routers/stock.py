"""Stock adjustments by operations: count corrections, breakage, goods found. Each writes a
ledger row; on-hand stock never drops below what is reserved for orders, nor below zero."""

from typing import Annotated

from fastapi import APIRouter, Body
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from api.deps import Ops, Sessions
from api.errors import ApiError
from api.examples import STOCK_ADJUSTMENT_EXAMPLE
from api.routers.orders import AUTH_RESPONSES
from api.schemas import ErrorOut, StockAdjustment, StockAdjustmentOut, StockOut
from logs import get_logger
from storage.db import transaction
from storage.models import Product, StockLevel, StockMovement

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
        movement = StockMovement(sku=body.sku, on_hand_delta=body.delta, reason="adjustment",
                                 note=f"{body.reason} (by {principal.name})"[:500])
        session.add(movement)
        await session.flush()
        on_hand, reserved = row
        movement_id = movement.id
    log.info("stock adjusted", sku=body.sku, delta=body.delta, on_hand=on_hand, reserved=reserved)
    return StockAdjustmentOut(movement_id=movement_id, sku=body.sku, delta=body.delta, reason=body.reason,
                              stock=StockOut(on_hand=on_hand, reserved=reserved, available=on_hand - reserved))
