"""Waves: several orders picked in one round with one trolley (one tote per order), walked as
one route and sorted per order at the pack station. Staff build one from the open pick lists,
walk it step by step, and confirm each pick as on a pick list: the pick is booked on that
order's pick list (``confirm_step``), and the pick that completes an order's list confirms the
order's pick in its workflow, exactly as a pick list step does."""

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import re
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy import select

from activities.planning.waves import Trolley, parse_pickup_days
from api.deps import Sessions, SettingsDep, Temporal, WarehouseOrOps
from api.errors import ApiError
from api.routers.warehouse import (
    PickConfirmBody,
    PickConfirmOut,
    confirm_step,
    tell_order_pick_list_done,
    tell_orders,
)
from domain.accountability import StaffActionKind
from settings import Settings
from storage.db import transaction
from storage.models import PickList, PickListLine, Product, WarehouseLocation, Wave, utcnow
from storage.staff_actions import action_row
from storage.warehouse import open_units
from storage.waves import NoWave, WaveRules, build_wave

router = APIRouter(tags=["warehouse"])

_WAVE_ID = re.compile(r"^wv_[0-9a-f]{16}$")


class ToteOut(BaseModel):
    tote: int = Field(description="the tote on the trolley this order's goods go into")
    order_id: str
    pick_list_id: str
    pick_list_status: str


class WaveStepOut(BaseModel):
    step: int
    location: str
    zone: str
    aisle: int
    rack: int
    shelf: int
    sku: str
    ean: str | None
    name: str
    quantity: int
    picked: int
    short: int
    done: bool
    tote: int = Field(description="put the items into this tote")
    order_id: str
    pick_list_id: str
    pick_list_step: int


class WaveOut(BaseModel):
    id: str
    status: str = Field(description="open, or picked once every order's pick list is done")
    due_at: datetime = Field(description="the earliest carrier pickup cut-off among its orders")
    route_length_m: str = Field(description="the wave walked as one route, depot to pack station")
    single_routes_m: str = Field(description="its orders' own pick lists walked one by one")
    saving: str = Field(description="1 - route / single routes: the walking the wave saves")
    route_exact: bool
    created_by: str
    created_at: datetime
    totes: list[ToteOut]
    steps: list[WaveStepOut] | None = None


class WaveConfirmOut(PickConfirmOut):
    wave_id: str
    wave_step: int
    tote: int
    order_id: str
    wave_status: str
    new_wave_steps: list[int] = Field(default_factory=list, description="wave steps added for the rest (short pick)")


def wave_rules(settings: Settings) -> WaveRules:
    return WaveRules(trolley=Trolley(max_orders=settings.wave_max_orders, max_volume_l=settings.wave_max_volume_litres,
                                     max_weight_kg=settings.wave_max_weight_kg),
                     window=timedelta(minutes=settings.wave_window_minutes),
                     cutoffs={c: time.fromisoformat(t) for c, t in settings.carrier_pickup_cutoffs.items()},
                     zone=ZoneInfo(settings.warehouse_timezone),
                     pickup_days={c: parse_pickup_days(d) for c, d in settings.carrier_pickup_days.items()})


async def _wave(session: Any, wave_id: str, *, lock: bool = False) -> Wave:
    wave = await session.get(Wave, wave_id, with_for_update=lock) if _WAVE_ID.match(wave_id) else None
    if wave is None:
        raise ApiError(404, f"no wave {wave_id[:40]!r}; GET /warehouse/waves lists the open ones")
    return wave


async def _out(session: Any, wave: Wave, *, with_steps: bool) -> dict[str, Any]:
    lists = (await session.execute(select(PickList).where(PickList.wave_id == wave.id)
                                   .order_by(PickList.tote))).scalars().all()
    by_id = {pl.id: pl for pl in lists}
    out: dict[str, Any] = {
        "id": wave.id, "status": wave.status, "due_at": wave.due_at, "route_length_m": str(wave.route_length_m),
        "single_routes_m": str(wave.single_routes_m), "route_exact": wave.route_exact,
        "saving": f"{1 - wave.route_length_m / wave.single_routes_m:.3f}" if wave.single_routes_m else "0.000",
        "created_by": wave.created_by, "created_at": wave.created_at,
        "totes": [ToteOut(tote=pl.tote, order_id=pl.order_id, pick_list_id=pl.id, pick_list_status=pl.status)
                  for pl in lists]}
    if with_steps:
        steps = []
        for ws in wave.steps:
            line = await session.get(PickListLine, ws.pick_list_line_id)
            pl = by_id[line.pick_list_id]
            loc = await session.get(WarehouseLocation, line.location_code)
            product = await session.get(Product, line.sku)
            steps.append(WaveStepOut(step=ws.step, location=loc.code, zone=loc.zone, aisle=loc.aisle, rack=loc.rack,
                                     shelf=loc.shelf, sku=line.sku, ean=product.ean, name=product.name,
                                     quantity=line.quantity, picked=line.picked, short=line.short,
                                     done=pl.status != "open" or open_units(line) <= 0, tote=pl.tote,
                                     order_id=pl.order_id, pick_list_id=pl.id, pick_list_step=line.step))
        out["steps"] = steps
    return out


@router.post("/warehouse/waves", status_code=201, response_model=WaveOut, summary="Build a wave from the open pick lists")
async def create_wave(principal: WarehouseOrOps, sessions: Sessions, settings: SettingsDep) -> dict[str, Any]:
    """Takes the open pick lists nobody has started, due first for their carrier's pickup
    cut-off (and those due within `wave_window_minutes` after), oldest release first, up to a
    trolley's load (`wave_max_orders`, `wave_max_volume_litres`, `wave_max_weight_kg`); plans one
    route through all their bins and gives each order a tote. 409 when no open pick list can
    go (none open, all started, or too big for a trolley). Roles: warehouse, ops."""
    actor = principal.actor()
    async with transaction(sessions) as session:
        wave = await build_wave(session, wave_rules(settings), created_by=actor.label(), now=utcnow())
        if isinstance(wave, NoWave):
            raise ApiError(409, wave.message())
        session.add(action_row(StaffActionKind.WAVE, actor, detail=(
            f"wave {wave.id}: {len(wave.steps)} steps, {wave.route_length_m} m against {wave.single_routes_m} m "
            "one order at a time")))
        return await _out(session, wave, with_steps=True)


@router.get("/warehouse/waves", response_model=list[WaveOut], summary="Open waves")
async def open_waves(_: WarehouseOrOps, sessions: Sessions) -> list[dict[str, Any]]:
    """Waves not yet picked, oldest first, with their totes. Roles: warehouse, ops."""
    async with sessions() as session:
        waves = (await session.execute(select(Wave).where(Wave.status == "open")
                                       .order_by(Wave.created_at, Wave.id))).scalars().all()
        return [await _out(session, w, with_steps=False) for w in waves]


@router.get("/warehouse/waves/{wave_id}", response_model=WaveOut, summary="One wave, step by step")
async def wave(wave_id: str, _: WarehouseOrOps, sessions: Sessions) -> dict[str, Any]:
    """The steps in walking order: the bin, what to take, how many, and the tote (order) it
    goes into. Roles: warehouse, ops."""
    async with sessions() as session:
        return await _out(session, await _wave(session, wave_id), with_steps=True)


@router.post("/warehouse/waves/{wave_id}/steps/{step}/confirm", response_model=WaveConfirmOut,
             summary="Confirm one pick of a wave with the scanned item and bin")
async def confirm_wave_pick(wave_id: str, step: Annotated[int, Path(ge=1, le=100_000)], body: PickConfirmBody,
                            principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
                            settings: SettingsDep) -> WaveConfirmOut:
    """The same body and checks as a pick list step (`scanned`, `location`, `quantity`,
    `short`): the pick is booked on the order's own pick list. The pick that completes an
    order's pick list confirms that order's pick. Roles: warehouse, ops."""
    actor = principal.actor(body.picked_by)
    async with transaction(sessions) as session:
        wave = await _wave(session, wave_id, lock=True)
        ws = next((s for s in wave.steps if s.step == step), None)
        if ws is None:
            raise ApiError(404, f"wave {wave.id} has no step {step}; it has steps 1 to {len(wave.steps)}")
        line = await session.get(PickListLine, ws.pick_list_line_id)
        pl = await session.get(PickList, line.pick_list_id, with_for_update=True)
        before = {s.step for s in wave.steps}
        result, followup = await confirm_step(session, pl, line.step, body, principal.name, actor)
        await session.flush()  # a refresh would otherwise drop the wave's new status
        await session.refresh(wave, ["steps"])
        answer = WaveConfirmOut(**result.model_dump(), wave_id=wave.id, wave_step=step, tote=pl.tote,
                                order_id=pl.order_id, wave_status=wave.status,
                                new_wave_steps=sorted({s.step for s in wave.steps} - before))
    if answer.completed:
        answer.order_status = (await tell_order_pick_list_done(pl.id, sessions, temporal, settings,
                                                               actor)).status
    await tell_orders(temporal, followup, sessions, settings, actor)
    return answer
