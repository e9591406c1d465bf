"""The dispatch planning rules that need no database: an order's packages go together or not
at all, however many re-plans that takes."""

from activities.dispatching import _plan_whole_orders
from activities.planning.loading import Vehicle
from storage.dispatches import ReadyPackage

# Room for one 400 mm cube only.
CUPBOARD = Vehicle("CUPBOARD", "test: room for one package", 500, 500, 500, 100)


def _package(number: str, order_id: str, region: str) -> ReadyPackage:
    return ReadyPackage(tracking_number=number, shipment_id=f"shp_{order_id}", order_id=order_id, carrier="dpd",
                        region=region, container=None, length=400, width=400, height=400, weight_g=1_000,
                        upright=False, pallet=False)


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
