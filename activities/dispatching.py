"""Making a dispatch: the one way a carrier's vehicle load is made up, planned and stored,
whether staff ask for it (``POST /warehouse/dispatches``) or the carrier's pickup schedule does
(``DispatchActivities.make_pickup_dispatch``, run by ``workflows.dispatching``).

``make_dispatch`` takes every package booked with the carrier whose order is READY_TO_SHIP and
that is in no other open dispatch (or the packages named), groups them into stops by
destination and plans the load (``activities.planning.loading``, in a thread) in the carrier's
usual vehicle or the one named; the independent checker (``loading_check``) checks every plan
before it is stored. The schedule's dispatches carry their pickup's key, unique, so a repeated
tick finds the dispatch made before instead of making a second.
"""

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.errors import refusal
from activities.planning.loading import (
    DEFAULT_VEHICLE,
    MIN_SUPPORT,
    VEHICLE_BY_CODE,
    LoadPlan,
    Package,
    Unplaced,
    Vehicle,
    load_length_lower_bound,
    plan_load,
)
from activities.planning.loading_check import check_load_plan
from activities.planning.waves import MONDAY_TO_FRIDAY, next_cutoff, parse_pickup_days
from domain.accountability import Actor, StaffActionKind
from domain.dispatching import SYSTEM_ROLE, PickupDispatchRequest, PickupDispatchResult, pickup_key, schedule_id
from domain.enums import ErrorType
from logs import get_logger
from storage.db import transaction
from storage.dispatches import (
    MADE_BY_SCHEDULE,
    MADE_BY_STAFF,
    OPEN,
    Dispatch,
    DispatchPackage,
    ReadyPackage,
    dispatch_for_pickup,
    find_packages,
    new_dispatch_id,
    still_ready,
    stops_for,
)
from storage.models import utcnow
from storage.staff_actions import action_row

log = get_logger(__name__)

# More ready packages than this are taken oldest booking first; the rest wait for the next
# vehicle (the largest, a trailer, takes some 1,000 parcels).
MAX_PACKAGES = 1_500


class DispatchRefused(Exception):
    """Why no dispatch was made, for a person to act on; ``status`` is the HTTP status the API
    answers with, ``retry`` whether the same request may well succeed when sent again."""

    def __init__(self, status: int, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.retry = status, message, retry


class NothingReady(DispatchRefused):
    pass


@dataclass(frozen=True)
class Pickup:
    """The carrier pickup a scheduled dispatch is for: its cut-off (UTC) and unique key."""

    at: datetime
    key: str


def _listing(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _instruction(p: ReadyPackage) -> str | None:
    if p.pallet:
        return "pallet: forklift or pallet truck, on the floor, nothing on top"
    if p.upright:
        return "keep this way up"
    return None


def oldest_whole_orders(ready: list[ReadyPackage], limit: int) -> list[ReadyPackage]:
    """At most ``limit`` of the ``ready`` packages, whole orders only, the order booked first
    first: an order cut in two here would be split across vehicles. An order larger than what
    is left is passed over for the smaller ones after it."""
    by_order: dict[str, list[ReadyPackage]] = defaultdict(list)
    for p in ready:
        by_order[p.order_id].append(p)
    taken: list[ReadyPackage] = []
    for packages in sorted(by_order.values(), key=lambda ps: (min(p.booked_at for p in ps), ps[0].order_id)):
        if len(taken) + len(packages) <= limit:
            taken += packages
    return taken


def _plan_whole_orders(ready: list[ReadyPackage], stops: dict[str, int], vehicle: Vehicle) -> tuple[LoadPlan, list[str]]:
    """Plan the load, keeping each order's packages together: when only some of an order's
    packages go, the order is held back whole and the rest planned again (an order shipped
    over two days is a worse surprise than one a day later). Then the independent check.
    CPU-bound: run it in a thread."""
    packages = [p.for_planner(stops[p.region]) for p in ready]
    order_of = {p.tracking_number: p.order_id for p in ready}
    held: list[Unplaced] = []
    planned = packages
    while True:
        plan = plan_load(planned, vehicle)
        placed = {p.package_id for p in plan.placements}
        split = {order_of[u.package_id] for u in plan.unplaced} & {order_of[i] for i in placed}
        if not split:
            break
        # The split orders are held back whole (all their packages, not only those placed: a
        # package left in the plan would go without the rest). Each round takes out at least
        # one order, so this ends, at worst with nothing planned.
        held += [Unplaced(p.id, p.stop, "held back with the other packages of its order, which do not all go")
                 for p in planned if order_of[p.id] in split and p.id in placed]
        planned = [p for p in planned if order_of[p.id] not in split]
        held += [Unplaced(u.package_id, u.stop, u.reason) for u in plan.unplaced if order_of[u.package_id] in split]
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


async def _earlier(sessions: async_sessionmaker[AsyncSession], pickup: Pickup | None) -> Dispatch | None:
    if pickup is None:
        return None
    async with sessions() as session:
        return await dispatch_for_pickup(session, pickup.key)


async def make_dispatch(sessions: async_sessionmaker[AsyncSession], carrier: str, *, actor: Actor,
                        home_country: str, vehicle: str | None = None,
                        tracking_numbers: Sequence[str] | None = None, shipment_ids: Sequence[str] | None = None,
                        pickup: Pickup | None = None) -> tuple[Dispatch, bool]:
    """Make up, plan and store a dispatch for ``carrier`` (see the module's docstring), logged
    in the action log as done by ``actor``. With a ``pickup`` (the schedule's), the dispatch
    made for that pickup before, if any, is answered instead. Returns the dispatch and whether
    this call made it. ``DispatchRefused`` (``NothingReady`` when nothing is ready) otherwise;
    nothing is written then."""
    if carrier not in DEFAULT_VEHICLE:
        raise DispatchRefused(422, f"unknown carrier {carrier!r}; dispatches are made for "
                                   f"{', '.join(sorted(DEFAULT_VEHICLE))}")
    code = vehicle or DEFAULT_VEHICLE[carrier]
    chosen = VEHICLE_BY_CODE.get(code)
    if chosen is None:
        raise DispatchRefused(422, f"unknown vehicle {code!r}; choose one of {', '.join(VEHICLE_BY_CODE)} "
                                   "(GET /warehouse/vehicles), or leave it out for the carrier's usual one")
    if (earlier := await _earlier(sessions, pickup)) is not None:
        return earlier, False
    async with sessions() as session:
        ready, not_ready, unknown = await find_packages(session, carrier, tracking_numbers=tracking_numbers,
                                                        shipment_ids=shipment_ids)
        if (tracking_numbers is not None or shipment_ids is not None) and ready and not unknown and not not_ready:
            # Named packages keep orders whole too: the rest of an order left behind would be
            # shipped with the first departure all the same, by the order's handover.
            named = {p.tracking_number for p in ready}
            orders = {p.order_id for p in ready}
            every, _, _ = await find_packages(session, carrier)
            left = [p for p in every if p.order_id in orders and p.tracking_number not in named]
            if left:
                raise DispatchRefused(409, "an order's packages go together: "
                                           f"{_listing([f'{p.tracking_number} (order {p.order_id})' for p in left])} "
                                           "are ready too and were not named; name them as well, or leave the "
                                           "order out")
    if unknown:
        raise DispatchRefused(422, f"no package or shipment {_listing(unknown)}; check the numbers on the labels "
                                   "(GET /orders/{id} lists an order's shipments and packages)")
    if not_ready:
        raise DispatchRefused(409, "these packages cannot go in a dispatch: "
                                   f"{_listing([f'{n.tracking_number} ({n.why})' for n in not_ready])}; "
                                   "leave them out, or cancel the other dispatch first")
    if not ready:
        raise NothingReady(409, f"nothing is ready for {carrier}: no package booked with it whose order is "
                                "READY_TO_SHIP and that is in no open dispatch (GET /warehouse/dispatches lists "
                                "the open ones)")
    ready = oldest_whole_orders(ready, MAX_PACKAGES)
    stops = stops_for(ready, home_country)
    plan, problems = await asyncio.to_thread(_plan_whole_orders, ready, stops, chosen)
    if not plan.placements:
        reasons = sorted({u.reason for u in plan.unplaced})
        raise DispatchRefused(409, f"none of the {len(ready)} packages goes in the {chosen.name}: "
                                   f"{_listing(reasons, 3)}; name a larger vehicle (GET /warehouse/vehicles)")
    if problems:
        # A planner bug: the plan is stored (staff can see what is wrong) but flagged.
        log.error("load plan failed the independent check", problems=problems[:20], carrier=carrier)
    data = _stored_plan(plan, ready, stops, problems, chosen)
    by_number = {p.tracking_number: p for p in ready}
    try:
        async with transaction(sessions) as session:
            # Under the write lock: a twin tick that got here first has made the pickup's dispatch.
            if pickup is not None and (earlier := await dispatch_for_pickup(session, pickup.key)) is not None:
                return earlier, False
            gone = await still_ready(session, [p.package_id for p in plan.placements])
            if gone:
                raise DispatchRefused(409, "the packages changed while the load was planned: "
                                           f"{_listing([f'{n.tracking_number} ({n.why})' for n in gone])}; send "
                                           "the request again", retry=True)
            dispatch = Dispatch(
                id=new_dispatch_id(), carrier=carrier, vehicle=chosen.code, status=OPEN, stops=len(stops),
                loaded=len(plan.placements), left_out=len(plan.unplaced), weight_grams=plan.weight_g,
                volume_utilisation=Decimal(str(data["volume_utilisation"])),
                weight_utilisation=Decimal(str(data["weight_utilisation"])), load_length_mm=plan.load_length_mm,
                plan=data, plan_sound=not problems, created_by=actor.label(), created_at=utcnow(),
                made_by=MADE_BY_SCHEDULE if pickup else MADE_BY_STAFF,
                pickup_at=pickup.at if pickup else None, pickup_key=pickup.key if pickup else None)
            session.add(dispatch)
            await session.flush()
            for p in plan.placements:
                r = by_number[p.package_id]
                session.add(DispatchPackage(dispatch_id=dispatch.id, tracking_number=r.tracking_number,
                                            shipment_id=r.shipment_id, order_id=r.order_id, stop=p.stop,
                                            region=r.region, sequence=p.sequence, open_claim=r.tracking_number))
            for_pickup = f" for the pickup at {pickup.at:%Y-%m-%d %H:%M} UTC" if pickup else ""
            session.add(action_row(StaffActionKind.DISPATCH, actor, detail=(
                f"dispatch {dispatch.id} for {carrier}{for_pickup}: {len(plan.placements)} packages in "
                f"{chosen.code}, {len(stops)} stops, {len(plan.unplaced)} left out")))
            await session.flush()
            await session.refresh(dispatch, ["packages"])
    except IntegrityError as exc:
        # Another dispatch took one of these packages at the same moment (its open_claim), or
        # (PostgreSQL, no table lock) a twin tick stored the pickup's dispatch first.
        if (earlier := await _earlier(sessions, pickup)) is not None:
            return earlier, False
        raise DispatchRefused(409, "another dispatch took some of these packages at the same moment; GET "
                                   "/warehouse/dispatches shows it, and a new request takes what is left",
                              retry=True) from exc
    log.info("dispatch made", dispatch_id=dispatch.id, carrier=carrier, vehicle=chosen.code, made_by=dispatch.made_by,
             loaded=dispatch.loaded, left_out=dispatch.left_out, volume_utilisation=data["volume_utilisation"])
    return dispatch, True


@dataclass(frozen=True)
class PickupTimes:
    """The carriers' pickups from the settings: cut-off (wall-clock, in ``zone``) and days."""

    cutoffs: Mapping[str, time]
    days: Mapping[str, frozenset[int]]
    zone: ZoneInfo

    def next_pickup(self, carrier: str, after: datetime) -> datetime:
        """The carrier's first cut-off strictly after ``after``, in UTC."""
        return next_cutoff(after, self.cutoffs[carrier], self.zone,
                           self.days.get(carrier, MONDAY_TO_FRIDAY)).astimezone(UTC)


class DispatchActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], pickups: PickupTimes, home_country: str) -> None:
        self._sessions = sessions
        self._pickups = pickups
        self._home_country = home_country

    @activity.defn
    async def make_pickup_dispatch(self, request: PickupDispatchRequest) -> PickupDispatchResult:
        """The dispatch for the carrier's first pickup after the tick, made as staff would
        make it, by the schedule: once per pickup (a repeated tick answers the dispatch made
        before), none when nothing is ready or nothing fits."""
        carrier = request.carrier
        if carrier not in self._pickups.cutoffs:
            # The schedule outlived the setting: the next worker start deletes it.
            raise refusal(ErrorType.INVALID_REQUEST, f"carrier {carrier!r} has no pickup cut-off in "
                                                     "ORDERFLOW_CARRIER_PICKUP_CUTOFFS; no dispatch made")
        at = self._pickups.next_pickup(carrier, request.tick_at)
        pickup = Pickup(at=at, key=pickup_key(carrier, at))
        actor = Actor(key_name=schedule_id(carrier), role=SYSTEM_ROLE)

        def result(dispatch_id: str | None, made: bool, note: str) -> PickupDispatchResult:
            return PickupDispatchResult(carrier=carrier, pickup_at=at, pickup_key=pickup.key,
                                        dispatch_id=dispatch_id, made=made, note=note)

        try:
            dispatch, made = await make_dispatch(self._sessions, carrier, actor=actor,
                                                 home_country=self._home_country, pickup=pickup)
        except NothingReady as exc:
            return result(None, False, exc.message)
        except DispatchRefused as exc:
            if exc.retry:
                raise  # the packages changed under the plan: the retry plans again
            if exc.status == 422:
                raise refusal(ErrorType.INVALID_REQUEST, exc.message) from None
            log.warning("scheduled dispatch not made", carrier=carrier, pickup_key=pickup.key, why=exc.message)
            return result(None, False, exc.message)
        note = (f"{dispatch.loaded} packages in {dispatch.vehicle}, {dispatch.left_out} left out" if made
                else f"made before: dispatch {dispatch.id}")
        return result(dispatch.id, made, note)


def pickup_times(cutoffs: Mapping[str, str], days: Mapping[str, str], zone: str) -> PickupTimes:
    """The settings' text (``"HH:MM"``, ``"Mon-Fri"``, an IANA zone) as ``PickupTimes``."""
    return PickupTimes(cutoffs={c: time.fromisoformat(t) for c, t in cutoffs.items()},
                       days={c: parse_pickup_days(d) for c, d in days.items()}, zone=ZoneInfo(zone))

