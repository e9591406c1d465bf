"""Warehouse stock in the database beyond the pick list itself: a bin found to hold another
number than recorded (a short pick or a cycle count) corrected through the stock ledger, the
pick lines that counted on the missing units moved to another bin or recorded short, and the
cycle counts that follow a short pick; put-away tasks for goods coming in, with the bin they
should go to.

The SKU's on-hand figure is the bins + picked units of live orders (at the pack station) +
open put-away tasks (goods in, not yet in a bin).

Everything here runs inside the caller's write transaction, so a correction, the ledger rows,
the moved pick lines and the alerts are written together or not at all.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from activities.planning.layout import Layout, Point, demo_layout, walking_distance
from domain.accountability import Actor
from domain.enums import AlertKind
from domain.warehouse import BinOffer, allocate, bin_holds, is_bulky
from storage.alerts import AlertSpec, open_alert_count, raise_alert
from storage.models import (
    Alert,
    BinStock,
    CycleCount,
    Order,
    PickList,
    PickListLine,
    Product,
    PutAwayTask,
    Reservation,
    StockLevel,
    StockMovement,
    WarehouseLocation,
    Wave,
    WaveStep,
)

SHORT_PICK = "short_pick"
CYCLE_COUNT = "cycle_count"


class StockConflict(Exception):
    """A correction that would leave the SKU with fewer units on hand than are reserved for
    orders that have no pick list to take them back from; the message says what to do."""


@dataclass
class MovedLine:
    """What a correction did to one pick line: units moved to new steps, units short."""

    pick_list_id: str
    order_id: str
    step: int
    sku: str
    new_steps: list[int] = field(default_factory=list)
    short: int = 0


@dataclass
class BinCorrection:
    location_code: str
    sku: str
    recorded: int
    counted: int
    lines: list[MovedLine] = field(default_factory=list)
    # Orders a short_pick alert was raised for: order id -> (open alerts, message), for the
    # caller to tell each order's workflow once the transaction is committed.
    attention: dict[str, tuple[int, str]] = field(default_factory=dict)
    # Pick lists the correction finished (their last open units were short or moved): the
    # caller tells their orders once the transaction is committed.
    finished: list[str] = field(default_factory=list)

    @property
    def delta(self) -> int:
        return self.counted - self.recorded


def from_depot(location: WarehouseLocation) -> float:
    return (abs(location.x_mm) + location.y_mm) / 1000


def point_of(location: WarehouseLocation) -> Point:
    return Point(location.x_mm / 1000, location.y_mm / 1000)


async def walk_length(session: AsyncSession, codes: list[str], layout: Layout | None = None) -> float:
    """Metres from the depot via ``codes`` in the given order to the pack station."""
    layout = layout or demo_layout()
    points = [layout.depot]
    for code in codes:
        points.append(point_of(await session.get(WarehouseLocation, code)))
    points.append(layout.pack_station)
    return sum(walking_distance(layout, a, b) for a, b in zip(points, points[1:]))


def open_units(line: PickListLine) -> int:
    return line.quantity - line.picked - line.short


async def unpicked(session: AsyncSession, pick_list: PickList) -> dict[str, int]:
    """What a finished pick list left out: per SKU, the units the order's lines (or, for a
    shipment of an order shipped in parts, the shipment) still want minus every unit picked
    for it (over all rounds of the list)."""
    wanted: dict[str, int] = dict(pick_list.units or {})
    if pick_list.units is None:
        order = await session.get(Order, pick_list.order_id)
        for line in order.lines:
            if not line.dropped:
                wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    for pick in pick_list.lines:
        wanted[pick.sku] = wanted.get(pick.sku, 0) - pick.picked
    return {sku: n for sku, n in sorted(wanted.items()) if n > 0}


async def settle(session: AsyncSession, pick_list: PickList, now: datetime) -> None:
    """A pick list whose every line is picked or short is done: ``picked`` when the order has
    every unit it wants (a second round may have brought what the first was short of), else
    ``short`` (the missing units go down the order's out-of-stock path)."""
    if pick_list.status == "open" and all(open_units(ln) <= 0 for ln in pick_list.lines):
        missing = any(ln.short for ln in pick_list.lines) and await unpicked(session, pick_list)
        pick_list.status = "short" if missing else "picked"
        pick_list.picked_at = now


async def settle_wave(session: AsyncSession, wave_id: str | None, now: datetime) -> Wave | None:
    """A wave is picked once none of its pick lists is open any more."""
    if wave_id is None:
        return None
    wave = await session.get(Wave, wave_id)
    await session.flush()
    still_open = await session.scalar(select(func.count()).select_from(PickList).where(
        PickList.wave_id == wave_id, PickList.status == "open"))
    if wave.status == "open" and not still_open:
        wave.status, wave.picked_at = "picked", now
    return wave


async def correct_bin(session: AsyncSession, stock: BinStock, counted: int, *, reason: str, note: str,
                      actor: Actor | None, now: datetime, idempotency_key: str | None = None,
                      first: PickListLine | None = None) -> BinCorrection:
    """The bin holds ``counted`` units of its SKU (lot), not what the records say. The SKU's
    on-hand figure moves by the difference (one ledger row, ``reason``). Open pick lines that
    counted on units no longer there (``first`` before the others) get them from other bins,
    as new steps at the end of their pick list, or record them short: the order's reservation
    of short units is released (they are not there) and a ``short_pick`` alert is raised.
    ``stock`` must be locked by the caller. Raises ``StockConflict`` instead of letting on-hand
    drop below what is reserved."""
    level = (await session.execute(select(StockLevel).where(StockLevel.sku == stock.sku)
                                   .with_for_update())).scalar_one()
    correction = BinCorrection(location_code=stock.location_code, sku=stock.sku, recorded=stock.quantity,
                               counted=counted)
    on_hand = level.on_hand + correction.delta
    reserved = level.reserved
    excess = stock.allocated - counted
    if excess > 0:
        lines = list((await session.execute(
            select(PickListLine).join(PickList, PickList.id == PickListLine.pick_list_id)
            .where(PickListLine.bin_stock_id == stock.id, PickList.status == "open",
                   PickListLine.picked + PickListLine.short < PickListLine.quantity)
            # The newest lists give way first: older ones are likelier on their way already.
            .order_by(PickList.created_at.desc(), PickListLine.step))).scalars())
        if first is not None and first in lines:
            lines.remove(first)
            lines.insert(0, first)
        for line in lines:
            if excess <= 0:
                break
            take = min(open_units(line), excess)
            excess -= take
            stock.allocated -= take
            # Units the SKU no longer has for everyone who holds them are this line's loss.
            must_release = min(take, max(0, reserved - on_hand))
            moved = await _move_to_other_bins(session, line, stock, take - must_release, now)
            unfilled = take - sum(n for _, n in moved)
            if unfilled:
                reserved -= await _release_short(session, line, unfilled, correction, note)
            pick_list = await session.get(PickList, line.pick_list_id)
            correction.lines.append(MovedLine(pick_list_id=pick_list.id, order_id=pick_list.order_id, step=line.step,
                                              sku=line.sku, new_steps=[s for s, _ in moved], short=unfilled))
            if moved:
                pick_list.route_length_m = metres(await walk_length(session, [ln.location_code for ln in pick_list.lines]))
            was_open = pick_list.status == "open"
            await settle(session, pick_list, now)
            if was_open and pick_list.status != "open" and pick_list.id not in correction.finished:
                correction.finished.append(pick_list.id)
            await settle_wave(session, pick_list.wave_id, now)
    if on_hand < reserved:
        raise StockConflict(
            f"{stock.sku}: counting {counted} in {stock.location_code} (recorded {correction.recorded}) would leave "
            f"{on_hand} on hand against {reserved} reserved for orders not yet on a pick list; pick or release those "
            "orders first, then count again")
    # Now that no open line counts on more than is there, the bin may hold fewer units.
    stock.allocated = max(0, min(stock.allocated, counted))
    stock.quantity = counted
    level.on_hand, level.reserved, level.updated_at = on_hand, reserved, now
    if correction.delta:
        session.add(StockMovement(sku=stock.sku, on_hand_delta=correction.delta, reason=reason, note=note[:500],
                                  idempotency_key=idempotency_key, actor=actor.key_name if actor else None,
                                  actor_role=actor.role if actor else None))
    await session.flush()
    for line in correction.lines:
        if line.short:
            alert = await _alert_short(session, line, stock.location_code, now)
            if alert is not None:
                correction.attention[line.order_id] = (await open_alert_count(session, line.order_id),
                                                       f"alert {alert.id} ({alert.kind}) raised: {alert.message}")
    return correction


async def _move_to_other_bins(session: AsyncSession, line: PickListLine, empty: BinStock, quantity: int,
                              now: datetime) -> list[tuple[int, int]]:
    """Allocate ``quantity`` of the line's units to other bins of the SKU by the usual stock
    rules; each becomes a new step at the end of the line's pick list. Returns (step, units)."""
    if quantity <= 0:
        return []
    bins = list((await session.execute(select(BinStock).where(BinStock.sku == line.sku, BinStock.id != empty.id)
                                       .order_by(BinStock.id).with_for_update())).scalars())
    by_id = {b.id: b for b in bins}
    offers = [BinOffer(b.id, b.quantity - b.allocated, b.expiry_date,
                       from_depot(await session.get(WarehouseLocation, b.location_code))) for b in bins]
    pick_list = await session.get(PickList, line.pick_list_id)
    step = max(ln.step for ln in pick_list.lines)
    moved = []
    added = []
    for bin_id, n in allocate(quantity, offers):
        step += 1
        by_id[bin_id].allocated += n
        line.quantity -= n
        added.append(PickListLine(step=step, bin_stock_id=bin_id, location_code=by_id[bin_id].location_code,
                                  sku=line.sku, quantity=n, picked=0, short=0))
        pick_list.lines.append(added[-1])
        moved.append((step, n))
    if added and pick_list.wave_id is not None:
        # Walked in a wave: the new bins are the wave's last steps too.
        await session.flush()
        last = await session.scalar(select(func.coalesce(func.max(WaveStep.step), 0)).where(
            WaveStep.wave_id == pick_list.wave_id)) or 0
        for offset, new_line in enumerate(added, start=1):
            session.add(WaveStep(wave_id=pick_list.wave_id, step=last + offset, pick_list_line_id=new_line.id))
    return moved


async def _release_short(session: AsyncSession, line: PickListLine, unfilled: int, correction: BinCorrection,
                         note: str) -> int:
    """The line's ``unfilled`` units are short: the order's reservation of them is released.
    Returns how many reserved units were released."""
    line.short += unfilled
    pick_list = await session.get(PickList, line.pick_list_id)
    reservation = (await session.execute(select(Reservation).where(
        Reservation.order_id == pick_list.order_id, Reservation.sku == line.sku,
        Reservation.status == "held").with_for_update())).scalar_one_or_none()
    if reservation is None:
        return 0
    released = min(unfilled, reservation.quantity)
    reservation.quantity -= released
    if reservation.quantity == 0:
        reservation.status = "released"
    session.add(StockMovement(sku=line.sku, reserved_delta=-released, reason=SHORT_PICK, order_id=pick_list.order_id,
                              note=f"{unfilled} x {line.sku} short on pick list {pick_list.id} step {line.step} "
                                   f"({correction.location_code}): {note}"[:500]))
    return released


async def _alert_short(session: AsyncSession, line: MovedLine, location: str, now: datetime) -> Alert | None:
    order = await session.get(Order, line.order_id)
    sequence = order.status_sequence if order else 0
    return await raise_alert(session, AlertSpec(
        AlertKind.SHORT_PICK, order_id=line.order_id, reference=line.pick_list_id,
        dedupe_key=f"{SHORT_PICK}:{line.order_id}:{line.sku}:{line.pick_list_id}:{line.step}:{sequence}",
        message=f"Order {line.order_id}: {line.short} x {line.sku} could not be picked (pick list {line.pick_list_id} "
                f"step {line.step}): {location} held fewer than recorded and no other bin has it. The line needs the "
                "out-of-stock path (the order's backorder policy); its reservation of those units was released."), now)


async def request_cycle_count(session: AsyncSession, stock: BinStock, *, reason: str, pick_list_id: str | None,
                              now: datetime) -> CycleCount:
    """The bin's open count, asked for now unless one is open already (the partial unique index
    decides, so two short picks at once ask once)."""
    count = CycleCount(bin_stock_id=stock.id, location_code=stock.location_code, sku=stock.sku, lot=stock.lot,
                       reason=reason, pick_list_id=pick_list_id, status="open", requested_at=now)
    try:
        async with session.begin_nested():
            session.add(count)
            await session.flush()
        return count
    except IntegrityError:
        return (await session.execute(select(CycleCount).where(
            CycleCount.bin_stock_id == stock.id, CycleCount.status == "open"))).scalar_one()


def metres(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


# --- put-away ------------------------------------------------------------------------------

GOODS_RECEIPT = "goods_receipt"
RETURN = "return"
CANCELLATION = "cancellation"
UNTRACKED = "untracked"  # on hand that no bin, order or task accounted for (a stock adjustment)


async def suggest_bin(session: AsyncSession, sku: str, quantity: int) -> str | None:
    """Where ``quantity`` units of ``sku`` coming in should go: the nearest bin already holding
    the SKU (without a lot) with room for them, counting what open put-aways will bring it;
    else the empty location nearest the depot in the SKU's zone (B for bulky goods). None when
    the warehouse has no such place."""
    product = await session.get(Product, sku)
    sides = (product.length_mm, product.width_mm, product.height_mm)
    locations = {loc.code: loc for loc in (await session.execute(select(WarehouseLocation))).scalars()}
    coming = dict((await session.execute(
        select(PutAwayTask.suggested_location, func.sum(PutAwayTask.quantity))
        .where(PutAwayTask.status == "open", PutAwayTask.sku == sku, PutAwayTask.suggested_location.is_not(None))
        .group_by(PutAwayTask.suggested_location))).all())
    homes = (await session.execute(select(BinStock).where(BinStock.sku == sku, BinStock.lot == ""))).scalars().all()
    for home in sorted(homes, key=lambda b: (from_depot(locations[b.location_code]), b.location_code)):
        room = bin_holds(locations[home.location_code].zone, sides) - home.quantity - coming.get(home.location_code, 0)
        if room >= quantity:
            return home.location_code
    used = set((await session.execute(select(BinStock.location_code).where(BinStock.quantity > 0))).scalars())
    used |= set((await session.execute(select(PutAwayTask.suggested_location).where(
        PutAwayTask.status == "open", PutAwayTask.suggested_location.is_not(None)))).scalars())
    zone = "B" if is_bulky(product.weight_grams, sides) else "A"
    free = sorted((loc for loc in locations.values() if loc.code not in used and loc.zone == zone),
                  key=lambda loc: (from_depot(loc), loc.shelf, loc.code))
    return free[0].code if free else None


async def create_put_away(session: AsyncSession, sku: str, quantity: int, *, source: str, reference: str,
                          now: datetime) -> PutAwayTask | None:
    """A put-away task for goods that came in, inside the caller's transaction (the one that
    booked them); once per (source, reference, SKU): a repeat returns None."""
    if quantity <= 0:
        return None
    task = PutAwayTask(sku=sku, quantity=quantity, source=source, reference=reference[:128],
                       dedupe_key=f"{source}:{reference}:{sku}"[:255],
                       suggested_location=await suggest_bin(session, sku, quantity), status="open", created_at=now)
    try:
        async with session.begin_nested():
            session.add(task)
            await session.flush()
    except IntegrityError:
        return None
    return task


async def put_away(session: AsyncSession, task: PutAwayTask, location_code: str, *, by: str,
                   now: datetime) -> BinStock:
    """Move the task's goods into the bin (no lot): bin stock grows, the SKU's on hand stays
    as it is (the goods were on hand since they came in). ``task`` must be locked and open."""
    stock = (await session.execute(select(BinStock).where(
        BinStock.location_code == location_code, BinStock.sku == task.sku, BinStock.lot == "")
        .with_for_update())).scalar_one_or_none()
    if stock is None:
        stock = BinStock(location_code=location_code, sku=task.sku, lot="", quantity=0, allocated=0)
        session.add(stock)
    stock.quantity += task.quantity
    task.status, task.location_code, task.put_away_by, task.done_at = "done", location_code, by[:100], now
    await session.flush()
    return stock


async def put_back_after_cancellation(session: AsyncSession, order_id: str, now: datetime) -> list[PutAwayTask]:
    """A cancelled order's pick list: units still promised to it are freed in their bins, and
    what was already picked (at the pack station) gets put-away tasks back to a bin. The pick
    lists of parts that shipped are left alone: those goods left with the carrier."""
    pick_lists = (await session.execute(select(PickList).where(
        PickList.order_id == order_id, PickList.status.not_in(("cancelled", "shipped")))
        .order_by(PickList.part).with_for_update())).scalars().all()
    picked: dict[str, int] = {}
    for pick_list in pick_lists:
        for line in pick_list.lines:
            left = open_units(line)
            if left > 0 and pick_list.status == "open":
                stock = await session.get(BinStock, line.bin_stock_id, with_for_update=True)
                stock.allocated -= min(left, stock.allocated)
            picked[line.sku] = picked.get(line.sku, 0) + line.picked
        pick_list.status = "cancelled"
        await settle_wave(session, pick_list.wave_id, now)
    tasks = [await create_put_away(session, sku, n, source=CANCELLATION, reference=order_id, now=now)
             for sku, n in sorted(picked.items())]
    return [t for t in tasks if t is not None]
