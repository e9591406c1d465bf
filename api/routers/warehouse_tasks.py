"""Warehouse tasks besides picking: cycle counts of bins a pick found short (count, and the
bin's stock is corrected through the ledger), and put-away of goods that came in (receipts,
resellable returns, goods put back after a cancellation) into a bin."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Sessions, SettingsDep, Temporal, WarehouseOrOps
from api.errors import ApiError
from api.routers.warehouse import PRINTABLE, Followup, followup_of, tell_orders
from domain.accountability import StaffActionKind
from storage.db import transaction
from storage.models import BinStock, CycleCount, Product, PutAwayTask, WarehouseLocation, utcnow
from storage.staff_actions import action_row
from storage.warehouse import CYCLE_COUNT, StockConflict, correct_bin, put_away

router = APIRouter(tags=["warehouse"])


class CycleCountOut(BaseModel):
    id: int
    location: str
    sku: str
    name: str
    lot: str
    reason: str = Field(description="why it was asked for: short_pick")
    pick_list_id: str | None
    status: str = Field(description="open or counted")
    requested_at: datetime
    recorded_quantity: int | None = Field(description="what the records said when it was counted (not shown "
                                                       "while open: counts are blind)")
    counted_quantity: int | None
    counted_by: str | None
    counted_at: datetime | None


class CycleCountBody(BaseModel):
    counted: int = Field(ge=0, le=1_000_000, description="the units of this SKU (lot) found in the bin")
    counted_by: str | None = Field(default=None, max_length=100, pattern=PRINTABLE)


class CycleCountResult(CycleCountOut):
    difference: int = Field(description="counted minus recorded: what the ledger booked (reason cycle_count)")
    moved_pick_steps: list[dict[str, Any]] = Field(
        default_factory=list, description="open pick steps that counted on units not there: moved to other bins "
                                          "(new_steps) or short")


async def _out(session: Any, count: CycleCount) -> dict[str, Any]:
    product = await session.get(Product, count.sku)
    return {"id": count.id, "location": count.location_code, "sku": count.sku, "name": product.name, "lot": count.lot,
            "reason": count.reason, "pick_list_id": count.pick_list_id, "status": count.status,
            "requested_at": count.requested_at, "recorded_quantity": count.recorded_quantity,
            "counted_quantity": count.counted_quantity, "counted_by": count.counted_by, "counted_at": count.counted_at}


@router.get("/warehouse/cycle-counts", response_model=list[CycleCountOut], summary="Open cycle counts")
async def open_cycle_counts(_: WarehouseOrOps, sessions: Sessions) -> list[dict[str, Any]]:
    """The bins to count, oldest request first: where, which SKU and lot. The recorded number
    is not shown, so the count is not steered by it. Roles: warehouse, ops."""
    async with sessions() as session:
        rows = (await session.execute(select(CycleCount).where(CycleCount.status == "open")
                                      .order_by(CycleCount.requested_at, CycleCount.id))).scalars().all()
        return [await _out(session, c) for c in rows]


@router.post("/warehouse/cycle-counts/{count_id}", response_model=CycleCountResult, summary="Record a count")
async def record_count(count_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: CycleCountBody,
                       principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
                       settings: SettingsDep) -> dict[str, Any]:
    """Body: `{"counted": n}`. The bin's units of the SKU become `n`; the SKU's on hand moves by
    the difference (ledger reason `cycle_count`). Open pick steps that counted on units not
    there are moved to other bins or recorded short (a pick list that this finishes tells its
    order, as the pick that finishes one does). Sending the same count again answers the
    first result; another number for a counted task is 409 (ask for a new count). Roles:
    warehouse, ops."""
    actor = principal.actor(body.counted_by)
    followup = Followup()
    async with transaction(sessions) as session:
        count = await session.get(CycleCount, count_id, with_for_update=True)
        if count is None:
            raise ApiError(404, f"no cycle count {count_id}; GET /warehouse/cycle-counts lists the open ones")
        if count.status == "counted":
            if count.counted_quantity != body.counted:
                raise ApiError(409, f"cycle count {count_id} was already counted: {count.counted_quantity} in "
                                    f"{count.location_code} by {count.counted_by}; a new count needs a new task")
            return {**await _out(session, count), "difference": count.counted_quantity - count.recorded_quantity}
        stock = await session.get(BinStock, count.bin_stock_id, with_for_update=True)
        now = utcnow()
        try:
            correction = await correct_bin(session, stock, body.counted, reason=CYCLE_COUNT, actor=actor, now=now,
                                           idempotency_key=f"cycle_count:{count.id}",
                                           note=f"cycle count {count.id} of {count.location_code}: {body.counted} "
                                                f"counted, {stock.quantity} recorded")
        except StockConflict as exc:
            raise ApiError(409, str(exc)) from exc
        followup = followup_of(correction)
        count.status, count.counted_at = "counted", now
        count.recorded_quantity, count.counted_quantity = correction.recorded, body.counted
        count.counted_by = actor.label()[:100]
        session.add(action_row(StaffActionKind.CYCLE_COUNT, actor, sku=count.sku, detail=(
            f"cycle count {count.id}: {body.counted} x {count.sku} in {count.location_code} "
            f"(recorded {correction.recorded}, {correction.delta:+d})")))
        result = {**await _out(session, count), "difference": correction.delta,
                  "moved_pick_steps": [{"pick_list_id": m.pick_list_id, "order_id": m.order_id, "step": m.step,
                                        "new_steps": m.new_steps, "short": m.short} for m in correction.lines]}
    await tell_orders(temporal, followup, sessions, settings, actor)
    return result


# --- put-away ------------------------------------------------------------------------------


class PutAwayOut(BaseModel):
    id: int
    sku: str
    name: str
    ean: str | None
    quantity: int
    source: str = Field(description="goods_receipt, return, cancellation (goods back from the pack station), or "
                                    "untracked (stock on hand no bin held)")
    reference: str = Field(description="the receipt, the return and its line, or the cancelled order")
    suggested_location: str | None = Field(description="where to put it: a bin with the same SKU and room, else "
                                                       "an empty bin near the depot; null when none is free")
    status: str = Field(description="open or done")
    location: str | None = Field(description="where it was put")
    put_away_by: str | None
    created_at: datetime
    done_at: datetime | None


class PutAwayBody(BaseModel):
    location: str = Field(description="the bin's code, scanned off the shelf label", min_length=1, max_length=32,
                          pattern=PRINTABLE)
    put_away_by: str | None = Field(default=None, max_length=100, pattern=PRINTABLE)


class PutAwayResult(PutAwayOut):
    as_suggested: bool = Field(description="false when the goods went to another bin than suggested")
    message: str
    bin_quantity: int = Field(description="units of the SKU in that bin now")


async def _task_out(session: Any, task: PutAwayTask) -> dict[str, Any]:
    product = await session.get(Product, task.sku)
    return {"id": task.id, "sku": task.sku, "name": product.name, "ean": product.ean, "quantity": task.quantity,
            "source": task.source, "reference": task.reference, "suggested_location": task.suggested_location,
            "status": task.status, "location": task.location_code, "put_away_by": task.put_away_by,
            "created_at": task.created_at, "done_at": task.done_at}


def _where(task: PutAwayTask) -> str:
    return f"the suggested {task.suggested_location}" if task.suggested_location else "an empty bin"


@router.get("/warehouse/put-away", response_model=list[PutAwayOut], summary="Open put-away tasks")
async def open_put_away(_: WarehouseOrOps, sessions: Sessions) -> list[dict[str, Any]]:
    """Goods waiting at goods-in, oldest first: what, how many, and the bin to put them in.
    Roles: warehouse, ops."""
    async with sessions() as session:
        rows = (await session.execute(select(PutAwayTask).where(PutAwayTask.status == "open")
                                      .order_by(PutAwayTask.created_at, PutAwayTask.id))).scalars().all()
        return [await _task_out(session, t) for t in rows]


@router.post("/warehouse/put-away/{task_id}", response_model=PutAwayResult, summary="Confirm a put-away")
async def confirm_put_away(task_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: PutAwayBody,
                           principal: WarehouseOrOps, sessions: Sessions) -> dict[str, Any]:
    """Body: `{"location": scanned bin code}`. The goods move into that bin's stock (the SKU's
    on hand does not change: they were counted since they came in). Another bin than the
    suggested one is fine if it exists and holds no other SKU; the answer says so. An unknown
    bin, or one holding another SKU, is 409. Confirming again with the same bin repeats the
    answer; with another bin it is 409. Roles: warehouse, ops."""
    actor = principal.actor(body.put_away_by)
    async with transaction(sessions) as session:
        task = await session.get(PutAwayTask, task_id, with_for_update=True)
        if task is None:
            raise ApiError(404, f"no put-away task {task_id}; GET /warehouse/put-away lists the open ones")
        if task.status == "done":
            if task.location_code != body.location:
                raise ApiError(409, f"put-away task {task_id} is done: {task.quantity} x {task.sku} went into "
                                    f"{task.location_code}; move stock between bins with a cycle count of each")
            stock = (await session.execute(select(BinStock).where(
                BinStock.location_code == task.location_code, BinStock.sku == task.sku, BinStock.lot == ""))).scalar_one()
            return {**await _task_out(session, task), "as_suggested": task.location_code == task.suggested_location,
                    "message": f"already put away in {task.location_code}", "bin_quantity": stock.quantity}
        if await session.get(WarehouseLocation, body.location) is None:
            raise ApiError(409, f"there is no bin {body.location!r} in the warehouse; scan the label of "
                                f"{_where(task)} (or of another existing bin)")
        others = (await session.execute(select(BinStock.sku).where(
            BinStock.location_code == body.location, BinStock.sku != task.sku, BinStock.quantity > 0))).scalars().all()
        if others:
            raise ApiError(409, f"bin {body.location} holds {', '.join(sorted(set(others)))}; one SKU per bin: put "
                                f"the {task.sku} in {_where(task)} or another bin without other goods")
        stock = await put_away(session, task, body.location, by=actor.label(), now=utcnow())
        as_suggested = body.location == task.suggested_location
        message = (f"{task.quantity} x {task.sku} put away in {body.location}" if as_suggested else
                   f"{task.quantity} x {task.sku} put away in {body.location} instead of {_where(task)}")
        session.add(action_row(StaffActionKind.PUT_AWAY, actor, sku=task.sku, detail=(
            f"put-away task {task.id}: {message}")))
        return {**await _task_out(session, task), "as_suggested": as_suggested, "message": message,
                "bin_quantity": stock.quantity}
