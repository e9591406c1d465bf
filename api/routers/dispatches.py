"""Dispatches: the packages one carrier collects in one vehicle, and the load plan that tells
staff where each one goes and in which order.

Staff make a dispatch when a carrier comes to collect (or ahead of it), and each carrier's
pickup schedule makes one shortly before its cut-off (``workflows.dispatching``); both make it
the one way, ``activities.dispatching.make_dispatch``: every package booked with that carrier
whose order is READY_TO_SHIP and that is in no other open dispatch (or the packages named),
grouped into stops by destination, the load planned in the carrier's usual vehicle or the one
named and checked by the independent checker before it is stored.
"""

import re
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from activities.dispatching import MAX_PACKAGES, DispatchRefused, make_dispatch
from activities.planning.loading import DEFAULT_VEHICLE, VEHICLE_BY_CODE, VEHICLES, Vehicle
from api.deps import Sessions, SettingsDep, Temporal, WarehouseOrOps
from api.errors import ApiError
from api.routers.orders import handover
from api.schemas import StepBody
from domain.accountability import StaffActionKind
from storage.db import transaction
from storage.dispatches import CANCELLED, DEPARTED, DEPARTING, OPEN, Dispatch, list_dispatches, packages_elsewhere
from storage.models import utcnow
from storage.staff_actions import action_row

router = APIRouter(tags=["warehouse"])

_DISPATCH_ID = re.compile(r"^dsp_[0-9a-f]{16}$")
PRINTABLE_CODE = r"^[A-Za-z0-9_.:/-]+$"


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
    status: str = Field(description="open; departing (POST .../depart is handing the orders over: send it again "
                                    "if it did not finish); departed; or cancelled")
    stops: list[StopOut]
    loaded: int = Field(description="packages in the load plan")
    left_out: list[LeftOutOut] = Field(description="packages that did not go, with why; they stay ready")
    weight_kg: str
    volume_utilisation: str
    weight_utilisation: str
    load_length_mm: int
    plan_sound: bool = Field(description="the independent checker found nothing wrong with the plan")
    made_by: Literal["staff", "schedule"] = Field(
        description="staff (POST /warehouse/dispatches) or the carrier's pickup schedule")
    created_by: str = Field(description="the API key (and person named) that made it, or the schedule: "
                                        "orderflow-dispatch-<carrier> (system)")
    pickup_at: datetime | None = Field(description="the schedule's dispatches: the pickup cut-off it is for")
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


def _left_out(plan: dict[str, Any]) -> list[LeftOutOut]:
    return [LeftOutOut(tracking_number=u["package_id"], order_id=u["order_id"], stop=u["stop"], reason=u["reason"])
            for u in plan["unplaced"]]


def _out(d: Dispatch, *, with_packages: bool) -> DispatchOut:
    return DispatchOut(
        id=d.id, carrier=d.carrier, vehicle=d.vehicle, status=d.status,
        stops=[StopOut(**s) for s in d.plan["stops"]], loaded=d.loaded, left_out=_left_out(d.plan),
        weight_kg=f"{Decimal(d.weight_grams) / 1000:.1f}", volume_utilisation=f"{d.volume_utilisation:.3f}",
        weight_utilisation=f"{d.weight_utilisation:.3f}", load_length_mm=d.load_length_mm, plan_sound=d.plan_sound,
        made_by=d.made_by, created_by=d.created_by, pickup_at=d.pickup_at, created_at=d.created_at, closed_at=d.closed_at,
        packages=[DispatchPackageOut(sequence=p.sequence, tracking_number=p.tracking_number, order_id=p.order_id,
                                     shipment_id=p.shipment_id, stop=p.stop, region=p.region)
                  for p in d.packages] if with_packages else None)


def _unique(values: list[str] | None) -> list[str] | None:
    return list(dict.fromkeys(values)) if values is not None else None


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
    409: nothing ready, a named package not ready or in another open dispatch, named packages
    that leave out ready packages of the same order (named in the answer), or nothing goes in
    the vehicle. Roles: warehouse, ops."""
    try:
        dispatch, _ = await make_dispatch(sessions, body.carrier, actor=principal.actor(),
                                          home_country=settings.returns_country, vehicle=body.vehicle,
                                          tracking_numbers=_unique(body.tracking_numbers),
                                          shipment_ids=_unique(body.shipment_ids))
    except DispatchRefused as exc:
        raise ApiError(exc.status, exc.message) from None
    return _out(dispatch, with_packages=True)


@router.get("/warehouse/dispatches", response_model=list[DispatchOut], summary="Dispatches, newest first")
async def dispatches(_: WarehouseOrOps, sessions: Sessions,
                     carrier: str | None = Query(default=None, max_length=32, pattern=PRINTABLE_CODE),
                     status: Literal["open", "departing", "departed", "cancelled"] | None = Query(default=None),
                     limit: int = Query(default=50, ge=1, le=500)) -> list[DispatchOut]:
    """Filter by `carrier` and `status` (open, departing, departed, cancelled); the packages of
    an open or departing dispatch are in no other. Roles: warehouse, ops."""
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
    cancelled dispatch; a departing or departed one cannot be cancelled (409). Roles: warehouse,
    ops."""
    async with transaction(sessions) as session:
        d = await _dispatch(session, dispatch_id, lock=True)
        if d.status == CANCELLED:
            return _out(d, with_packages=True)
        if d.status == DEPARTING:
            raise ApiError(409, f"dispatch {d.id} is departing: the vehicle is leaving; send POST "
                                f"/warehouse/dispatches/{d.id}/depart again to finish", status=d.status)
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
    `handover` with why: take its packages out of the vehicle; so is an order some of whose
    booked packages are not in this dispatch (it is handed over whole or not at all). When
    Temporal cannot be reached (or another error than the order's refusal), 503 lists the
    orders not handed over and the dispatch stays `departing`, its packages claimed: send it
    again, which hands over the rest (an order handed over already counts). A repeat answers
    the departed dispatch; a cancelled one cannot depart (409). Roles: warehouse, ops."""
    # Departing first, under the row lock and before any handover: a cancel from now on is
    # refused, so no order is shipped in a dispatch that ends cancelled.
    async with transaction(sessions) as session:
        d = await _dispatch(session, dispatch_id, lock=True)
        if d.status == DEPARTED:
            return _out(d, with_packages=True)
        if d.status not in (OPEN, DEPARTING):
            raise ApiError(409, f"dispatch {d.id} is {d.status}; only an open dispatch can depart", status=d.status)
        d.status = DEPARTING
        order_ids = list(dict.fromkeys(p.order_id for p in d.packages))
        elsewhere = await packages_elsewhere(session, d)
    step = StepBody(confirmed_by=body.confirmed_by) if body and body.confirmed_by else None
    results, unsure = [], []
    for order_id in order_ids:
        if order_id in elsewhere:
            # The handover ships the whole order: with some of its packages not in this vehicle
            # it waits for a dispatch that takes them all.
            results.append(HandoverOut(
                order_id=order_id, handed_over=False, status=None,
                message=f"not handed over: its packages {', '.join(elsewhere[order_id][:10])} are not in this "
                        "dispatch; take its packages out of the vehicle, they go in a dispatch with the rest"))
            continue
        try:
            # A handover confirmed before (by hand, or by a /depart that did not finish) answers
            # accepted=false: handed over all the same.
            done = await handover(order_id, principal, sessions, temporal, settings, step)
            results.append(HandoverOut(order_id=order_id, handed_over=True, status=done.status, message=done.message))
        except ApiError as exc:
            results.append(HandoverOut(order_id=order_id, handed_over=False, status=exc.extra.get("status"),
                                       message=exc.detail))
            if exc.status_code != 409:
                # Not the order's refusal (Temporal unreachable, ...): whether it may go is not
                # known, so the dispatch stays departing with its packages claimed.
                unsure.append(f"{order_id} ({exc.detail})")
    if unsure:
        raise ApiError(503, f"dispatch {dispatch_id} is still departing: {len(unsure)} orders could not be handed "
                            f"over: {'; '.join(unsure[:10])}; send POST /warehouse/dispatches/{dispatch_id}/depart "
                            "again (orders handed over already are not handed over twice)",
                       headers={"Retry-After": "5"}, status=DEPARTING,
                       handover=[r.model_dump(mode="json") for r in results])
    async with transaction(sessions) as session:
        d = await _dispatch(session, dispatch_id, lock=True)
        if d.status == DEPARTING:  # a twin request may have finished it meanwhile
            d.status, d.closed_at = DEPARTED, utcnow()
            # Only now are the claims let go: the packages of an order that was refused (cancelled,
            # finished) may go in another dispatch once the order is ready again.
            for p in d.packages:
                p.open_claim = None
            failed = [r.order_id for r in results if not r.handed_over]
            session.add(action_row(StaffActionKind.DISPATCH, principal.actor(body.confirmed_by if body else None),
                                   detail=f"dispatch {d.id} for {d.carrier} departed: {len(results) - len(failed)} "
                                          f"orders handed over, {len(failed)} not"))
        out = _out(d, with_packages=True)
    out.handover = results
    return out
