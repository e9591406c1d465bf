"""The dispatch planning rules that need no database: an order's packages go together or not
at all, however many re-plans that takes."""

from datetime import UTC, datetime, timedelta

from activities.dispatching import _plan_whole_orders, oldest_whole_orders
from activities.planning.loading import Vehicle
from storage.dispatches import ReadyPackage

# Room for one 400 mm cube only.
CUPBOARD = Vehicle("CUPBOARD", "test: room for one package", 500, 500, 500, 100)


MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _package(number: str, order_id: str, region: str, booked_at: datetime = MONDAY) -> ReadyPackage:
    return ReadyPackage(tracking_number=number, shipment_id=f"shp_{order_id}", order_id=order_id, carrier="dpd",
                        region=region, container=None, length=400, width=400, height=400, weight_g=1_000,
                        upright=False, pallet=False, booked_at=booked_at)


def test_no_plan_holds_part_of_an_order_however_many_re_plans_it_takes() -> None:
    # Five two-package orders for the last stop (loaded first), each split by the one place in
    # the vehicle in turn, and a one-package order for the first stop that goes whole.
    ready = [_package(f"{o}{n}", o, "NL-35") for o in "ABCDE" for n in (1, 2)] + [_package("F1", "F", "NL-10")]
    plan, problems = _plan_whole_orders(ready, {"NL-10": 1, "NL-35": 2}, CUPBOARD)
    placed = {p.package_id for p in plan.placements}
    for order in "ABCDEF":
        numbers = {p.tracking_number for p in ready if p.order_id == order}
        assert numbers <= placed or not numbers & placed, (order, placed)
    assert placed == {"F1"}
    assert {u.package_id for u in plan.unplaced} == {p.tracking_number for p in ready} - placed
    assert problems == []


def test_more_packages_than_a_vehicle_takes_are_cut_at_orders_oldest_booking_first() -> None:
    hours = {"A": 3, "B": 1, "C": 2, "D": 0}
    sizes = {"A": 2, "B": 3, "C": 1, "D": 4}
    # Listed by order id (as read), not by booking.
    ready = [_package(f"{o}{n}", o, "NL-10", MONDAY + timedelta(hours=hours[o])) for o in "ABCD"
             for n in range(sizes[o])]
    taken = oldest_whole_orders(ready, 6)
    # D (4, booked first) goes; B (3) would make 7, so it waits; C (1) goes; A (2) would make 7.
    assert [p.tracking_number for p in taken] == ["D0", "D1", "D2", "D3", "C0"]
    assert oldest_whole_orders(ready, 100) == sorted(ready, key=lambda p: (hours[p.order_id], p.tracking_number))
