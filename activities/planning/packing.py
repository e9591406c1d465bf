"""3D packing plans: which containers an order's items go in, and where each item stands.

Items that fit no box (the garden bench) go to a crate or pallet; the rest go in boxes:
all in one box if any box takes them, else first-fit decreasing over the largest box, after
which every box is shrunk to the smallest size that still takes its items. An order that
would need more than ``MAX_BOXES`` boxes goes on pallets instead. Placement uses extreme
points (the corners the items already placed leave free), lowest first, with the six
rotations of an item, or only its two upright ones. Fragile items are planned with
``PADDING_MM`` of bubble wrap on every side and get a wrapping instruction.

The planner takes the catalogue as an argument: the packing activity passes the active
containers from the database (``storage.containers``); ``CONTAINERS`` is the default for the
pure tests and the benchmark, and what a new database and the demo seed start with. Any
catalogue works, including one without boxes, crates or pallets: an item that no container
takes is listed as unpacked.
"""

from dataclasses import dataclass, field
from itertools import permutations

PADDING_MM = 20
MAX_BOXES = 4
KINDS = ("box", "crate", "pallet")  # the kinds of container the planner knows
BULK_KINDS = ("crate", "pallet")


@dataclass(frozen=True)
class ContainerType:
    code: str
    name: str
    kind: str  # box, crate, pallet
    length: int  # inner, mm
    width: int
    height: int  # usable height (for a pallet: the load height)
    max_weight_g: int  # contents
    tare_g: int
    cost_cents: int

    @property
    def volume(self) -> int:
        return self.length * self.width * self.height


CONTAINERS: tuple[ContainerType, ...] = (
    ContainerType("BOX-S", "Box S", "box", 300, 200, 150, 10_000, 150, 45),
    ContainerType("BOX-M", "Box M", "box", 400, 300, 250, 20_000, 300, 85),
    ContainerType("BOX-L", "Box L", "box", 600, 400, 400, 30_000, 550, 140),
    ContainerType("CRATE", "Wooden crate", "crate", 1000, 600, 600, 100_000, 12_000, 1_800),
    ContainerType("PALLET-EUR", "Euro pallet 1200x800", "pallet", 1200, 800, 1500, 800_000, 25_000, 1_500),
    ContainerType("PALLET-LONG", "Long-goods pallet 1800x800", "pallet", 1800, 800, 1500, 800_000, 35_000, 2_200),
)


@dataclass(frozen=True)
class Item:
    id: str
    sku: str
    length: int
    width: int
    height: int
    weight_g: int
    fragile: bool = False
    upright: bool = False  # the height axis stays vertical

    def padded(self) -> tuple[int, int, int]:
        pad = 2 * PADDING_MM if self.fragile else 0
        return self.length + pad, self.width + pad, self.height + pad


@dataclass(frozen=True)
class Placement:
    item_id: str
    sku: str
    x: int
    y: int
    z: int
    length: int  # as placed (padding included), along x, y, z
    width: int
    height: int
    weight_g: int
    padding_mm: int
    instruction: str | None


@dataclass
class PackedContainer:
    container: ContainerType
    placements: list[Placement] = field(default_factory=list)

    @property
    def weight_g(self) -> int:
        return sum(p.weight_g for p in self.placements)


@dataclass
class PackingPlan:
    containers: list[PackedContainer]
    unpacked: list[str]  # item ids that fit no container at all

    def to_dict(self) -> dict:
        return {
            "containers": [{
                "code": c.container.code, "name": c.container.name, "kind": c.container.kind,
                "inner": [c.container.length, c.container.width, c.container.height],
                "max_weight_g": c.container.max_weight_g, "tare_g": c.container.tare_g,
                "cost_cents": c.container.cost_cents, "contents_weight_g": c.weight_g,
                "items": [p.__dict__ for p in c.placements],
            } for c in self.containers],
            "unpacked": self.unpacked,
        }


def orientations(item: Item) -> list[tuple[int, int, int]]:
    l, w, h = item.padded()
    if item.upright:
        return list(dict.fromkeys([(l, w, h), (w, l, h)]))
    return list(dict.fromkeys(permutations((l, w, h))))


def _fits_alone(item: Item, c: ContainerType) -> bool:
    return item.weight_g <= c.max_weight_g and any(
        a <= c.length and b <= c.width and h <= c.height for a, b, h in orientations(item))


class _Space:
    """One container being filled: placed boxes and the extreme points left free."""

    def __init__(self, container: ContainerType) -> None:
        self.c = container
        self.boxes: list[tuple[int, int, int, int, int, int]] = []
        self.points: list[tuple[int, int, int]] = [(0, 0, 0)]
        self.weight = 0
        self.placements: list[Placement] = []

    def _free(self, x: int, y: int, z: int, a: int, b: int, h: int) -> bool:
        if x + a > self.c.length or y + b > self.c.width or z + h > self.c.height:
            return False
        for bx, by, bz, ba, bb, bh in self.boxes:
            if x < bx + ba and bx < x + a and y < by + bb and by < y + b and z < bz + bh and bz < z + h:
                return False
        return True

    def place(self, item: Item) -> bool:
        if self.weight + item.weight_g > self.c.max_weight_g:
            return False
        for x, y, z in self.points:
            for a, b, h in orientations(item):
                if self._free(x, y, z, a, b, h):
                    self._put(item, x, y, z, a, b, h)
                    return True
        return False

    def _put(self, item: Item, x: int, y: int, z: int, a: int, b: int, h: int) -> None:
        self.boxes.append((x, y, z, a, b, h))
        self.weight += item.weight_g
        pad = PADDING_MM if item.fragile else 0
        self.placements.append(Placement(
            item.id, item.sku, x, y, z, a, b, h, item.weight_g, pad,
            f"fragile: wrap in bubble wrap ({pad} mm) and keep this way up" if item.fragile else None))
        self.points.remove((x, y, z))
        for p in ((x + a, y, z), (x, y + b, z), (x, y, z + h)):
            if p not in self.points:
                self.points.append(p)
        self.points.sort(key=lambda p: (p[2], p[1], p[0]))


def _sorted(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (-(i.padded()[0] * i.padded()[1] * i.padded()[2]), -i.weight_g, i.id))


def pack_into(items: list[Item], container: ContainerType) -> _Space | None:
    """All ``items`` in one ``container``, or None."""
    space = _Space(container)
    return space if all(space.place(i) for i in _sorted(items)) else None


def first_fit_decreasing(items: list[Item], container: ContainerType) -> tuple[list[_Space], list[Item]]:
    """Classic first-fit decreasing into copies of one container type; also the benchmark's
    baseline. Returns the filled containers and the items that fit none."""
    spaces: list[_Space] = []
    left: list[Item] = []
    for item in _sorted(items):
        if not _fits_alone(item, container):
            left.append(item)
            continue
        if not any(s.place(item) for s in spaces):
            spaces.append(_Space(container))
            spaces[-1].place(item)
    return spaces, left


def _smallest(items: list[Item], kinds: tuple[str, ...], catalogue: tuple[ContainerType, ...]) -> _Space | None:
    total_weight = sum(i.weight_g for i in items)
    total_volume = sum(a * b * c for a, b, c in (i.padded() for i in items))
    for c in sorted((c for c in catalogue if c.kind in kinds), key=lambda c: (c.volume, c.cost_cents, c.code)):
        if c.max_weight_g >= total_weight and c.volume >= total_volume:
            space = pack_into(items, c)
            if space is not None:
                return space
    return None


def pack_kind(items: list[Item], kinds: tuple[str, ...], catalogue: tuple[ContainerType, ...]) -> tuple[list[_Space], list[Item]]:
    types = tuple(c for c in catalogue if c.kind in kinds)
    if not items or not types:
        return [], list(items)
    single = _smallest(items, kinds, types)
    if single is not None:
        return [single], []
    largest = max(types, key=lambda c: (c.volume, c.max_weight_g, c.code))
    spaces, left = first_fit_decreasing(items, largest)
    # Shrink each container to the smallest one that still takes its items.
    by_id = {i.id: i for i in items}
    shrunk = [_smallest([by_id[p.item_id] for p in s.placements], kinds, types) or s for s in spaces]
    if left:
        # Too long or too heavy for the largest container: another one may still take it
        # (a poster tube, a crate rated for more weight).
        more, left = pack_kind(left, kinds, tuple(c for c in types if c is not largest))
        shrunk += more
    return shrunk, left


def plan_packing(items: list[Item], catalogue: tuple[ContainerType, ...] = CONTAINERS) -> PackingPlan:
    box_types = tuple(c for c in catalogue if c.kind == "box")
    bulky = [i for i in items if not any(_fits_alone(i, c) for c in box_types)]
    small = [i for i in items if i not in bulky]
    spaces, unpacked = pack_kind(small, ("box",), catalogue)
    big, left = pack_kind(bulky, BULK_KINDS, catalogue)
    if len(spaces) > MAX_BOXES:
        # A large order goes on pallets, with any bulky items, unless the crates and pallets
        # at hand would leave something unpacked that the boxes took.
        all_big, all_left = pack_kind(bulky + small, BULK_KINDS, catalogue)
        if len(all_left) <= len(left) + len(unpacked):
            big, left, spaces, unpacked = all_big, all_left, [], []
    unpacked += left
    containers = [PackedContainer(s.c, s.placements) for s in big + spaces]
    return PackingPlan(containers, [i.id for i in unpacked])


def lower_bound(items: list[Item], container: ContainerType) -> int:
    """Containers of one type needed at least: by volume and by weight, rounded up."""
    volume = sum(a * b * c for a, b, c in (i.padded() for i in items))
    weight = sum(i.weight_g for i in items)
    return max(-(-volume // container.volume), -(-weight // container.max_weight_g), 1 if items else 0)
