"""Contract of the warehouse steps (the order workflow asks for a pick list when it releases an
order to the warehouse and for a packing plan when the order is picked) and the warehouse's
pure stock rules: which bins a pick takes units from."""

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel

from domain.models import ReservedLine


@dataclass(frozen=True)
class BinOffer:
    bin_stock_id: int
    available: int
    expiry: date | None
    distance: float  # from the depot, to break ties


def allocate(quantity: int, offers: list[BinOffer]) -> list[tuple[int, int]]:
    """Which bins to take ``quantity`` from: goods with an expiry date first-expiry-first-out;
    others from as few bins as possible (one bin that holds it all, the nearest such; else the
    fullest bins first). Returns (bin stock id, quantity) pairs; short if the bins are."""
    offers = [o for o in offers if o.available > 0]
    if any(o.expiry for o in offers):
        ordered = sorted(offers, key=lambda o: (o.expiry or date.max, o.distance))
    else:
        whole = sorted((o for o in offers if o.available >= quantity), key=lambda o: o.distance)
        ordered = whole[:1] or sorted(offers, key=lambda o: (-o.available, o.distance))
    taken, left = [], quantity
    for o in ordered:
        if left <= 0:
            break
        n = min(left, o.available)
        taken.append((o.bin_stock_id, n))
        left -= n
    return taken


class WarehouseRequest(BaseModel):
    order_id: str
    idempotency_key: str
    # An order shipped in parts: which part, and its units (None: the whole order).
    part: int = 1
    lines: list[ReservedLine] | None = None


class PickListSummary(BaseModel):
    pick_list_id: str
    steps: int
    route_length_m: str  # decimal metres
    s_shape_length_m: str
    unallocated: list[str] = []  # SKUs no bin holds enough of: picked from goods-in by hand


class PackingSummary(BaseModel):
    containers: list[str]  # container codes
    unpacked: list[str] = []


# Inner size of one bin, mm: a shelf bin in zone A (shelves 450 mm apart), a pallet position
# in zone B. Room is judged by volume only: a rough rule, but the put-away suggestion is a
# suggestion, and staff may put goods in another bin.
BIN_INNER_MM = {"A": (1_000, 800, 420), "B": (2_700, 1_200, 1_500)}
BULKY_WEIGHT_G = 20_000
BULKY_SIDE_MM = 600


def is_bulky(weight_g: int, sides_mm: tuple[int, int, int]) -> bool:
    """Goods for the pallet racking of zone B: heavy, or longer than a shelf bin is deep."""
    return weight_g >= BULKY_WEIGHT_G or max(sides_mm) > BULKY_SIDE_MM


def bin_holds(zone: str, sides_mm: tuple[int, int, int]) -> int:
    """How many units of this size one bin of ``zone`` takes (at least 1: one unit always goes)."""
    length, width, height = BIN_INNER_MM.get(zone, BIN_INNER_MM["A"])
    unit = max(1, sides_mm[0] * sides_mm[1] * sides_mm[2])
    return max(1, (length * width * height) // unit)
