"""Wave picking: which open orders go on one trolley round, and when each order is due.

An order is due at its carrier's next pickup cut-off after it was released to the warehouse.
A wave takes the orders due first (and those due within a window after them), oldest release
first, up to the trolley's capacity in orders, volume and weight; an order too big for a
trolley on its own is left to be picked alone. The wave is walked as one route
(``routing.plan_route`` over every order's stops) and sorted per order (one tote each) at the
pack station. Pure: no I/O, so the benchmark and the tests run it directly.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from activities.planning.layout import Layout, Point
from activities.planning.routing import Route, plan_route


@dataclass(frozen=True)
class Trolley:
    max_orders: int
    max_volume_l: float
    max_weight_kg: float


@dataclass(frozen=True)
class WaveCandidate:
    pick_list_id: str
    released_at: datetime
    due_at: datetime
    volume_l: float
    weight_kg: float


def next_cutoff(after: datetime, cutoff: time, zone: ZoneInfo) -> datetime:
    """The first moment at wall-clock ``cutoff`` in ``zone`` strictly after ``after`` (aware,
    returned in the same zone as ``after``). Weekends and holidays are not modelled."""
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date(), cutoff, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), cutoff, tzinfo=zone)
    return candidate.astimezone(after.tzinfo)


def due_at(released_at: datetime, carrier: str | None, cutoffs: Mapping[str, time], zone: ZoneInfo) -> datetime:
    """When the order must be packed: its carrier's next cut-off, or, with no carrier known
    yet (chosen at booking by price or speed), the earliest next cut-off of all carriers."""
    carriers = [carrier] if carrier in cutoffs else list(cutoffs)
    return min(next_cutoff(released_at, cutoffs[c], zone) for c in carriers)


def fits(candidate: WaveCandidate, trolley: Trolley) -> bool:
    return candidate.volume_l <= trolley.max_volume_l and candidate.weight_kg <= trolley.max_weight_kg


def choose_wave(candidates: Sequence[WaveCandidate], trolley: Trolley, window: timedelta) -> list[WaveCandidate]:
    """The orders for the next round: due first (within ``window`` of the earliest due time),
    then released first, while the trolley has room; an order that does not fit is passed
    over for smaller ones behind it."""
    eligible = [c for c in candidates if fits(c, trolley)]
    if not eligible:
        return []
    first_due = min(c.due_at for c in eligible)
    group = sorted((c for c in eligible if c.due_at <= first_due + window),
                   key=lambda c: (c.due_at, c.released_at, c.pick_list_id))
    chosen: list[WaveCandidate] = []
    volume = weight = 0.0
    for c in group:
        if len(chosen) == trolley.max_orders:
            break
        if volume + c.volume_l <= trolley.max_volume_l and weight + c.weight_kg <= trolley.max_weight_kg:
            chosen.append(c)
            volume += c.volume_l
            weight += c.weight_kg
    return chosen


def wave_route(layout: Layout, stops_per_order: Sequence[Sequence[Point]]) -> tuple[list[Point], Route]:
    """One route through every order's stops (a bin two orders share is visited once).
    Returns the distinct stops and the route over them."""
    stops = list(dict.fromkeys(p for stops in stops_per_order for p in stops))
    return stops, plan_route(layout, stops)
