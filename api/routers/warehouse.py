"""Warehouse staff's pick lists, line-by-line pick confirmation with scans, and an order's
packing plan. The last line picked confirms the order's pick in its workflow (the same update
as ``POST /orders/{id}/pick``)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import re

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.alerts import signal_attention
from activities.inventory import short_line
from api.deps import OrderReader, Sessions, SettingsDep, Temporal, WarehouseOrOps, load_order
from api.errors import ApiError
from api.schemas import ORDER_ID_PATTERN
from api.temporal import ensure_started, send_update
from domain.accountability import Actor, StaffActionKind
from domain.models import StepConfirmation, StepResult
from domain.stock import ShortPickReport
from logs import get_logger
from storage.db import transaction
from storage.models import BinStock, Order, PackingPlanRecord, PickList, PickListLine, Product, WarehouseLocation, utcnow
from storage.staff_actions import action_row, record_action
from storage.warehouse import (
    SHORT_PICK,
    BinCorrection,
    StockConflict,
    correct_bin,
    open_units,
    request_cycle_count,
    settle,
    settle_wave,
    unpicked,
)
from workflows.order import OrderWorkflow

log = get_logger(__name__)
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
    short: int = Field(description="units no bin held: not to be picked (a short pick)")
    done: bool


class PickListOut(BaseModel):
    id: str
    order_id: str
    status: str = Field(description="open, picked, short (every step done, some units the order wants not there: "
                        "they went down its out-of-stock path), shipped (its goods left with the carrier), or "
                        "cancelled")
    part: int = Field(default=1, description="the order's shipment it is for: 1, or 2 for the pre-ordered rest of "
                                             "an order shipped in parts")
    route_length_m: str = Field(description="walk from the depot via every bin to the pack station")
    s_shape_length_m: str = Field(description="the same picks walked by the S-shape rule, for comparison")
    route_exact: bool = Field(description="true when the route is proven shortest")
    created_at: datetime
    wave_id: str | None = Field(default=None, description="the wave it is picked in (GET /warehouse/waves/{id})")
    tote: int | None = Field(default=None, description="its tote on the wave's trolley")
    steps: list[PickStepOut] | None = None


class PickConfirmBody(BaseModel):
    scanned: str = Field(description="the SKU or EAN scanned off the item", min_length=1, max_length=64, pattern=PRINTABLE)
    location: str = Field(description="the bin's code, scanned off the shelf label", min_length=1, max_length=32,
                          pattern=PRINTABLE)
    quantity: int = Field(ge=0, le=10_000, description="units taken; 0 only with short")
    short: bool = Field(default=False, description="true: the bin held no more than `quantity` (it is empty now)")
    picked_by: str | None = Field(default=None, max_length=100, pattern=PRINTABLE)

    @model_validator(mode="after")
    def _something_taken(self) -> "PickConfirmBody":
        if self.quantity == 0 and not self.short:
            raise ValueError('quantity must be at least 1; send "short": true with quantity 0 when the bin is empty')
        return self


class PickConfirmOut(BaseModel):
    pick_list_id: str
    step: int
    picked: int
    quantity: int
    short: int = Field(default=0, description="units of this step no bin held")
    new_steps: list[int] = Field(default_factory=list, description="steps added to take the rest from other bins")
    cycle_count_id: int | None = Field(default=None, description="the count asked for the bin found short")
    pick_list_status: str = Field(description="open, picked, or short (every step done, some units the order wants not there: "
                        "they went down its out-of-stock path)")
    completed: bool = Field(default=False, description="this pick finished the pick list (every step picked or "
                                                       "short): the order is told, picked or short")
    order_status: str | None = Field(default=None, description="set when this pick finished the list: the "
                                                               "order's status after it was told")


def _summary(pl: PickList) -> dict[str, Any]:
    return {"id": pl.id, "order_id": pl.order_id, "part": pl.part, "status": pl.status,
            "route_length_m": str(pl.route_length_m),
            "s_shape_length_m": str(pl.s_shape_length_m), "route_exact": pl.route_exact, "created_at": pl.created_at,
            "wave_id": pl.wave_id, "tote": pl.tote}


@router.get("/warehouse/pick-lists", response_model=list[PickListOut], summary="Open pick lists")
async def open_pick_lists(_: WarehouseOrOps, sessions: Sessions,
                          order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN)] = None) -> list[dict[str, Any]]:
    """The pick lists not yet fully picked (open, and short ones waiting for the out-of-stock
    path), oldest first; `?order_id=` for one order's. Roles: warehouse, ops."""
    query = select(PickList).where(PickList.status.in_(("open", "short"))).order_by(PickList.created_at)
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
                                     quantity=line.quantity, picked=line.picked, short=line.short,
                                     done=open_units(line) <= 0))
        return {**_summary(pl), "steps": steps}


@router.post("/warehouse/pick-lists/{pick_list_id}/steps/{step}/confirm", response_model=PickConfirmOut,
             summary="Confirm one pick with the scanned item and bin")
async def confirm_pick(pick_list_id: str, step: Annotated[int, Path(ge=1, le=100_000)], body: PickConfirmBody, principal: WarehouseOrOps,
                       sessions: Sessions, temporal: Temporal, settings: SettingsDep) -> PickConfirmOut:
    """Checks the scanned SKU or EAN and bin against the step: a different item answers 422, a
    different bin 409, more than is left to pick 422. `"short": true` says the bin held no more
    than `quantity` (0 allowed): the stock is corrected, the bin gets a cycle count, and the rest
    is taken from other bins as new steps at the end of the list, or recorded short with a
    `short_pick` alert when no bin has it. When the last step is picked the order's pick is
    confirmed in its workflow; when units were short, the order is told which, and they go down
    its out-of-stock path (its backorder policy: ask the customer, pre-order, or cancel them).
    Roles: warehouse, ops."""
    actor = principal.actor(body.picked_by)
    async with transaction(sessions) as session:
        pl = await _pick_list(session, pick_list_id, lock=True)
        result, followup = await confirm_step(session, pl, step, body, principal.name, actor)
    # This order first: the others' trouble must not keep it from being told.
    if result.completed:
        result.order_status = (await tell_order_pick_list_done(pl.id, sessions, temporal, settings,
                                                               actor)).status
    await tell_orders(temporal, followup, sessions, settings, actor)
    return result


@dataclass
class Followup:
    """What a booked pick or count must tell orders once its transaction is committed."""

    # Orders a short pick raised an alert for: order id -> (open alerts, message).
    attention: dict[str, tuple[int, str]] = field(default_factory=dict)
    # Other orders' pick lists the correction finished (their last open units were short).
    finished: list[str] = field(default_factory=list)


async def tell_orders(temporal: Any, followup: Followup, sessions: Any, settings: Any, actor: Actor) -> None:
    """Orders a short pick raised an alert for keep NeedsAttention in their workflows; pick
    lists a correction finished tell their orders (``tell_order_pick_list_done``). Other
    orders' answers are not this request's: a refusal or an unreachable Temporal is logged,
    and ``POST /orders/{id}/pick`` sends that order its list's outcome again."""
    for order_id, (open_alerts, message) in followup.attention.items():
        await signal_attention(temporal, order_id, open_alerts, message)
    for pick_list_id in followup.finished:
        try:
            await tell_order_pick_list_done(pick_list_id, sessions, temporal, settings, actor)
        except ApiError as exc:
            log.warning("another order's finished pick list was not told", pick_list_id=pick_list_id,
                        status=exc.status_code, detail=exc.detail)


async def tell_order_pick_list_done(pick_list_id: str, sessions: Any, temporal: Any, settings: Any,
                                    actor: Actor) -> StepResult:
    """A pick list that was just finished tells its order, once (exactly the request that
    finished it sends this): all picked → ``confirm_picked`` (as ``POST /orders/{id}/pick``);
    units no bin held → ``report_short_pick`` with them, each with the backorder policy of its
    line and when more is expected. Returns the order's answer."""
    async with sessions() as session:
        pl = await session.get(PickList, pick_list_id)
        order = await session.get(Order, pl.order_id)
        missing = await unpicked(session, pl) if pl.status == "short" else {}
        short = [await short_line(session, order, sku, n) for sku, n in missing.items()]
    await ensure_started(temporal, settings, sessions, order)
    sent_at = utcnow()
    if short:
        detail = (f"pick list {pl.id} finished short: " +
                  ", ".join(f"{line.missing} x {line.sku}" for line in short))
        step_result = await send_update(temporal, sessions, order, OrderWorkflow.report_short_pick,
                                        ShortPickReport(pick_list_id=pl.id, lines=short, confirmed_by=actor.label()))
    else:
        detail = f"the last step of pick list {pl.id}"
        step_result = await send_update(temporal, sessions, order, OrderWorkflow.confirm_picked,
                                        StepConfirmation(confirmed_by=actor.label()))
    if step_result.accepted:
        await record_action(sessions, StaffActionKind.PICK, actor, sent_at=sent_at, order_id=order.id, detail=detail)
    return step_result


async def confirm_step(session: AsyncSession, pl: PickList, step: int, body: PickConfirmBody, key_name: str,
                       actor: Actor) -> tuple[PickConfirmOut, Followup]:
    """One scanned pick on a locked pick list, in the caller's transaction: the one place a pick
    step is checked and booked, for pick lists and waves alike. Also returns what the caller
    must tell other orders once committed (see ``tell_orders``); the result's ``completed``
    says whether this pick finished ``pl`` itself."""
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
    left = open_units(line)
    if pl.status != "open" or left <= 0:
        raise ApiError(422, f"step {step} of pick list {pl.id} has nothing left to pick (picked {line.picked}"
                            f"{f', short {line.short}' if line.short else ''} of {line.quantity}); go on with the next step")
    if body.quantity > left:
        raise ApiError(422, f"step {step} has {left} of {line.sku} left to pick, not {body.quantity}; "
                            "confirm the number you took, at most what is left")
    stock = await session.get(BinStock, line.bin_stock_id, with_for_update=True)
    now = utcnow()
    before = pl.status
    # The units leave the bin (and its allocation); they stay on hand until handover.
    stock.quantity -= body.quantity
    stock.allocated -= body.quantity
    line.picked += body.quantity
    line.picked_by = body.picked_by or key_name
    line.picked_at = now
    cycle_count = None
    correction = None
    if body.short:
        # The picker took what there was: the bin is empty, whatever the records said.
        cycle_count = await request_cycle_count(session, stock, reason=SHORT_PICK, pick_list_id=pl.id, now=now)
        try:
            correction = await correct_bin(session, stock, 0, reason=SHORT_PICK, actor=actor, now=now, first=line,
                                           note=f"pick list {pl.id} step {step}: bin {stock.location_code} held "
                                                f"{body.quantity} where {body.quantity + stock.quantity} were recorded")
        except StockConflict as exc:
            raise ApiError(409, str(exc)) from exc
    session.add(action_row(StaffActionKind.PICK_STEP, actor, order_id=pl.order_id, sku=line.sku, detail=(
        f"pick list {pl.id} step {step}: {body.quantity} x {line.sku} from {line.location_code}"
        f"{' (bin empty: short pick)' if body.short else ''}")))
    await settle(session, pl, now)
    await settle_wave(session, pl.wave_id, now)
    moved = next((m for m in correction.lines if m.pick_list_id == pl.id and m.step == step), None) if correction else None
    followup = followup_of(correction) if correction else Followup()
    followup.finished = [pick_list_id for pick_list_id in followup.finished if pick_list_id != pl.id]
    return PickConfirmOut(pick_list_id=pl.id, step=step, picked=line.picked, quantity=line.quantity,
                          short=line.short, new_steps=moved.new_steps if moved else [],
                          cycle_count_id=cycle_count.id if cycle_count else None, pick_list_status=pl.status,
                          completed=before == "open" and pl.status != "open"), followup


def followup_of(correction: BinCorrection) -> Followup:
    return Followup(attention=dict(correction.attention), finished=list(correction.finished))


@router.get("/orders/{order_id}/packing-plan", summary="How the order is packed")
async def packing_plan(order_id: str, principal: OrderReader, sessions: Sessions) -> dict[str, Any]:
    """Containers, and where each item stands in them (mm from the container's inner corner,
    padding for bubble wrap included), with the instructions for the packer. 404 until the
    order is picked. An order shipped in parts: the plan of the latest part (`part`). Roles: channel (own orders), warehouse, ops."""
    order = await load_order(sessions, principal, order_id)
    async with sessions() as session:  # an order shipped in parts: the latest part's
        record = (await session.execute(select(PackingPlanRecord).where(PackingPlanRecord.order_id == order.id)
                                        .order_by(PackingPlanRecord.part.desc()))).scalars().first()
    if record is None:
        raise ApiError(404, f"order {order.id} has no packing plan yet: it is planned once the order is picked "
                            f"(the order is {order.status})")
    return {"order_id": order.id, "part": record.part, **record.plan}


