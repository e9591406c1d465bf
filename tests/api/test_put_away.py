"""Put-away over HTTP: goods coming in (a goods receipt, a resellable return, goods put back
after a cancellation) get a task to a suggested bin; confirming it with the scanned bin moves
them into bin stock, and the SKU's on hand always equals bins + pack station + goods-in."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from temporalio.service import RPCError

from storage.models import BinStock, PickList, PickListLine, PutAwayTask, Reservation, Return, StockLevel
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api
from tests.api.test_backorders_and_purchasing import _purchase_order
from tests.api.test_warehouse import _pick_list_of
from tests.returns_helpers import delivered_order


@pytest.fixture(autouse=True)
async def _terminate_returns(api: Api) -> AsyncIterator[None]:
    yield
    async with api.sessions() as session:
        ids = (await session.execute(select(Return.id))).scalars().all()
    for return_id in ids:
        try:
            await api.temporal.get_workflow_handle(f"return-{return_id}").terminate("test finished")
        except RPCError:
            pass


async def assert_stock_adds_up(api: Api, sku: str) -> None:
    """On hand = the bins + what live orders hold at the pack station + goods waiting for put-away."""
    async with api.sessions() as s:
        in_bins = await s.scalar(select(func.coalesce(func.sum(BinStock.quantity), 0)).where(BinStock.sku == sku))
        at_pack_station = await s.scalar(
            select(func.coalesce(func.sum(PickListLine.picked), 0))
            .join(PickList, PickList.id == PickListLine.pick_list_id)
            .join(Reservation, (Reservation.order_id == PickList.order_id) & (Reservation.sku == PickListLine.sku))
            .where(PickListLine.sku == sku, Reservation.status == "held"))
        waiting = await s.scalar(select(func.coalesce(func.sum(PutAwayTask.quantity), 0)).where(
            PutAwayTask.sku == sku, PutAwayTask.status == "open"))
        level = await s.get(StockLevel, sku)
        assert level.on_hand == in_bins + at_pack_station + waiting, (sku, level.on_hand, in_bins, at_pack_station,
                                                                      waiting)


async def _tasks(api: Api, source: str, reference_part: str) -> list[dict]:
    listed = await api.http.get("/warehouse/put-away", headers=WAREHOUSE)
    assert listed.status_code == 200, listed.text
    return [t for t in listed.json() if t["source"] == source and reference_part in t["reference"]]


async def test_goods_received_wait_at_goods_in_until_put_away(api: Api) -> None:
    # A pre-order makes the replenishment workflow buy the sold-out print.
    order_id = await api.placed(external_reference="PA-1", lines=[{"sku": "SOLDOUT-1", "quantity": 1}],
                                backorder_policy="preorder")
    await api.wait_for_status(order_id, "AWAITING_STOCK")
    po = await _purchase_order(api, "SOLDOUT-1")
    assert po["quantity"] >= 4
    first = await api.http.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE,
                                json={"quantity": 2, "receipt_id": "PAKBON-PA-1"})
    assert first.status_code == 200, first.text
    # The pre-order is served and released: its pick list needs the print now, so the goods
    # waiting at goods-in go into the bin the task suggested (no bin held the print: the empty
    # shelf bin nearest the depot).
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    [step] = pl["steps"]
    assert step["location"].startswith("A-01-")
    async with api.sessions() as s:
        task = (await s.execute(select(PutAwayTask).where(PutAwayTask.reference.contains("PAKBON-PA-1")))).scalar_one()
        assert (task.status, task.location_code, task.quantity) == ("done", step["location"], 2)
        assert task.put_away_by == f"pick list of order {order_id}"
    await assert_stock_adds_up(api, "SOLDOUT-1")

    second = await api.http.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE,
                                 json={"quantity": 2, "receipt_id": "PAKBON-PA-2"})
    assert second.status_code == 200, second.text
    [task] = await _tasks(api, "goods_receipt", "PAKBON-PA-2")
    # The print's bin has room for two more.
    assert (task["sku"], task["quantity"], task["status"], task["suggested_location"]) == (
        "SOLDOUT-1", 2, "open", step["location"])
    await assert_stock_adds_up(api, "SOLDOUT-1")
    # A repeated receipt makes no second task.
    await api.http.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE,
                        json={"quantity": 2, "receipt_id": "PAKBON-PA-2"})
    assert len(await _tasks(api, "goods_receipt", "PAKBON-PA-2")) == 1

    done = await api.http.post(f"/warehouse/put-away/{task['id']}", headers=WAREHOUSE,
                               json={"location": task["suggested_location"], "put_away_by": "Kees"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["as_suggested"], done.json()["bin_quantity"]) == ("done", True, 4)
    assert done.json()["put_away_by"].startswith("Kees via")
    assert await _tasks(api, "goods_receipt", "PAKBON-PA-2") == []
    await assert_stock_adds_up(api, "SOLDOUT-1")
    again = await api.http.post(f"/warehouse/put-away/{task['id']}", headers=WAREHOUSE,
                                json={"location": task["suggested_location"]})
    assert again.status_code == 200 and again.json()["bin_quantity"] == 4
    elsewhere = await api.http.post(f"/warehouse/put-away/{task['id']}", headers=WAREHOUSE, json={"location": "A-01-16-3-1"})
    assert elsewhere.status_code == 409 and task["suggested_location"] in elsewhere.json()["detail"]


async def test_a_resellable_return_gets_a_task_to_the_skus_bin_and_may_go_elsewhere(api: Api) -> None:
    order_id = await delivered_order(api.sessions)
    created = await api.http.post(f"/orders/{order_id}/returns", headers=CHANNEL, json={
        "lines": [{"line_no": 1, "quantity": 1}], "reason": "does not fit"})
    assert created.status_code == 201, created.text
    return_id = created.json()["return_id"]
    inspected = await api.http.post(f"/returns/{return_id}/inspection", headers=WAREHOUSE, json={
        "lines": [{"line_no": 1, "disposition": "resellable"}]})
    assert inspected.status_code == 200, inspected.text
    await api.wait_for(f"/returns/{return_id}", "REFUNDED", "REFUND_FAILED")
    [task] = await _tasks(api, "return", return_id)
    # The mugs' nearest bin has room for one more.
    assert (task["sku"], task["quantity"], task["suggested_location"]) == ("MUG-001", 1, "A-02-03-2-1")
    await assert_stock_adds_up(api, "MUG-001")

    url = f"/warehouse/put-away/{task['id']}"
    unknown = await api.http.post(url, headers=WAREHOUSE, json={"location": "Z-99-99-9-9"})
    assert unknown.status_code == 409 and "no bin 'Z-99-99-9-9'" in unknown.json()["detail"]
    taken = await api.http.post(url, headers=WAREHOUSE, json={"location": "A-05-04-2-1"})  # the lamps' bin
    assert taken.status_code == 409 and "LAMP-200" in taken.json()["detail"]
    other = await api.http.post(url, headers=WAREHOUSE, json={"location": "A-05-12-1-1"})  # the mugs' other bin
    assert other.status_code == 200, other.text
    assert other.json()["as_suggested"] is False
    assert "instead of the suggested A-02-03-2-1" in other.json()["message"]
    async with api.sessions() as s:
        bin_ = (await s.execute(select(BinStock).where(BinStock.location_code == "A-05-12-1-1",
                                                       BinStock.sku == "MUG-001"))).scalar_one()
        assert bin_.quantity == 81
    await assert_stock_adds_up(api, "MUG-001")


async def test_picked_goods_of_a_cancelled_order_go_back_and_its_bins_are_freed(api: Api) -> None:
    order_id = await api.placed(external_reference="PA-3", lines=[{"sku": "BOOK-042", "quantity": 1},
                                                                   {"sku": "MUG-001", "quantity": 2}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    book = next(s for s in pl["steps"] if s["sku"] == "BOOK-042")
    picked = await api.http.post(f"/warehouse/pick-lists/{pl['id']}/steps/{book['step']}/confirm", headers=WAREHOUSE,
                                 json={"scanned": "BOOK-042", "location": book["location"], "quantity": 1})
    assert picked.status_code == 200, picked.text
    cancelled = await api.http.post(f"/orders/{order_id}/cancel", headers=CHANNEL, json={"reason": "changed my mind"})
    assert cancelled.status_code == 200, cancelled.text
    await api.wait_for_status(order_id, "CANCELLED")

    [task] = await _tasks(api, "cancellation", order_id)
    assert (task["sku"], task["quantity"], task["suggested_location"]) == ("BOOK-042", 1, book["location"])
    async with api.sessions() as s:
        assert (await s.get(PickList, pl["id"])).status == "cancelled"
        assert not (await s.execute(select(BinStock).where(BinStock.allocated > 0))).scalars().all()
    for sku in ("BOOK-042", "MUG-001"):
        await assert_stock_adds_up(api, sku)
    assert all(p["id"] != pl["id"] for p in (await api.http.get("/warehouse/pick-lists", headers=WAREHOUSE)).json())
    done = await api.http.post(f"/warehouse/put-away/{task['id']}", headers=WAREHOUSE, json={"location": book["location"]})
    assert done.status_code == 200 and done.json()["as_suggested"] is True
    await assert_stock_adds_up(api, "BOOK-042")


async def test_bad_put_away_requests_are_clear_4xx(api: Api) -> None:
    for task_id, body, status in ((999, {"location": "A-01-01-1-1"}, 404), (0, {"location": "A-01-01-1-1"}, 422),
                                  (1, {}, 422), (1, {"location": ""}, 422), (1, {"location": "A\x00"}, 422),
                                  (1, {"location": "x" * 33}, 422), ("x", {"location": "A-01-01-1-1"}, 422)):
        response = await api.http.post(f"/warehouse/put-away/{task_id}", headers=WAREHOUSE, json=body)
        assert response.status_code == status, (task_id, body, response.text)
        assert response.json()["detail"]
    assert (await api.http.get("/warehouse/put-away", headers=CHANNEL)).status_code == 403
    assert (await api.http.post("/warehouse/put-away/1", headers=CHANNEL, json={"location": "A"})).status_code == 403
