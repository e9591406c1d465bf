"""Pick lists made when an order is released, scanned line-by-line picks, the packing plan."""

import asyncio

from sqlalchemy import func, select

from storage.models import BinStock, StockLevel
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api

MIXED = [{"sku": "VASE-010", "quantity": 1}, {"sku": "BOOK-042", "quantity": 2}, {"sku": "BENCH-500", "quantity": 1}]


async def _pick_list_of(api: Api, order_id: str) -> dict:
    for _ in range(200):
        listed = (await api.http.get("/warehouse/pick-lists", headers=WAREHOUSE)).json()
        mine = [p for p in listed if p["order_id"] == order_id]
        if mine:
            response = await api.http.get(f"/warehouse/pick-lists/{mine[0]['id']}", headers=WAREHOUSE)
            assert response.status_code == 200, response.text
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError("no pick list")


async def test_bin_stock_adds_up_to_the_sku_totals(api: Api) -> None:
    async with api.sessions() as s:
        for sku, total in (await s.execute(select(BinStock.sku, func.sum(BinStock.quantity)).group_by(BinStock.sku))).all():
            assert total == (await s.get(StockLevel, sku)).on_hand


async def test_pick_list_scanned_picks_then_packing_plan(api: Api) -> None:
    order_id = await api.placed(external_reference="WH-1", lines=MIXED)
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    assert pl["status"] == "open" and len(pl["steps"]) == 3
    assert float(pl["route_length_m"]) <= float(pl["s_shape_length_m"])
    assert pl["route_exact"] is True
    first = pl["steps"][0]
    url = f"/warehouse/pick-lists/{pl['id']}/steps/{first['step']}/confirm"

    wrong_sku = await api.http.post(url, headers=WAREHOUSE, json={"scanned": "TEA-100", "location": first["location"],
                                                                  "quantity": 1})
    assert wrong_sku.status_code == 422 and first["sku"] in wrong_sku.json()["detail"]
    wrong_bin = await api.http.post(url, headers=WAREHOUSE, json={"scanned": first["sku"], "location": "A-01-01-1-1",
                                                                  "quantity": 1})
    assert wrong_bin.status_code == 409 and first["location"] in wrong_bin.json()["detail"]
    too_many = await api.http.post(url, headers=WAREHOUSE, json={"scanned": first["sku"], "location": first["location"],
                                                                 "quantity": first["quantity"] + 1})
    assert too_many.status_code == 422
    assert (await api.http.get(f"/orders/{order_id}/packing-plan", headers=OPS)).status_code == 404

    for step in pl["steps"]:
        response = await api.http.post(f"/warehouse/pick-lists/{pl['id']}/steps/{step['step']}/confirm",
                                       headers=WAREHOUSE, json={"scanned": step["sku"], "location": step["location"],
                                                                "quantity": step["quantity"]})
        assert response.status_code == 200, response.text
    assert response.json()["pick_list_status"] == "picked"
    await api.wait_for_status(order_id, "PACKING")
    assert all(p["order_id"] != order_id for p in (await api.http.get("/warehouse/pick-lists", headers=WAREHOUSE)).json())

    for _ in range(200):
        plan = await api.http.get(f"/orders/{order_id}/packing-plan", headers=CHANNEL)
        if plan.status_code == 200:
            break
        await asyncio.sleep(0.05)
    plan = plan.json()
    kinds = {p["sku"]: c["kind"] for c in plan["containers"] for p in c["items"]}
    assert kinds == {"BENCH-500": "pallet", "VASE-010": "box", "BOOK-042": "box"}
    vase = next(p for c in plan["containers"] for p in c["items"] if p["sku"] == "VASE-010")
    assert "bubble wrap" in vase["instruction"]
    items = [{"id": p["item_id"], "length": 0, "width": 0, "height": 0, "weight_g": 0, "fragile": False, "upright": False}
             for c in plan["containers"] for p in c["items"]]
    assert len(items) == 4

    # The whole-order confirmation still works (a harmless repeat now).
    again = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert again.status_code == 200 and again.json()["accepted"] is False


async def test_pick_lists_need_a_warehouse_key(api: Api) -> None:
    assert (await api.http.get("/warehouse/pick-lists", headers=CHANNEL)).status_code == 403
    missing = await api.http.get("/warehouse/pick-lists/pl_nope", headers=WAREHOUSE)
    assert missing.status_code == 404 and "GET /warehouse/pick-lists" in missing.json()["detail"]


async def test_a_whole_order_pick_closes_its_pick_list(api: Api) -> None:
    order_id = await api.placed(external_reference="WH-2")
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    listed = (await api.http.get("/warehouse/pick-lists", params={"order_id": order_id}, headers=WAREHOUSE)).json()
    assert [p["id"] for p in listed] == [pl["id"]]
    # The README's walk-through: the cookbook near the depot first, then the mugs.
    assert [(s["sku"], s["location"], s["quantity"]) for s in pl["steps"]] == [
        ("BOOK-042", "A-01-09-2-1", 1), ("MUG-001", "A-02-03-2-1", 2)]
    async with api.sessions() as s:
        before = {b.id: (b.quantity, b.allocated) for b in (await s.execute(select(BinStock))).scalars()}
    assert (await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)).json()["accepted"] is True
    await api.wait_for_status(order_id, "PACKING")
    for _ in range(200):
        if (await api.http.get(f"/orders/{order_id}/packing-plan", headers=OPS)).status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert (await api.http.get(f"/warehouse/pick-lists/{pl['id']}", headers=WAREHOUSE)).json()["status"] == "picked"
    async with api.sessions() as s:
        after = {b.id: (b.quantity, b.allocated) for b in (await s.execute(select(BinStock))).scalars()}
    taken = sum(before[k][0] - after[k][0] for k in before)
    assert taken == sum(step["quantity"] for step in pl["steps"]) == 3
    assert all(after[k][1] <= before[k][1] for k in before)


async def test_odd_inputs_are_4xx(api: Api) -> None:
    odd = [("GET", "/warehouse/pick-lists/pl_%00", None), ("GET", "/warehouse/pick-lists?order_id=%00", None),
           ("POST", "/warehouse/pick-lists/pl_0123456789abcdef/steps/0/confirm", {"scanned": "X", "location": "Y", "quantity": 1}),
           ("POST", "/warehouse/pick-lists/pl_0123456789abcdef/steps/1/confirm", {"scanned": "X\x00", "location": "Y", "quantity": 1}),
           ("POST", "/warehouse/pick-lists/pl_0123456789abcdef/steps/1/confirm", {"scanned": "X", "location": "Y", "quantity": 0}),
           ("POST", "/warehouse/pick-lists/pl_0123456789abcdef/steps/1/confirm", {"scanned": "X", "location": "Y", "quantity": 1}),
           ("GET", "/orders/nope/packing-plan", None)]
    for method, url, body in odd:
        response = await api.http.request(method, url, json=body, headers=WAREHOUSE)
        assert 400 <= response.status_code < 500, (url, response.text)
        assert response.json()["detail"]


async def test_the_same_step_confirmed_twice_at_once_is_picked_once(api: Api) -> None:
    order_id = await api.placed(external_reference="WH-3", lines=[{"sku": "LAMP-200", "quantity": 2}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    (step,) = pl["steps"]
    body = {"scanned": step["sku"], "location": step["location"], "quantity": step["quantity"]}
    url = f"/warehouse/pick-lists/{pl['id']}/steps/1/confirm"
    answers = await asyncio.gather(*(api.http.post(url, headers=WAREHOUSE, json=body) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 422]
    async with api.sessions() as s:
        lamp = (await s.execute(select(BinStock).where(BinStock.sku == "LAMP-200"))).scalar_one()
        assert (lamp.quantity, lamp.allocated) == (23, 0)
