"""Dispatches in the database: the packages one carrier collects in one vehicle, with the load
plan made for them (``activities.planning.loading``).

A package is in at most one open dispatch: while the dispatch is open (or departing), its row
carries the package's tracking number in ``open_claim``, a unique column (NULL once the
dispatch is cancelled or has left), so two dispatches made at the same moment cannot both take it,
whatever either read first. Packages the plan leaves out (no room, over the payload) get no
row: they stay ready for the next dispatch, and the stored plan lists them with why.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from activities.planning.loading import Package, number_stops, stop_region
from domain.enums import OrderStatus, ShipmentStatus
from storage.containers import Container
from storage.models import Base, Order, PackingPlanRecord, Shipment, ShipmentPackage, utcnow

OPEN, DEPARTING, DEPARTED, CANCELLED = "open", "departing", "departed", "cancelled"
# Departing: /depart is handing the orders over (it cannot be cancelled any more); its packages
# stay claimed, as an open dispatch's, until it has departed.
STATUSES = (OPEN, DEPARTING, DEPARTED, CANCELLED)
# Who made a dispatch: staff over the API, or the carrier's pickup schedule.
MADE_BY_STAFF, MADE_BY_SCHEDULE = "staff", "schedule"


class Dispatch(Base):
    """One vehicle load for a carrier, with its load plan as computed."""

    __tablename__ = "dispatches"
    __table_args__ = (UniqueConstraint("pickup_key", name="uq_dispatches_pickup_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), index=True)
    vehicle: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True, default=OPEN)  # STATUSES
    stops: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)  # packages in the plan
    left_out: Mapped[int] = mapped_column(Integer)  # packages that did not go
    weight_grams: Mapped[int] = mapped_column(Integer)
    volume_utilisation: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    weight_utilisation: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    load_length_mm: Mapped[int] = mapped_column(Integer)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    plan_sound: Mapped[bool] = mapped_column(Boolean)  # the independent checker found nothing wrong
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None]
    made_by: Mapped[str] = mapped_column(String(16), default=MADE_BY_STAFF, server_default=MADE_BY_STAFF)
    # The schedule's dispatches only: the pickup (cut-off) it is for, and carrier@pickup, unique,
    # so that a repeated or retried tick makes no second dispatch for the same pickup.
    pickup_at: Mapped[datetime | None]
    pickup_key: Mapped[str | None] = mapped_column(String(64))

    packages: Mapped[list["DispatchPackage"]] = relationship(
        back_populates="dispatch", order_by="DispatchPackage.sequence", lazy="selectin")


class DispatchPackage(Base):
    """A package loaded in a dispatch, in loading order (``sequence`` 1 goes in first)."""

    __tablename__ = "dispatch_packages"
    __table_args__ = (
        UniqueConstraint("dispatch_id", "tracking_number", name="uq_dispatch_packages_package"),
        UniqueConstraint("open_claim", name="uq_dispatch_packages_open_claim"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispatch_id: Mapped[str] = mapped_column(ForeignKey("dispatches.id"), index=True)
    tracking_number: Mapped[str] = mapped_column(ForeignKey("shipment_packages.tracking_number"), index=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    stop: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(24))
    sequence: Mapped[int] = mapped_column(Integer)
    # The tracking number while the dispatch is open (unique), NULL after.
    open_claim: Mapped[str | None] = mapped_column(String(64))

    dispatch: Mapped[Dispatch] = relationship(back_populates="packages")


async def dispatch_for_pickup(session: AsyncSession, pickup_key: str) -> Dispatch | None:
    return (await session.execute(select(Dispatch).where(Dispatch.pickup_key == pickup_key))).scalar_one_or_none()


def new_dispatch_id() -> str:
    return f"dsp_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class ReadyPackage:
    """A booked package that may go in a dispatch, with what the planner needs of it."""

    tracking_number: str
    shipment_id: str
    order_id: str
    carrier: str
    region: str
    container: str | None
    length: int
    width: int
    height: int
    weight_g: int
    upright: bool
    pallet: bool
    booked_at: datetime  # the package's booking: more ready than a vehicle takes, the oldest go first

    def for_planner(self, stop: int) -> Package:
        return Package(self.tracking_number, stop, self.length, self.width, self.height, self.weight_g,
                       upright=self.upright, pallet=self.pallet)


@dataclass(frozen=True)
class NotReady:
    tracking_number: str
    why: str


def _readiness(package: ShipmentPackage, shipment: Shipment, order: Order, claimed_by: str | None) -> str | None:
    """Why ``package`` cannot go in a dispatch now, or None."""
    if claimed_by is not None:
        return f"already in open dispatch {claimed_by}"
    if package.status != ShipmentStatus.BOOKED or shipment.status != ShipmentStatus.BOOKED:
        return f"its shipment is {package.status if package.status != ShipmentStatus.BOOKED else shipment.status}"
    if order.status != OrderStatus.READY_TO_SHIP:
        return f"order {order.id} is {order.status}, not READY_TO_SHIP"
    return None


async def _packed_upright(session: AsyncSession, order_id: str, part: int) -> dict[int, bool]:
    """Per package number: whether the shipment's packing plan put fragile goods in it (the
    container is then kept this way up, as its wrapping instruction says)."""
    record = await session.get(PackingPlanRecord, (order_id, part))
    containers = record.plan.get("containers", []) if record is not None else []
    return {n: any(i.get("instruction") for i in c.get("items", [])) for n, c in enumerate(containers, start=1)}


async def find_packages(session: AsyncSession, carrier: str, *, tracking_numbers: Sequence[str] | None = None,
                        shipment_ids: Sequence[str] | None = None) -> tuple[list[ReadyPackage], list[NotReady], list[str]]:
    """The carrier's packages that may go in a dispatch: every ready one, or those named (by
    tracking number or shipment). Returns the ready packages, those named but not ready (with
    why), and the names that match nothing."""
    named = tracking_numbers is not None or shipment_ids is not None
    query = (select(ShipmentPackage, Shipment, Order, DispatchPackage.dispatch_id)
             .join(Shipment, Shipment.id == ShipmentPackage.shipment_id)
             .join(Order, Order.id == ShipmentPackage.order_id)
             .outerjoin(DispatchPackage, DispatchPackage.open_claim == ShipmentPackage.tracking_number))
    if named:
        query = query.where(ShipmentPackage.tracking_number.in_(list(tracking_numbers or []))
                            | ShipmentPackage.shipment_id.in_(list(shipment_ids or [])))
    else:
        query = query.where(Shipment.carrier == carrier, ShipmentPackage.status == ShipmentStatus.BOOKED,
                            Order.status == OrderStatus.READY_TO_SHIP, DispatchPackage.id.is_(None))
    rows = (await session.execute(query.order_by(ShipmentPackage.order_id, ShipmentPackage.package_number))).all()
    found_numbers = {p.tracking_number for p, *_ in rows}
    found_shipments = {p.shipment_id for p, *_ in rows}
    unknown = [t for t in tracking_numbers or [] if t not in found_numbers]
    unknown += [s for s in shipment_ids or [] if s not in found_shipments]
    # A package's container kind (pallet, crate, box) from the container catalogue; a retired
    # container is still there, so older packages are known too.
    kinds = dict((await session.execute(select(Container.code, Container.kind))).all())
    ready: list[ReadyPackage] = []
    not_ready: list[NotReady] = []
    upright_by_order: dict[str, dict[int, bool]] = {}
    for package, shipment, order, claimed_by in rows:
        why = f"booked with {shipment.carrier}, not {carrier}" if shipment.carrier != carrier else \
            _readiness(package, shipment, order, claimed_by)
        if why is not None:
            not_ready.append(NotReady(package.tracking_number, why))
            continue
        if shipment.id not in upright_by_order:
            upright_by_order[shipment.id] = await _packed_upright(session, order.id, shipment.part)
        kind = kinds.get(package.container or "")
        ready.append(ReadyPackage(
            tracking_number=package.tracking_number, shipment_id=shipment.id, order_id=order.id,
            carrier=shipment.carrier, region=stop_region(order.ship_country or "NL", order.ship_postcode or ""),
            container=package.container, length=package.length_mm, width=package.width_mm,
            height=package.height_mm, weight_g=package.weight_grams,
            upright=kind == "crate" or upright_by_order[shipment.id].get(package.package_number, False),
            pallet=kind == "pallet", booked_at=package.created_at))
    return ready, not_ready, unknown


def stops_for(packages: Sequence[ReadyPackage], home_country: str) -> dict[str, int]:
    return number_stops((p.region for p in packages), home_country)


async def still_ready(session: AsyncSession, tracking_numbers: Sequence[str]) -> list[NotReady]:
    """Re-read inside the write transaction: the packages that stopped being ready (or were
    taken by another dispatch) since they were planned."""
    rows = (await session.execute(
        select(ShipmentPackage, Shipment, Order, DispatchPackage.dispatch_id)
        .join(Shipment, Shipment.id == ShipmentPackage.shipment_id)
        .join(Order, Order.id == ShipmentPackage.order_id)
        .outerjoin(DispatchPackage, DispatchPackage.open_claim == ShipmentPackage.tracking_number)
        .where(ShipmentPackage.tracking_number.in_(list(tracking_numbers))))).all()
    gone = []
    for package, shipment, order, claimed_by in rows:
        why = _readiness(package, shipment, order, claimed_by)
        if why is not None:
            gone.append(NotReady(package.tracking_number, why))
    return gone


async def list_dispatches(session: AsyncSession, *, carrier: str | None, status: str | None,
                          limit: int) -> Sequence[Dispatch]:
    query = select(Dispatch)
    if carrier is not None:
        query = query.where(Dispatch.carrier == carrier)
    if status is not None:
        query = query.where(Dispatch.status == status)
    return (await session.execute(query.order_by(Dispatch.created_at.desc(), Dispatch.id).limit(limit))).scalars().all()


async def order_statuses(session: AsyncSession, order_ids: Sequence[str]) -> dict[str, str]:
    return dict((await session.execute(select(Order.id, Order.status).where(Order.id.in_(list(order_ids))))).all())


async def packages_elsewhere(session: AsyncSession, dispatch: Dispatch) -> dict[str, list[str]]:
    """Per order in ``dispatch``: its booked packages that are not in it (none for an order
    wholly in the vehicle). Packages of an earlier shipment of an order shipped in parts have
    left already: only shipments still booked count."""
    loaded = {p.tracking_number for p in dispatch.packages}
    order_ids = list({p.order_id for p in dispatch.packages})
    rows = (await session.execute(
        select(ShipmentPackage.order_id, ShipmentPackage.tracking_number)
        .join(Shipment, Shipment.id == ShipmentPackage.shipment_id)
        .where(ShipmentPackage.order_id.in_(order_ids), ShipmentPackage.status == ShipmentStatus.BOOKED,
               Shipment.status == ShipmentStatus.BOOKED)
        .order_by(ShipmentPackage.order_id, ShipmentPackage.package_number))).all()
    elsewhere: dict[str, list[str]] = {}
    for order_id, number in rows:
        if number not in loaded:
            elsewhere.setdefault(order_id, []).append(number)
    return elsewhere
