"""Vehicle load plans: where each package of a dispatch stands in the vehicle, in which order
staff load it, and which packages do not go (with why).

Coordinates are millimetres in the load space: ``x`` along its length from the front wall
(behind the cab, ``x = 0``, the deepest place) to the doors (``x = length``), ``y`` across, ``z``
up. Weights are grams.

Packages are loaded stop by stop, the last stop first, so that each stop's packages come out
of the doors first when the vehicle gets there. Within a stop pallets go first, then the
largest packages. Each package goes to the first of the extreme points (the corners the
packages already loaded leave free, also dropped to the surface below them and pushed back
to the nearest wall or package) ordered deepest, then lowest, then left first: the load is
built as walls across the vehicle from the front to the doors. Of the allowed rotations the
one that ends nearest the front is taken.

The rules every plan keeps (``loading_check`` verifies them, importing nothing from here):

- inside the load space, no two packages overlapping;
- each package placed as a rotation of its size; an upright package (a box with fragile
  goods, a crate) keeps its height vertical; a pallet also stands on the floor with nothing
  on it;
- the packages' weight within the vehicle's payload;
- support: a package off the floor rests, for at least ``MIN_SUPPORT`` of its base, on the
  tops of packages loaded before it;
- stop order: for a package ``a`` of an earlier stop and ``b`` of a later one, if their cross
  sections (y × z) overlap, ``b`` lies entirely deeper (``b.x + b.length <= a.x``); if their
  footprints (x × y) overlap, ``b`` lies under ``a``. Nothing of a later stop stands between
  an earlier stop's package and the doors, nor on top of it.

Not modelled: axle loads and the centre of gravity, load securing (straps, bars), the
wheel arches of a van, crush strength (a heavy box on a light one).
"""

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import permutations

MIN_SUPPORT = 0.75  # share of a package's base that must rest on what is below it


@dataclass(frozen=True)
class Vehicle:
    code: str
    name: str
    length: int  # inner load space, mm
    width: int
    height: int
    payload_kg: int

    @property
    def payload_g(self) -> int:
        return self.payload_kg * 1000

    @property
    def volume(self) -> int:
        return self.length * self.width * self.height


# Typical inner sizes and payloads; wheel arches and the tail lift are left out.
VEHICLES: tuple[Vehicle, ...] = (
    Vehicle("VAN", "Delivery van, 3.5 t (long, high roof)", 3_300, 1_700, 1_800, 1_100),
    Vehicle("BOX-TRUCK", "Box truck, 7.5 t", 6_000, 2_400, 2_300, 2_500),
    Vehicle("TRAILER", "Curtain-sider semi-trailer, 13.6 m", 13_600, 2_450, 2_700, 24_000),
)
VEHICLE_BY_CODE = {v.code: v for v in VEHICLES}

# The vehicle each carrier usually collects with; a dispatch may name another.
DEFAULT_VEHICLE: dict[str, str] = {"postnl": "VAN", "dpd": "VAN", "dhl": "BOX-TRUCK", "freight": "TRAILER"}


@dataclass(frozen=True)
class Package:
    id: str
    stop: int  # 1 is unloaded first
    length: int
    width: int
    height: int
    weight_g: int
    upright: bool = False  # the height axis stays vertical
    pallet: bool = False  # upright, on the floor, nothing on top

    @property
    def volume(self) -> int:
        return self.length * self.width * self.height


@dataclass(frozen=True)
class Placement:
    package_id: str
    stop: int
    sequence: int  # loading order: 1 goes in first
    x: int
    y: int
    z: int
    length: int  # as placed, along x, y, z
    width: int
    height: int
    weight_g: int


@dataclass(frozen=True)
class Unplaced:
    package_id: str
    stop: int
    reason: str


@dataclass
class LoadPlan:
    vehicle: Vehicle
    placements: list[Placement] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)

    @property
    def weight_g(self) -> int:
        return sum(p.weight_g for p in self.placements)

    @property
    def volume_utilisation(self) -> float:
        return sum(p.length * p.width * p.height for p in self.placements) / self.vehicle.volume

    @property
    def weight_utilisation(self) -> float:
        return self.weight_g / self.vehicle.payload_g

    @property
    def load_length_mm(self) -> int:
        """How far from the front wall the load reaches (the loading metres used)."""
        return max((p.x + p.length for p in self.placements), default=0)

    def to_dict(self) -> dict:
        v = self.vehicle
        return {
            "vehicle": {"code": v.code, "name": v.name, "inner": [v.length, v.width, v.height],
                        "payload_g": v.payload_g},
            "placements": [asdict(p) for p in self.placements],
            "unplaced": [asdict(u) for u in self.unplaced],
            "weight_g": self.weight_g,
            "volume_utilisation": round(self.volume_utilisation, 4),
            "weight_utilisation": round(self.weight_utilisation, 4),
            "load_length_mm": self.load_length_mm,
            "min_support": MIN_SUPPORT,
        }


# --- stops --------------------------------------------------------------------------------


def stop_region(country: str, postcode: str) -> str:
    """The delivery area a package goes to: its country and the first two characters of its
    postcode (a Dutch postcode's two-digit region, ``10`` for central Amsterdam)."""
    code = "".join(ch for ch in postcode.upper() if ch.isalnum())
    return f"{country.upper()}-{code[:2]}" if code else country.upper()


def number_stops(regions: Iterable[str], home_country: str = "NL") -> dict[str, int]:
    """Stop numbers (1 is unloaded first) for delivery regions: the home country's regions
    first, then other countries by country code; within a country by postcode region. A
    simple rule that puts nearby regions together; the carrier plans the real route."""
    home = home_country.upper()
    ordered = sorted(set(regions), key=lambda r: (r.split("-")[0] != home, r))
    return {region: n for n, region in enumerate(ordered, start=1)}


# --- placement ----------------------------------------------------------------------------


def orientations(package: Package) -> list[tuple[int, int, int]]:
    l, w, h = package.length, package.width, package.height
    if package.upright or package.pallet:
        return list(dict.fromkeys([(l, w, h), (w, l, h)]))
    return list(dict.fromkeys(permutations((l, w, h))))


@dataclass(frozen=True)
class _Box:
    x: int
    y: int
    z: int
    a: int  # along x
    b: int  # along y
    h: int
    stop: int
    pallet: bool


class _Load:
    """The vehicle being loaded: the boxes placed and the extreme points left free."""

    def __init__(self, vehicle: Vehicle) -> None:
        self.v = vehicle
        self.boxes: list[_Box] = []
        # The boxes again, ordered by where they end along x: a box ending at or before a
        # candidate's x is behind it and can break no rule, and most of a load is behind.
        self.ends: list[int] = []
        self.by_end: list[_Box] = []
        self.points: set[tuple[int, int, int]] = {(0, 0, 0)}
        self.weight = 0

    def _allowed(self, p: Package, x: int, y: int, z: int, a: int, b: int, h: int) -> bool:
        v = self.v
        if x + a > v.length or y + b > v.width or z + h > v.height or (p.pallet and z):
            return False
        support = 0
        for q in self.by_end[bisect_right(self.ends, x):]:
            in_x = x < q.x + q.a and q.x < x + a
            in_y = y < q.y + q.b and q.y < y + b
            in_z = z < q.z + q.h and q.z < z + h
            if in_x and in_y:
                if in_z or p.pallet or q.pallet:
                    return False
                lower, upper = (q.stop, p.stop) if q.z < z else (p.stop, q.stop)
                if lower < upper:
                    return False  # a later stop's package on top of an earlier one's
                if q.z + q.h == z:
                    support += (min(x + a, q.x + q.a) - max(x, q.x)) * (min(y + b, q.y + q.b) - max(y, q.y))
            elif in_y and in_z and q.stop != p.stop:
                early_x, late_end = (x, q.x + q.a) if p.stop < q.stop else (q.x, x + a)
                if late_end > early_x:
                    return False  # the later stop's package stands in the earlier one's way out
        return z == 0 or support >= MIN_SUPPORT * a * b

    def place(self, p: Package, sequence: int, smallest: int) -> Placement | None:
        """``smallest``: the least side of any package still to come."""
        dead = []
        try:
            for x, y, z in sorted(self.points, key=lambda pt: (pt[0], pt[2], pt[1])):
                fits = [(a, b, h) for a, b, h in orientations(p) if self._allowed(p, x, y, z, a, b, h)]
                if fits:
                    a, b, h = min(fits, key=lambda o: (x + o[0], o[2], o[1]))
                    return self._put(p, sequence, x, y, z, a, b, h)
                if self._blocked(x, y, z, smallest):
                    dead.append((x, y, z))
            return None
        finally:
            # A corner where not even a cube of the least side fits stays useless: packages
            # are never taken out again. Dropping it keeps the search short on long loads.
            self.points.difference_update(dead)

    def _blocked(self, x: int, y: int, z: int, s: int) -> bool:
        v = self.v
        if x + s > v.length or y + s > v.width or z + s > v.height:
            return True
        return any(x < q.x + q.a and q.x < x + s and y < q.y + q.b and q.y < y + s and z < q.z + q.h and q.z < z + s
                   for q in self.by_end[bisect_right(self.ends, x):])

    def _put(self, p: Package, sequence: int, x: int, y: int, z: int, a: int, b: int, h: int) -> Placement:
        box = _Box(x, y, z, a, b, h, p.stop, p.pallet)
        self.boxes.append(box)
        i = bisect_right(self.ends, x + a)
        self.ends.insert(i, x + a)
        self.by_end.insert(i, box)
        self.weight += p.weight_g
        # Corners inside the new box can take nothing any more.
        self.points = {pt for pt in self.points if not (
            x <= pt[0] < x + a and y <= pt[1] < y + b and z <= pt[2] < z + h)}
        for pt in ((x + a, y, z), (x, y + b, z), (x, y, z + h)):
            for q in (pt, self._dropped(pt), self._pushed_back(pt)):
                if q[0] < self.v.length and q[1] < self.v.width and q[2] < self.v.height:
                    self.points.add(q)
        return Placement(p.id, p.stop, sequence, x, y, z, a, b, h, p.weight_g)

    def _dropped(self, pt: tuple[int, int, int]) -> tuple[int, int, int]:
        """The point lowered onto the highest top (or the floor) below it."""
        x, y, z = pt
        floor = max((q.z + q.h for q in self.boxes
                     if q.x <= x < q.x + q.a and q.y <= y < q.y + q.b and q.z + q.h <= z), default=0)
        return x, y, floor

    def _pushed_back(self, pt: tuple[int, int, int]) -> tuple[int, int, int]:
        """The point moved towards the front wall until it meets a package (or the wall)."""
        x, y, z = pt
        wall = max((q.x + q.a for q in self.boxes
                    if q.y <= y < q.y + q.b and q.z <= z < q.z + q.h and q.x + q.a <= x), default=0)
        return wall, y, z


def _reason_alone(p: Package, v: Vehicle) -> str | None:
    if p.weight_g > v.payload_g:
        return f"heavier ({p.weight_g / 1000:.1f} kg) than the {v.name}'s payload ({v.payload_kg} kg)"
    if not any(a <= v.length and b <= v.width and h <= v.height for a, b, h in orientations(p)):
        upright = " standing upright" if p.upright or p.pallet else ""
        return (f"larger ({p.length}×{p.width}×{p.height} mm{upright}) than the {v.name}'s load space "
                f"({v.length}×{v.width}×{v.height} mm)")
    return None


def loading_order(packages: list[Package]) -> list[Package]:
    """Last stop first; within a stop pallets first, then the largest and heaviest."""
    return sorted(packages, key=lambda p: (-p.stop, not p.pallet, -p.volume, -p.weight_g, p.id))


def plan_load(packages: list[Package], vehicle: Vehicle) -> LoadPlan:
    """Load ``packages`` into ``vehicle``; those that do not go are listed with why."""
    load = _Load(vehicle)
    plan = LoadPlan(vehicle)
    ordered = loading_order(packages)
    # The least side of the packages from each one on, for pruning dead corners.
    smallest = [0] * len(ordered)
    least = math.inf
    for i in range(len(ordered) - 1, -1, -1):
        least = min(least, ordered[i].length, ordered[i].width, ordered[i].height)
        smallest[i] = int(least)
    # Shapes (per stop) that found no room: loading more only takes room away, so the same
    # shape is not searched for again. This keeps a full trailer from scanning every corner
    # for each of the many packages left.
    no_room: set[tuple[int, tuple[int, ...], bool, bool]] = set()
    for i, p in enumerate(ordered):
        reason = _reason_alone(p, vehicle)
        if reason is None and load.weight + p.weight_g > vehicle.payload_g:
            reason = (f"over the payload: {load.weight / 1000:.1f} of {vehicle.payload_kg} kg already loaded "
                      f"and this one weighs {p.weight_g / 1000:.1f} kg")
        shape = (p.stop, (p.height, *sorted((p.length, p.width))) if p.upright or p.pallet
                 else tuple(sorted((p.length, p.width, p.height))), p.upright, p.pallet)
        placement = None
        if reason is None and shape not in no_room:
            placement = load.place(p, len(plan.placements) + 1, smallest[i])
            if placement is None:
                no_room.add(shape)
        if placement is not None:
            plan.placements.append(placement)
        else:
            plan.unplaced.append(Unplaced(p.id, p.stop, reason or (
                "no room left in the load space behind the doors; it goes with the next dispatch")))
    return plan


def load_length_lower_bound(packages: list[Package], vehicle: Vehicle) -> int:
    """The load length (mm) any plan needs at least: the packages' volume over the vehicle's
    cross-section, where a pallet takes the full height above its footprint (nothing goes on
    it)."""
    volume = sum(p.length * p.width * vehicle.height if p.pallet else p.volume for p in packages)
    return math.ceil(volume / (vehicle.width * vehicle.height))
