"""Wave picking: which open orders go on one trolley round, and when each order is due.

An order is due at its carrier's next pickup cut-off after it was released to the warehouse,
on a day the carrier collects (``parse_pickup_days``: most collect Monday to Friday).
A wave takes the orders due first (and those due within a window after them), oldest release
first, up to the trolley's capacity in orders, volume and weight; an order too big for a
trolley on its own is left to be picked alone. The wave is walked as one route
(``routing.plan_route`` over every order's stops) and sorted per order (one tote each) at the
pack station. Pure: no I/O, so the benchmark and the tests run it directly.
"""

from collections.abc import Collection, Mapping, Sequence
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


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONDAY_TO_FRIDAY = frozenset(range(5))


def parse_pickup_days(text: str) -> frozenset[int]:
    """The weekdays (Monday 0 .. Sunday 6) in ``text``: English names (``Mon`` or ``Monday``,
    any case) separated by commas, and ranges such as ``Mon-Fri`` (a range may run past
    Sunday: ``Sat-Mon``). ``ValueError`` saying what is wrong otherwise."""
    days: set[int] = set()
    for part in text.split(","):
        ends = [_weekday(name) for name in part.split("-")]
        if len(ends) > 2 or None in ends:
            raise ValueError(f"{text!r} is no list of weekdays; give e.g. Mon-Fri, Mon-Sat or Mon,Wed,Fri")
        first, last = ends[0], ends[-1]
        days.update((first + k) % 7 for k in range((last - first) % 7 + 1))
    return frozenset(days)


def _weekday(name: str) -> int | None:
    name = name.strip().lower()
    return next((i for i, day in enumerate(WEEKDAYS) if name in (day, _FULL_NAMES[i])), None)


def next_cutoff(after: datetime, cutoff: time, zone: ZoneInfo, days: Collection[int]) -> datetime:
    """The first moment at wall-clock ``cutoff`` in ``zone``, on one of the weekdays ``days``
    (Monday 0), strictly after ``after`` (aware, returned in the same zone as ``after``). The
    time is the local one on that date, so across a change to or from summer time the
    cut-off stays at the same wall-clock time. Public holidays are not modelled."""
    if not set(days) & set(range(7)):
        raise ValueError(f"pickup days {sorted(days)} hold no weekday (Monday 0 .. Sunday 6)")
    local = after.astimezone(zone)
    for ahead in range(8):  # today may be a pickup day whose cut-off has passed: a week on
        day = local.date() + timedelta(days=ahead)
        candidate = datetime.combine(day, cutoff, tzinfo=zone)
        if day.weekday() in days and candidate > local:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError("a pickup day comes within a week")


def due_at(released_at: datetime, carrier: str | None, cutoffs: Mapping[str, time], zone: ZoneInfo,
           pickup_days: Mapping[str, Collection[int]]) -> datetime:
    """When the order must be packed: its carrier's next cut-off on one of its pickup days
    (Monday to Friday for a carrier ``pickup_days`` does not name), or, with no carrier known
    yet (chosen at booking by price or speed), the earliest next cut-off of all carriers."""
    carriers = [carrier] if carrier in cutoffs else list(cutoffs)
    return min(next_cutoff(released_at, cutoffs[c], zone, pickup_days.get(c, MONDAY_TO_FRIDAY)) for c in carriers)


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
