"""Contract of the warehouse steps: the order workflow asks for a pick list when it releases an
order to the warehouse and for a packing plan when the order is picked."""

from pydantic import BaseModel


class WarehouseRequest(BaseModel):
    order_id: str
    idempotency_key: str


class PickListSummary(BaseModel):
    pick_list_id: str
    steps: int
    route_length_m: str  # decimal metres
    s_shape_length_m: str
    unallocated: list[str] = []  # SKUs no bin holds enough of: picked from goods-in by hand


class PackingSummary(BaseModel):
    containers: list[str]  # container codes
    unpacked: list[str] = []
