"""Waves in the database: building one from the open pick lists (the choice and the route come
from the pure planner in ``activities.planning.waves``), inside the caller's write
transaction, so a pick list joins at most one wave however many staff press the button."""

import asyncio
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.planning.layout import Layout, demo_layout
from activities.planning.waves import Trolley, WaveCandidate, choose_wave, due_at, fits, wave_route
from domain.enums import ShippingPreference
from storage.models import Order, PickList, Product, WarehouseLocation, Wave, WaveStep
from storage.warehouse import metres, point_of


@dataclass(frozen=True)
class WaveRules:
    trolley: Trolley
    window: timedelta
    cutoffs: Mapping[str, time]
    zone: ZoneInfo
    pickup_days: Mapping[str, Collection[int]]  # carrier -> weekdays (Monday 0) it collects


@dataclass
class NoWave:
    """Why no wave could be built: counts of the open pick lists passed over."""

    open_lists: int = 0
    started: int = 0
    too_big: int = 0

    def message(self) -> str:
        if not self.open_lists:
            return "no open pick list waits for a wave; orders get one when they are released to the warehouse"
        return (f"none of the {self.open_lists} open pick lists can go in a wave: {self.started} already being "
                f"picked, {self.too_big} too big for a trolley on its own; pick those from their own pick list")


async def build_wave(session: AsyncSession, rules: WaveRules, *, created_by: str, now: datetime,
                     layout: Layout | None = None) -> Wave | NoWave:
    layout = layout or demo_layout()
    lists = (await session.execute(select(PickList).where(PickList.status == "open", PickList.wave_id.is_(None))
                                   .order_by(PickList.created_at, PickList.id).with_for_update())).scalars().all()
    passed = NoWave(open_lists=len(lists))
    candidates: dict[str, tuple[WaveCandidate, PickList]] = {}
    for pl in lists:
        if any(ln.picked or ln.short for ln in pl.lines):
            passed.started += 1  # begun on its own: finished on its own
            continue
        order = await session.get(Order, pl.order_id)
        carrier = order.preferred_carrier if order.shipping_preference == ShippingPreference.NAMED else None
        volume = weight = 0.0
        for ln in pl.lines:
            p = await session.get(Product, ln.sku)
            volume += ln.quantity * p.length_mm * p.width_mm * p.height_mm / 1e6
            weight += ln.quantity * p.weight_grams / 1000
        candidate = WaveCandidate(pick_list_id=pl.id, released_at=pl.created_at, volume_l=volume, weight_kg=weight,
                                  due_at=due_at(pl.created_at, carrier, rules.cutoffs, rules.zone, rules.pickup_days))
        if not fits(candidate, rules.trolley):
            passed.too_big += 1
            continue
        candidates[pl.id] = (candidate, pl)
    chosen = choose_wave([c for c, _ in candidates.values()], rules.trolley, rules.window)
    if not chosen:
        return passed
    members = [candidates[c.pick_list_id][1] for c in chosen]
    locations = {loc.code: loc for loc in (await session.execute(select(WarehouseLocation).where(
        WarehouseLocation.code.in_({ln.location_code for pl in members for ln in pl.lines})))).scalars()}
    stops_per_order = [[point_of(locations[ln.location_code]) for ln in pl.lines] for pl in members]
    stops, route = await asyncio.to_thread(wave_route, layout, stops_per_order)
    rank = {stops[i]: n for n, i in enumerate(route.order)}
    wave = Wave(id=f"wv_{uuid.uuid4().hex[:16]}", status="open", due_at=min(c.due_at for c in chosen),
                route_length_m=metres(route.length), single_routes_m=sum((pl.route_length_m for pl in members)),
                route_exact=route.exact, created_by=created_by[:100], created_at=now)
    session.add(wave)
    await session.flush()
    walk = []
    for tote, pl in enumerate(members, start=1):
        pl.wave_id, pl.tote = wave.id, tote
        for ln in pl.lines:
            loc = locations[ln.location_code]
            walk.append((rank[point_of(loc)], loc.shelf, tote, ln.step, ln))
    walk.sort(key=lambda w: w[:4])
    for step, (*_, ln) in enumerate(walk, start=1):
        session.add(WaveStep(wave_id=wave.id, step=step, pick_list_line_id=ln.id))
    await session.flush()
    await session.refresh(wave, ["steps"])
    return wave
