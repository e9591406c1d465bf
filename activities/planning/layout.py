"""The rectangular warehouse: parallel aisles between a front and a back cross-aisle, the depot
where trolleys start and the pack station where they end, both on the front cross-aisle.

Locations are zone / aisle / rack / shelf / bin. A picker stands in the aisle in front of a
rack, so every bin of a rack has the same pick point ``(aisle x, y)``; the shelf only sets the
height. Distances are metres of walking; ``walking_distance`` is the shortest path in the
walking graph (``walking_graph``), in closed form.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    aisle_xs: tuple[float, ...]  # x of each aisle's centre line, left to right
    aisle_length: float  # front cross-aisle at y = 0, back cross-aisle at y = aisle_length
    depot: Point
    pack_station: Point
    bay_width: float = 1.0
    zones: dict[int, str] = field(default_factory=dict)  # aisle number (1-based) -> zone

    def aisle_x(self, aisle: int) -> float:
        return self.aisle_xs[aisle - 1]


def walking_distance(layout: Layout, a: Point, b: Point) -> float:
    """Shortest walk between two points that lie in an aisle or on a cross-aisle: along the
    same aisle directly, otherwise out over the front or the back cross-aisle, whichever is
    shorter (aisles are only entered from their ends)."""
    if abs(a.x - b.x) < 1e-9:
        return abs(a.y - b.y)
    length = layout.aisle_length
    return abs(a.x - b.x) + min(a.y + b.y, 2 * length - a.y - b.y)


def walking_graph(layout: Layout, extra: list[Point] = ()) -> tuple[list[Point], list[tuple[int, int, float]]]:
    """Nodes and undirected edges (index, index, metres): both ends of every aisle, the depot,
    the pack station and ``extra`` points in aisles, joined along aisles and cross-aisles."""
    nodes: list[Point] = []
    for x in layout.aisle_xs:
        nodes += [Point(x, 0.0), Point(x, layout.aisle_length)]
    nodes += [layout.depot, layout.pack_station, *extra]
    edges: list[tuple[int, int, float]] = []
    for cross_y in (0.0, layout.aisle_length):
        row = sorted((p.x, i) for i, p in enumerate(nodes) if abs(p.y - cross_y) < 1e-9)
        edges += [(i, j, xj - xi) for (xi, i), (xj, j) in zip(row, row[1:])]
    for x in layout.aisle_xs:
        col = sorted((p.y, i) for i, p in enumerate(nodes) if abs(p.x - x) < 1e-9)
        edges += [(i, j, yj - yi) for (yi, i), (yj, j) in zip(col, col[1:])]
    return nodes, edges


# --- the demo warehouse ----------------------------------------------------------------
# Zone A: six aisles of shelving for parcel goods; zone B: two aisles of floor-level pallet
# racking for bulky goods. 16 racks per aisle (8 bays a side, 1 m each), 3 shelves, 1 bin.

DEMO_AISLES = 8
DEMO_BAYS = 8
DEMO_RACKS_PER_AISLE = 2 * DEMO_BAYS
DEMO_SHELVES = 3
AISLE_PITCH = 3.0


def demo_layout() -> Layout:
    xs = tuple(2.0 + AISLE_PITCH * i for i in range(DEMO_AISLES))
    return Layout(aisle_xs=xs, aisle_length=float(DEMO_BAYS), depot=Point(0.0, 0.0),
                  pack_station=Point(xs[-1] + 2.0, 0.0),
                  zones={a: ("A" if a <= 6 else "B") for a in range(1, DEMO_AISLES + 1)})


def rack_y(layout: Layout, rack: int) -> float:
    """Odd racks on the left, even on the right; rack 1 and 2 face each other in the first bay."""
    bay = (rack + 1) // 2
    return (bay - 0.5) * layout.bay_width


@dataclass(frozen=True)
class LocationSpec:
    code: str
    zone: str
    aisle: int
    rack: int
    shelf: int
    bin: int
    x_mm: int
    y_mm: int
    z_mm: int


def location_code(zone: str, aisle: int, rack: int, shelf: int, bin_: int = 1) -> str:
    return f"{zone}-{aisle:02d}-{rack:02d}-{shelf}-{bin_}"


def demo_locations(layout: Layout | None = None) -> list[LocationSpec]:
    layout = layout or demo_layout()
    specs = []
    for aisle in range(1, DEMO_AISLES + 1):
        zone = layout.zones[aisle]
        for rack in range(1, DEMO_RACKS_PER_AISLE + 1):
            for shelf in range(1, DEMO_SHELVES + 1):
                specs.append(LocationSpec(
                    code=location_code(zone, aisle, rack, shelf), zone=zone, aisle=aisle, rack=rack, shelf=shelf,
                    bin=1, x_mm=round(layout.aisle_x(aisle) * 1000), y_mm=round(rack_y(layout, rack) * 1000),
                    z_mm=(shelf - 1) * (1200 if zone == "B" else 450)))
    return specs
