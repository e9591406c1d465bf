"""Warehouse staff's pick lists, line-by-line pick confirmation with scans, and an order's
packing plan. The last line picked confirms the order's pick in its workflow (the same update
as ``POST /orders/{id}/pick``)."""

from datetime import UTC, datetime
from typing import Annotated, Any

import re

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import OrderReader, Sessions, SettingsDep, Temporal, WarehouseOrOps, load_order
from api.errors import ApiError
from api.schemas import ORDER_ID_PATTERN
from api.temporal import ensure_started, send_update
from domain.accountability import StaffActionKind
from domain.models import StepConfirmation
from storage.db import transaction
from storage.models import BinStock, PackingPlanRecord, PickList, PickListLine, Product, WarehouseLocation, utcnow
from storage.staff_actions import action_row, record_action
from workflows.order import OrderWorkflow

router = APIRouter(tags=["warehouse"])

_PICK_LIST_ID = re.compile(r"^pl_[0-9a-f]{16}$")
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class PickStepOut(BaseModel):
    step: int
    location: str = Field(description="zone-aisle-rack-shelf-bin")
    zone: str
    aisle: int
    rack: int
    shelf: int
    sku: str
    ean: str | None
    name: str
    quantity: int
    picked: int
    done: bool


class PickListOut(BaseModel):
    id: str
    order_id: str
    status: str = Field(description="open or picked")
    route_length_m: str = Field(description="walk from the depot via every bin to the pack station")
    s_shape_length_m: str = Field(description="the same picks walked by the S-shape rule, for comparison")
    route_exact: bool = Field(description="true when the route is proven shortest")
    created_at: datetime
    steps: list[PickStepOut] | None = None


class PickConfirmBody(BaseModel):
    scanned: str = Field(description="the SKU or EAN scanned off the item", min_length=1, max_length=64, pattern=PRINTABLE)
    location: str = Field(description="the bin's code, scanned off the shelf label", min_length=1, max_length=32,
                          pattern=PRINTABLE)
    quantity: int = Field(gt=0, le=10_000)
    picked_by: str | None = Field(default=None, max_length=100, pattern=PRINTABLE)


class PickConfirmOut(BaseModel):
    pick_list_id: str
    step: int
    picked: int
    quantity: int
    pick_list_status: str
    order_status: str | None = Field(default=None, description="set when this pick completed the list")


def _summary(pl: PickList) -> dict[str, Any]:
    return {"id": pl.id, "order_id": pl.order_id, "status": pl.status, "route_length_m": str(pl.route_length_m),
            "s_shape_length_m": str(pl.s_shape_length_m), "route_exact": pl.route_exact, "created_at": pl.created_at}


@router.get("/warehouse/pick-lists", response_model=list[PickListOut], summary="Open pick lists")
async def open_pick_lists(_: WarehouseOrOps, sessions: Sessions,
                          order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN)] = None) -> list[dict[str, Any]]:
    """The pick lists not yet fully picked, oldest first; `?order_id=` for one order's.
    Roles: warehouse, ops."""
    query = select(PickList).where(PickList.status == "open").order_by(PickList.created_at)
    if order_id:
        query = query.where(PickList.order_id == order_id)
    async with sessions() as session:
        return [_summary(pl) for pl in (await session.execute(query)).scalars()]


async def _pick_list(session: Any, pick_list_id: str, *, lock: bool = False) -> PickList:
    # Locked when confirming: two scanners confirming the same step at once would both see
    # it unpicked (PostgreSQL; SQLite's write transaction already serialises them).
    pl = await session.get(PickList, pick_list_id, with_for_update=lock) if _PICK_LIST_ID.match(pick_list_id) else None
    if pl is None:
        raise ApiError(404, f"no pick list {pick_list_id[:40]!r}; GET /warehouse/pick-lists lists the open ones")
    return pl


@router.get("/warehouse/pick-lists/{pick_list_id}", response_model=PickListOut, summary="One pick list, step by step")
async def pick_list(pick_list_id: str, _: WarehouseOrOps, sessions: Sessions) -> dict[str, Any]:
    """The steps in walking order: where to go, what to take, how many. Roles: warehouse, ops."""
    async with sessions() as session:
        pl = await _pick_list(session, pick_list_id)
        steps = []
        for line in pl.lines:
            loc = await session.get(WarehouseLocation, line.location_code)
            product = await session.get(Product, line.sku)
            steps.append(PickStepOut(step=line.step, location=loc.code, zone=loc.zone, aisle=loc.aisle, rack=loc.rack,
                                     shelf=loc.shelf, sku=line.sku, ean=product.ean, name=product.name,
                                     quantity=line.quantity, picked=line.picked, done=line.picked >= line.quantity))
        return {**_summary(pl), "steps": steps}


@router.post("/warehouse/pick-lists/{pick_list_id}/steps/{step}/confirm", response_model=PickConfirmOut,
             summary="Confirm one pick with the scanned item and bin")
async def confirm_pick(pick_list_id: str, step: Annotated[int, Path(ge=1, le=100_000)], body: PickConfirmBody, principal: WarehouseOrOps,
                       sessions: Sessions, temporal: Temporal, settings: SettingsDep) -> PickConfirmOut:
    """Checks the scanned SKU or EAN and bin against the step: a different item answers 422, a
    different bin 409, more than is left to pick 422. When the last step is picked the order's
    pick is confirmed in its workflow. Roles: warehouse, ops."""
    actor = principal.actor(body.picked_by)
    async with transaction(sessions) as session:
        pl = await _pick_list(session, pick_list_id, lock=True)
        line = next((ln for ln in pl.lines if ln.step == step), None)
        if line is None:
            raise ApiError(404, f"pick list {pl.id} has no step {step}; it has steps 1 to {len(pl.lines)}")
        product = await session.get(Product, line.sku)
        if body.scanned not in {line.sku, product.ean}:
            raise ApiError(422, f"scanned {body.scanned!r}, but step {step} is {line.sku} ({product.name}"
                                f"{', EAN ' + product.ean if product.ean else ''}); put it back and take {line.sku} "
                                f"from {line.location_code}")
        if body.location != line.location_code:
            raise ApiError(409, f"step {step} takes {line.sku} from bin {line.location_code}, not {body.location}; "
                                f"take it from {line.location_code}")
        left = line.quantity - line.picked
        if body.quantity > left:
            raise ApiError(422, f"step {step} has {left} of {line.sku} left to pick, not {body.quantity}; "
                                "confirm the number you took, at most what is left")
        stock = await session.get(BinStock, line.bin_stock_id)
        # The units leave the bin (and its allocation); they stay on hand until handover.
        stock.quantity -= body.quantity
        stock.allocated -= body.quantity
        line.picked += body.quantity
        line.picked_by = body.picked_by or principal.name
        line.picked_at = datetime.now(UTC)
        session.add(action_row(StaffActionKind.PICK_STEP, actor, order_id=pl.order_id, sku=line.sku, detail=(
            f"pick list {pl.id} step {step}: {body.quantity} x {line.sku} from {line.location_code}")))
        if all(ln.picked >= ln.quantity for ln in pl.lines):
            pl.status = "picked"
            pl.picked_at = datetime.now(UTC)
        result = PickConfirmOut(pick_list_id=pl.id, step=step, picked=line.picked, quantity=line.quantity,
                                pick_list_status=pl.status)
    if result.pick_list_status == "picked" and line.picked == line.quantity and body.quantity > 0:
        order = await load_order(sessions, principal, pl.order_id)
        await ensure_started(temporal, settings, sessions, order)
        sent_at = utcnow()
        step_result = await send_update(temporal, sessions, order, OrderWorkflow.confirm_picked,
                                        StepConfirmation(confirmed_by=actor.label()))
        if step_result.accepted:
            await record_action(sessions, StaffActionKind.PICK, actor, sent_at=sent_at, order_id=order.id,
                                detail=f"the last step of pick list {pl.id}")
        result.order_status = step_result.status
    return result


@router.get("/orders/{order_id}/packing-plan", summary="How the order is packed")
async def packing_plan(order_id: str, principal: OrderReader, sessions: Sessions) -> dict[str, Any]:
    """Containers, and where each item stands in them (mm from the container's inner corner,
    padding for bubble wrap included), with the instructions for the packer. 404 until the
    order is picked. Roles: channel (own orders), warehouse, ops."""
    order = await load_order(sessions, principal, order_id)
    async with sessions() as session:
        record = await session.get(PackingPlanRecord, order.id)
    if record is None:
        raise ApiError(404, f"order {order.id} has no packing plan yet: it is planned once the order is picked "
                            f"(the order is {order.status})")
    return {"order_id": order.id, **record.plan}


