"""Out of stock over HTTP: the customer's answer, the stock figures with what is incoming, the
purchase order the replenishment workflow placed, and goods receipt serving the pre-order."""

import asyncio

from tests.api.conftest import CHANNEL, OPS, WAREHOUSE

MUG_AND_PRINT = [{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 2}]


async def _purchase_order(api, sku: str) -> dict:
    for _ in range(200):
        r = await api.http.get("/purchase-orders", params={"sku": sku}, headers=WAREHOUSE)
        assert r.status_code == 200, r.text
        if r.json()["items"]:
            return r.json()["items"][0]
        await asyncio.sleep(0.05)
    raise AssertionError("no purchase order was placed")


async def test_preorder_over_http_from_question_to_picking(api) -> None:
    order_id = await api.placed(lines=MUG_AND_PRINT)
    body = await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    assert "2 x SOLDOUT-1" in body["timeline"][-1]["message"]

    r = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "preorder"}, headers=CHANNEL)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] is True
    again = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "cancel"}, headers=CHANNEL)
    assert (again.status_code, again.json()["accepted"]) == (200, False)
    await api.wait_for_status(order_id, "AWAITING_STOCK")

    po = await _purchase_order(api, "SOLDOUT-1")
    assert po["status"] == "placed" and po["quantity"] >= 2
    stock = (await api.http.get("/stock/SOLDOUT-1", headers=CHANNEL)).json()
    assert stock["waiting_preorders"] == 2
    assert stock["incoming"][0]["purchase_order_id"] == po["id"]

    # A channel key cannot book goods; a receipt needs an id; more than ordered is refused.
    assert (await api.http.post(f"/purchase-orders/{po['id']}/receipt", json={"quantity": 1, "receipt_id": "x"},
                                headers=CHANNEL)).status_code == 403
    r = await api.http.post(f"/purchase-orders/{po['id']}/receipt", json={"quantity": 1}, headers=WAREHOUSE)
    assert r.status_code == 422 and "receipt_id" in r.json()["detail"]
    r = await api.http.post(f"/purchase-orders/{po['id']}/receipt", json={"quantity": po["quantity"] + 1,
                                                                         "receipt_id": "too-many"}, headers=WAREHOUSE)
    assert r.status_code == 409 and "still to come" in r.json()["detail"]

    receipt = {"quantity": po["quantity"], "receipt_id": "PAKBON-1"}
    first = await api.http.post(f"/purchase-orders/{po['id']}/receipt", json=receipt, headers=WAREHOUSE)
    assert first.status_code == 200, first.text
    assert first.json()["allocations"] == [
        {"order_id": order_id, "sku": "SOLDOUT-1", "quantity": 2, "complete": True, "claim_allocated": 2}]
    repeat = await api.http.post(f"/purchase-orders/{po['id']}/receipt", json=receipt, headers=WAREHOUSE)
    assert repeat.json() == first.json()

    await api.wait_for_status(order_id, "PICKING")
    stock = (await api.http.get("/stock/SOLDOUT-1", headers=OPS)).json()
    assert (stock["on_hand"], stock["reserved"], stock["waiting_preorders"]) == (po["quantity"], 2, 0)
    ledger = (await api.http.get("/stock/SOLDOUT-1/movements", headers=WAREHOUSE)).json()["items"]
    assert sum(m["on_hand_delta"] for m in ledger) == stock["on_hand"]
    assert sum(m["reserved_delta"] for m in ledger) == stock["reserved"]
    assert [m["reason"] for m in ledger] == ["goods receipt", "allocate pre-order"]
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")


async def test_a_decision_when_none_was_asked_is_409(api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    r = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "preorder"}, headers=CHANNEL)
    assert r.status_code == 409
    assert r.json()["status"] == "PICKING"
    bad = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "later"}, headers=CHANNEL)
    assert bad.status_code == 422


async def test_stock_of_an_unknown_sku_is_404(api) -> None:
    assert (await api.http.get("/stock/NOPE", headers=OPS)).status_code == 404
    assert (await api.http.get("/stock/NOPE/movements", headers=OPS)).status_code == 404
    assert (await api.http.get("/purchase-orders/po_nope", headers=OPS)).status_code == 404
    assert (await api.http.get("/stock/MUG-001/movements", headers=CHANNEL)).status_code == 403


async def test_concurrent_orders_through_the_api_never_oversell(api) -> None:
    from sqlalchemy import update

    from storage.db import transaction
    from storage.models import StockLevel, StockMovement

    async with transaction(api.sessions) as s:
        s.add(StockMovement(sku="LAMP-200", on_hand_delta=-15, reason="stock count"))
        await s.execute(update(StockLevel).where(StockLevel.sku == "LAMP-200").values(on_hand=10))
    responses = await asyncio.gather(*(api.place(external_reference=f"RUSH-{i}", backorder_policy="cancel",
                                                 lines=[{"sku": "LAMP-200", "quantity": 1}]) for i in range(30)))
    assert [r.status_code for r in responses] == [201] * 30
    finals = [await api.wait_for_status(r.json()["order_id"], "PICKING", "CANCELLED") for r in responses]
    assert sorted(f["status"] for f in finals).count("PICKING") == 10
    stock = (await api.http.get("/stock/LAMP-200", headers=OPS)).json()
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 10, 0)


async def test_a_new_payment_is_refused_unless_the_order_waits_for_one(api) -> None:
    from tests.api.conftest import WAREHOUSE as WAREHOUSE_KEY

    order_id = await api.placed(external_reference="WEB-PAY-AGAIN")
    await api.wait_for_status(order_id, "PICKING")
    r = await api.http.post(f"/orders/{order_id}/payment", json={"token": "tok_visa"}, headers=CHANNEL)
    assert r.status_code == 409 and r.json()["status"] == "PICKING", r.text
    assert "new payment is only asked for" in r.json()["detail"]
    assert (await api.http.post(f"/orders/{order_id}/payment", json={"token": ""}, headers=CHANNEL)).status_code == 422
    assert (await api.http.post(f"/orders/{order_id}/payment", json={}, headers=CHANNEL)).status_code == 422
    assert (await api.http.post(f"/orders/{order_id}/payment", json={"token": "tok_visa"},
                                headers=WAREHOUSE_KEY)).status_code == 403
