"""Dispatches: the packages one carrier collects in one vehicle, and the load plan that tells
staff where each one goes and in which order.

Staff make a dispatch when a carrier comes to collect (or ahead of it): it takes every package
booked with that carrier whose order is READY_TO_SHIP and that is in no other open dispatch
(or the packages named), groups them into stops by destination, and plans the load
(``activities.planning.loading``, off the event loop) in the carrier's usual vehicle or the one
named. The independent checker (``loading_check``) checks every plan before it is stored.
"""

import asyncio
import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from activities.planning.loading import (
    DEFAULT_VEHICLE,
    MIN_SUPPORT,
    VEHICLE_BY_CODE,
    VEHICLES,
    LoadPlan,
    Package,
    Unplaced,
    Vehicle,
    load_length_lower_bound,
    plan_load,
)
from activities.planning.loading_check import check_load_plan
from api.deps import Sessions, SettingsDep, Temporal, WarehouseOrOps
from api.errors import ApiError
from api.routers.orders import handover
from api.schemas import StepBody
from domain.accountability import StaffActionKind
from logs import get_logger
from storage.db import transaction
from storage.dispatches import (
    CANCELLED,
    DEPARTED,
    OPEN,
    Dispatch,
    DispatchPackage,
    ReadyPackage,
    find_packages,
    list_dispatches,
    new_dispatch_id,
    still_ready,
    stops_for,
)
from storage.models import utcnow
from storage.staff_actions import action_row

log = get_logger(__name__)
router = APIRouter(tags=["warehouse"])

_DISPATCH_ID = re.compile(r"^dsp_[0-9a-f]{16}$")
PRINTABLE_CODE = r"^[A-Za-z0-9_.:/-]+$"
# More ready packages than this are taken oldest booking first; the rest wait for the next
# vehicle (the largest, a trailer, takes some 1,000 parcels).
MAX_PACKAGES = 1_500
# Re-plans to keep an order's packages together (see _plan_whole_orders).
MAX_REPLANS = 3


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=32, pattern=PRINTABLE_CODE,
                         description="the carrier collecting: postnl, dhl, dpd, freight")
    vehicle: str | None = Field(default=None, min_length=1, max_length=16, pattern=PRINTABLE_CODE,
                                description="VAN, BOX-TRUCK or TRAILER (GET /warehouse/vehicles); default: the "
                                            "carrier's usual vehicle")
    tracking_numbers: list[str] | None = Field(
        default=None, min_length=1, max_length=MAX_PACKAGES,
        description="only these packages (default: every ready package of the carrier)")
    shipment_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_PACKAGES,
                                           description="only these shipments' packages")


class VehicleOut(BaseModel):
    code: str
    name: str
    inner_mm: list[int] = Field(description="length (front wall to doors) × width × height")
    payload_kg: int
    default_for: list[str] = Field(description="the carriers that usually collect with it")


class StopOut(BaseModel):
    stop: int = Field(description="1 is unloaded first; the last stop is loaded first")
    region: str = Field(description="country and postcode region, e.g. NL-10")
    packages: int


class DispatchPackageOut(BaseModel):
    sequence: int = Field(description="loading order: 1 goes in first")
    tracking_number: str
    order_id: str
    shipment_id: str
    stop: int
    region: str


class LeftOutOut(BaseModel):
    tracking_number: str
    order_id: str
    stop: int
    reason: str


class HandoverOut(BaseModel):
    order_id: str
    handed_over: bool
    status: str | None = Field(description="the order's status after the handover, when known")
    message: str


class DispatchOut(BaseModel):
    id: str
    carrier: str
    vehicle: str
    status: str = Field(description="open, departed, or cancelled")
    stops: list[StopOut]
    loaded: int = Field(description="packages in the load plan")
    left_out: list[LeftOutOut] = Field(description="packages that did not go, with why; they stay ready")
    weight_kg: str
    volume_utilisation: str
    weight_utilisation: str
    load_length_mm: int
    plan_sound: bool = Field(description="the independent checker found nothing wrong with the plan")
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    packages: list[DispatchPackageOut] | None = None
    handover: list[HandoverOut] | None = Field(default=None, description="departure only: each order's handover")


class DepartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmed_by: str | None = Field(default=None, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$",
                                     description="who saw the vehicle off; defaults to the API key's name")


class PlacementOut(BaseModel):
    sequence: int = Field(description="loading order: 1 goes in first")
    tracking_number: str
    order_id: str
    stop: int
    region: str
    container: str | None
    x: int = Field(description="mm from the front wall (behind the cab) towards the doors")
    y: int = Field(description="mm from the left wall, looking from the doors to the front")
    z: int = Field(description="mm above the floor")
    length: int = Field(description="as placed, along x")
    width: int = Field(description="as placed, along y")
    height: int
    weight_g: int
    instruction: str | None


class LoadPlanOut(BaseModel):
    dispatch_id: str
    vehicle: VehicleOut
    stops: list[StopOut]
    placements: list[PlacementOut]
    left_out: list[LeftOutOut]
    weight_kg: str
    volume_utilisation: str = Field(description="the packages' volume over the load space's")
    weight_utilisation: str = Field(description="the packages' weight over the payload")
    load_length_mm: int = Field(description="how far from the front wall the load reaches")
    load_length_lower_bound_mm: int = Field(description="the least any plan could need for these packages")
    min_support: str = Field(description="share of a package's base that rests on what is below it, at least")
    problems: list[str] = Field(description="what the independent checker found wrong (empty: the plan is sound)")


def _vehicle_out(v: Vehicle) -> VehicleOut:
    return VehicleOut(code=v.code, name=v.name, inner_mm=[v.length, v.width, v.height], payload_kg=v.payload_kg,
                      default_for=sorted(c for c, code in DEFAULT_VEHICLE.items() if code == v.code))


def _instruction(p: ReadyPackage) -> str | None:
    if p.pallet:
        return "pallet: forklift or pallet truck, on the floor, nothing on top"
    if p.upright:
        return "keep this way up"
    return None


def _plan_whole_orders(ready: list[ReadyPackage], stops: dict[str, int], vehicle: Vehicle) -> tuple[LoadPlan, list[str]]:
    """Plan the load, keeping each order's packages together: when only some of an order's
    packages go, the order is held back whole and the rest planned again (an order shipped
    over two days is a worse surprise than one a day later). Then the independent check.
    CPU-bound: run it in a thread."""
    packages = [p.for_planner(stops[p.region]) for p in ready]
    order_of = {p.tracking_number: p.order_id for p in ready}
    held: list[Unplaced] = []
    planned = packages
    for _ in range(MAX_REPLANS):
        plan = plan_load(planned, vehicle)
        placed = {p.package_id for p in plan.placements}
        split = {order_of[u.package_id] for u in plan.unplaced} & {order_of[i] for i in placed}
        if not split:
            break
        back = {p.id for p in planned if order_of[p.id] in split and p.id in placed}
        held += [Unplaced(p.id, p.stop, "held back with the other packages of its order, which do not all go")
                 for p in planned if p.id in back]
        planned = [p for p in planned if p.id not in back]
    else:
        plan = plan_load(planned, vehicle)  # splits left after the last re-plan stay
    plan.unplaced += held
    data = plan.to_dict()
    problems = check_load_plan(data, [_package_dict(p) for p in packages], MIN_SUPPORT)
    return plan, problems


def _package_dict(p: Package) -> dict[str, Any]:
    return {"id": p.id, "stop": p.stop, "length": p.length, "width": p.width, "height": p.height,
            "weight_g": p.weight_g, "upright": p.upright, "pallet": p.pallet}


def _stored_plan(plan: LoadPlan, ready: list[ReadyPackage], stops: dict[str, int], problems: list[str],
                 vehicle: Vehicle) -> dict[str, Any]:
    """The plan as stored: the planner's plan (the checker's input) with each package's order,
    region and handling instruction, the stops, and the packages as planned."""
    by_number = {p.tracking_number: p for p in ready}
    data = plan.to_dict()
    for row in data["placements"]:
        p = by_number[row["package_id"]]
        row.update(order_id=p.order_id, shipment_id=p.shipment_id, region=p.region, container=p.container,
                   instruction=_instruction(p))
    for row in data["unplaced"]:
        p = by_number[row["package_id"]]
        row.update(order_id=p.order_id, region=p.region)
    counts: dict[str, int] = defaultdict(int)
    for row in data["placements"]:
        counts[row["region"]] += 1
    data["stops"] = [{"stop": n, "region": region, "packages": counts[region]}
                     for region, n in sorted(stops.items(), key=lambda kv: kv[1])]
    data["packages"] = [_package_dict(p.for_planner(stops[p.region])) for p in ready]
    data["problems"] = problems
    placed = [p for p in data["packages"] if p["id"] in {r["package_id"] for r in data["placements"]}]
    data["load_length_lower_bound_mm"] = load_length_lower_bound(
        [Package(**p) for p in placed], vehicle)
    return data


def _left_out(plan: dict[str, Any]) -> list[LeftOutOut]:
    return [LeftOutOut(tracking_number=u["package_id"], order_id=u["order_id"], stop=u["stop"], reason=u["reason"])
            for u in plan["unplaced"]]


def _out(d: Dispatch, *, with_packages: bool) -> DispatchOut:
    return DispatchOut(
        id=d.id, carrier=d.carrier, vehicle=d.vehicle, status=d.status,
        stops=[StopOut(**s) for s in d.plan["stops"]], loaded=d.loaded, left_out=_left_out(d.plan),
        weight_kg=f"{Decimal(d.weight_grams) / 1000:.1f}", volume_utilisation=f"{d.volume_utilisation:.3f}",
        weight_utilisation=f"{d.weight_utilisation:.3f}", load_length_mm=d.load_length_mm, plan_sound=d.plan_sound,
        created_by=d.created_by, created_at=d.created_at, closed_at=d.closed_at,
        packages=[DispatchPackageOut(sequence=p.sequence, tracking_number=p.tracking_number, order_id=p.order_id,
                                     shipment_id=p.shipment_id, stop=p.stop, region=p.region)
                  for p in d.packages] if with_packages else None)


def _unique(values: list[str] | None) -> list[str] | None:
    return list(dict.fromkeys(values)) if values is not None else None


def _listing(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


@router.get("/warehouse/vehicles", response_model=list[VehicleOut], summary="The vehicles loads are planned for")
async def vehicles(_: WarehouseOrOps) -> list[VehicleOut]:
    """Inner load space and payload of each vehicle, and the carriers that usually collect
    with it. Roles: warehouse, ops."""
    return [_vehicle_out(v) for v in VEHICLES]


@router.post("/warehouse/dispatches", status_code=201, response_model=DispatchOut,
             summary="Make up a carrier's vehicle load and plan it")
async def create_dispatch(body: DispatchIn, principal: WarehouseOrOps, sessions: Sessions,
                          settings: SettingsDep) -> DispatchOut:
    """Takes every package booked with `carrier` whose order is READY_TO_SHIP and that is in
    no other open dispatch (or only the `tracking_numbers` / `shipment_ids` named, which must
    all be ready), groups them into stops by destination and plans the load in `vehicle` (the
    carrier's usual one by default). Packages that do not go (no room, over the payload, too
    large) are listed under `left_out` with why, and stay ready for the next dispatch; an order
    whose packages do not all go is held back whole. 422: unknown carrier, vehicle or package;
    409: nothing ready, a named package not ready or in another open dispatch, or nothing goes
    in the vehicle. Roles: warehouse, ops."""
    if body.carrier not in DEFAULT_VEHICLE:
        raise ApiError(422, f"unknown carrier {body.carrier!r}; dispatches are made for "
                            f"{', '.join(sorted(DEFAULT_VEHICLE))}")
    code = body.vehicle or DEFAULT_VEHICLE[body.carrier]
    vehicle = VEHICLE_BY_CODE.get(code)
    if vehicle is None:
        raise ApiError(422, f"unknown vehicle {code!r}; choose one of {', '.join(VEHICLE_BY_CODE)} "
                            "(GET /warehouse/vehicles), or leave it out for the carrier's usual one")
    tracking_numbers, shipment_ids = _unique(body.tracking_numbers), _unique(body.shipment_ids)
    async with sessions() as session:
        ready, not_ready, unknown = await find_packages(session, body.carrier, tracking_numbers=tracking_numbers,
                                                        shipment_ids=shipment_ids)
    if unknown:
        raise ApiError(422, f"no package or shipment {_listing(unknown)}; check the numbers on the labels "
                            "(GET /orders/{id} lists an order's shipments and packages)")
    if not_ready:
        raise ApiError(409, "these packages cannot go in a dispatch: "
                            f"{_listing([f'{n.tracking_number} ({n.why})' for n in not_ready])}; "
                            "leave them out, or cancel the other dispatch first")
    if not ready:
        raise ApiError(409, f"nothing is ready for {body.carrier}: no package booked with it whose order is "
                            "READY_TO_SHIP and that is in no open dispatch (GET /warehouse/dispatches lists "
                            "the open ones)")
    ready = ready[:MAX_PACKAGES]
    stops = stops_for(ready, settings.returns_country)
    plan, problems = await asyncio.to_thread(_plan_whole_orders, ready, stops, vehicle)
    if not plan.placements:
        reasons = sorted({u.reason for u in plan.unplaced})
        raise ApiError(409, f"none of the {len(ready)} packages goes in the {vehicle.name}: {_listing(reasons, 3)}; "
                            "name a larger vehicle (GET /warehouse/vehicles)")
    if problems:
        # A planner bug: the plan is stored (staff can see what is wrong) but flagged.
        log.error("load plan failed the independent check", problems=problems[:20], carrier=body.carrier)
    data = _stored_plan(plan, ready, stops, problems, vehicle)
    by_number = {p.tracking_number: p for p in ready}
    actor = principal.actor()
    try:
        async with transaction(sessions) as session:
            gone = await still_ready(session, [p.package_id for p in plan.placements])
            if gone:
                raise ApiError(409, "the packages changed while the load was planned: "
                                    f"{_listing([f'{n.tracking_number} ({n.why})' for n in gone])}; send the "
                                    "request again")
            dispatch = Dispatch(
                id=new_dispatch_id(), carrier=body.carrier, vehicle=vehicle.code, status=OPEN, stops=len(stops),
                loaded=len(plan.placements), left_out=len(plan.unplaced), weight_grams=plan.weight_g,
                volume_utilisation=Decimal(str(data["volume_utilisation"])),
                weight_utilisation=Decimal(str(data["weight_utilisation"])), load_length_mm=plan.load_length_mm,
                plan=data, plan_sound=not problems, created_by=actor.label(), created_at=utcnow())
            session.add(dispatch)
            await session.flush()
            for p in plan.placements:
                r = by_number[p.package_id]
                session.add(DispatchPackage(dispatch_id=dispatch.id, tracking_number=r.tracking_number,
                                            shipment_id=r.shipment_id, order_id=r.order_id, stop=p.stop,
                                            region=r.region, sequence=p.sequence, open_claim=r.tracking_number))
            session.add(action_row(StaffActionKind.DISPATCH, actor, detail=(
                f"dispatch {dispatch.id} for {body.carrier}: {len(plan.placements)} packages in {vehicle.code}, "
                f"{len(stops)} stops, {len(plan.unplaced)} left out")))
            await session.flush()
            await session.refresh(dispatch, ["packages"])
    except IntegrityError as exc:
        # Another dispatch took one of these packages at the same moment (its open_claim).
        raise ApiError(409, "another dispatch took some of these packages at the same moment; GET "
                            "/warehouse/dispatches shows it, and a new request takes what is left") from exc
    log.info("dispatch made", dispatch_id=dispatch.id, carrier=body.carrier, vehicle=vehicle.code,
             loaded=dispatch.loaded, left_out=dispatch.left_out, volume_utilisation=data["volume_utilisation"])
    return _out(dispatch, with_packages=True)


@router.get("/warehouse/dispatches", response_model=list[DispatchOut], summary="Dispatches, newest first")
async def dispatches(_: WarehouseOrOps, sessions: Sessions,
                     carrier: str | None = Query(default=None, max_length=32),
                     status: Literal["open", "departed", "cancelled"] | None = Query(default=None),
                     limit: int = Query(default=50, ge=1, le=500)) -> list[DispatchOut]:
    """Filter by `carrier` and `status` (open, departed, cancelled). Roles: warehouse, ops."""
    async with sessions() as session:
        rows = await list_dispatches(session, carrier=carrier, status=status, limit=limit)
        return [_out(d, with_packages=False) for d in rows]


async def _dispatch(session: Any, dispatch_id: str, *, lock: bool = False) -> Dispatch:
    dispatch = await session.get(Dispatch, dispatch_id, with_for_update=lock) if _DISPATCH_ID.match(dispatch_id) \
        else None
    if dispatch is None:
        raise ApiError(404, f"no dispatch {dispatch_id[:40]!r}; GET /warehouse/dispatches lists them")
    return dispatch


@router.get("/warehouse/dispatches/{dispatch_id}", response_model=DispatchOut, summary="One dispatch")
async def dispatch(dispatch_id: str, _: WarehouseOrOps, sessions: Sessions) -> DispatchOut:
    """The dispatch with its packages in loading order. Roles: warehouse, ops."""
    async with sessions() as session:
        return _out(await _dispatch(session, dispatch_id), with_packages=True)


@router.get("/warehouse/dispatches/{dispatch_id}/load-plan", response_model=LoadPlanOut,
            summary="Where each package goes in the vehicle, in loading order")
async def load_plan(dispatch_id: str, _: WarehouseOrOps, sessions: Sessions) -> LoadPlanOut:
    """Placements in loading order (the last stop's first, so that each stop's packages are
    nearest the doors when the vehicle gets there): position and size as placed in mm, `x`
    from the front wall towards the doors, with handling instructions; the packages left out
    with why; volume and weight utilisation and the load length against its lower bound; and
    what the independent checker found (`problems`, empty when sound). Roles: warehouse,
    ops."""
    async with sessions() as session:
        d = await _dispatch(session, dispatch_id)
    plan = d.plan
    return LoadPlanOut(
        dispatch_id=d.id, vehicle=_vehicle_out(VEHICLE_BY_CODE[d.vehicle]), stops=[StopOut(**s) for s in plan["stops"]],
        placements=[PlacementOut(tracking_number=p["package_id"], **{k: v for k, v in p.items() if k != "package_id"})
                    for p in plan["placements"]],
        left_out=_left_out(plan), weight_kg=f"{Decimal(plan['weight_g']) / 1000:.1f}",
        volume_utilisation=f"{plan['volume_utilisation']:.3f}", weight_utilisation=f"{plan['weight_utilisation']:.3f}",
        load_length_mm=plan["load_length_mm"], load_length_lower_bound_mm=plan["load_length_lower_bound_mm"],
        min_support=f"{plan['min_support']:.2f}", problems=plan["problems"])


@router.post("/warehouse/dispatches/{dispatch_id}/cancel", response_model=DispatchOut,
             summary="Cancel an open dispatch: its packages are free for another")
async def cancel_dispatch(dispatch_id: str, principal: WarehouseOrOps, sessions: Sessions) -> DispatchOut:
    """The packages stay booked and ready; a new dispatch may take them. A repeat answers the
    cancelled dispatch; a departed one cannot be cancelled (409). Roles: warehouse, ops."""
    async with transaction(sessions) as session:
        d = await _dispatch(session, dispatch_id, lock=True)
        if d.status == CANCELLED:
            return _out(d, with_packages=True)
        if d.status != OPEN:
            raise ApiError(409, f"dispatch {d.id} is {d.status}; only an open dispatch can be cancelled", status=d.status)
        d.status, d.closed_at = CANCELLED, utcnow()
        for p in d.packages:
            p.open_claim = None
        session.add(action_row(StaffActionKind.DISPATCH, principal.actor(),
                               detail=f"dispatch {d.id} for {d.carrier} cancelled: {d.loaded} packages free again"))
        return _out(d, with_packages=True)


@router.post("/warehouse/dispatches/{dispatch_id}/depart", response_model=DispatchOut,
             summary="The vehicle leaves: hand over every order in it")
async def depart(dispatch_id: str, principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
                 settings: SettingsDep, body: DepartIn | None = None) -> DispatchOut:
    """Confirms the handover of each order loaded (as `POST /orders/{id}/handover` does: stock
    leaves the shelf, a card is captured, the order becomes SHIPPED) and closes the dispatch.
    An order that cannot be handed over (cancelled since it was loaded) is listed under
    `handover` with why: take its packages out of the vehicle. A repeat answers the departed
    dispatch; a cancelled one cannot depart (409). Roles: warehouse, ops."""
    async with sessions() as session:
        d = await _dispatch(session, dispatch_id)
    if d.status == DEPARTED:
        return _out(d, with_packages=True)
    if d.status != OPEN:
        raise ApiError(409, f"dispatch {d.id} is {d.status}; only an open dispatch can depart", status=d.status)
    step = StepBody(confirmed_by=body.confirmed_by) if body and body.confirmed_by else None
    results = []
    for order_id in dict.fromkeys(p.order_id for p in d.packages):
        try:
            done = await handover(order_id, principal, sessions, temporal, settings, step)
            results.append(HandoverOut(order_id=order_id, handed_over=True, status=done.status, message=done.message))
        except ApiError as exc:
            results.append(HandoverOut(order_id=order_id, handed_over=False, status=exc.extra.get("status"),
                                       message=exc.detail))
    async with transaction(sessions) as session:
        d = await _dispatch(session, dispatch_id, lock=True)
        if d.status == OPEN:  # a twin request may have closed it meanwhile
            d.status, d.closed_at = DEPARTED, utcnow()
            for p in d.packages:
                p.open_claim = None
            failed = [r.order_id for r in results if not r.handed_over]
            session.add(action_row(StaffActionKind.DISPATCH, principal.actor(body.confirmed_by if body else None),
                                   detail=f"dispatch {d.id} for {d.carrier} departed: {len(results) - len(failed)} "
                                          f"orders handed over, {len(failed)} not"))
        out = _out(d, with_packages=True)
    out.handover = results
    return out
