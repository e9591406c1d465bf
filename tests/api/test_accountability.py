"""Who did it: every staff action names the API key (and its role) that did it, on the order's
timeline (live from the workflow and, after it closed, from the action log), in the stock
ledger, and on refunds."""

import asyncio

from sqlalchemy import select

from storage.models import StaffAction
from tests.api.conftest import CARRIER, CHANNEL, OPS, Api
from tests.factories import signed_carrier_event
from tests.returns_helpers import delivered_order


async def _key(api: Api, name: str, role: str, channel: str | None = None) -> dict[str, str]:
    body = {"name": name, "role": role, **({"channel": channel} if channel else {})}
    response = await api.http.post("/admin/api-keys", json=body, headers=OPS)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["key"]}


def _actions(order: dict) -> list[tuple[str, str, str]]:
    """The timeline's actions: what (without its detail), the key's name, its role."""
    return [(e["message"].split(" by ")[0].split(":")[0], e["actor"]["key_name"], e["actor"]["role"])
            for e in order["timeline"] if e["kind"] == "action"]


async def _read_model(api: Api, order_id: str) -> dict:
    """The order once the database's status is final, so GET answers from the read model."""
    for _ in range(400):
        order = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
        if order["source"] == "read_model":
            return order
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} is still answered from its workflow")


async def test_pick_pack_and_handover_name_the_key_and_role_live_and_after_the_workflow(api: Api) -> None:
    picker = await _key(api, "picker hall 1", "warehouse")
    shipper = await _key(api, "dock 3", "warehouse")
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")

    assert (await api.http.post(f"/orders/{order_id}/pick", json={"confirmed_by": "Jan"},
                                headers=picker)).json()["accepted"] is True
    assert (await api.http.post(f"/orders/{order_id}/pack", headers=picker)).json()["accepted"] is True
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert (await api.http.post(f"/orders/{order_id}/handover", headers=shipper)).json()["accepted"] is True
    live = await api.wait_for_status(order_id, "SHIPPED")

    # Live: the workflow's own notes carry the actor's label (the person named, the key, its role).
    messages = [e["message"] for e in live["timeline"]]
    assert "pick confirmed by Jan via picker hall 1 (warehouse)" in messages
    assert "pack confirmed by picker hall 1 (warehouse)" in messages
    assert "handover confirmed by dock 3 (warehouse)" in messages
    assert _actions(live) == []  # not shown twice

    # The action log holds the same, and the read model shows it once the workflow is done.
    tracking_number = live["shipments"][0]["tracking_number"]
    for event in ("IN_TRANSIT", "DELIVERED"):
        r = await api.http.post("/carrier/events", **signed_carrier_event(
            {"tracking_number": tracking_number, "event": event}, CARRIER))
        assert r.status_code == 200, r.text
    await api.wait_for_status(order_id, "DELIVERED")
    assert (await api.http.post(f"/orders/{order_id}/feedback", json={"rating": 4},
                                headers=CHANNEL)).json()["accepted"] is True
    async with api.sessions() as session:
        rows = (await session.execute(select(StaffAction).where(StaffAction.order_id == order_id)
                                      .order_by(StaffAction.id))).scalars().all()
    assert [(r.action, r.actor, r.actor_role, r.person) for r in rows] == [
        ("pick", "picker hall 1", "warehouse", "Jan"), ("pack", "picker hall 1", "warehouse", None),
        ("handover", "dock 3", "warehouse", None), ("feedback", "webshop dev key", "channel", None)]
    recorded = await _read_model(api, order_id)
    assert recorded["status"] == "COMPLETED"
    assert _actions(recorded) == [("pick confirmed", "picker hall 1", "warehouse"),
                                  ("pack confirmed", "picker hall 1", "warehouse"),
                                  ("handover confirmed", "dock 3", "warehouse"),
                                  ("feedback submitted", "webshop dev key", "channel")]
    pick = next(e for e in recorded["timeline"] if e["kind"] == "action")
    assert pick["actor"]["person"] == "Jan" and pick["status"] == "PICKING"


async def test_a_repeat_that_changes_nothing_is_not_an_action(api: Api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    for _ in range(2):
        await api.http.post(f"/orders/{order_id}/pick", headers=OPS)
    refused = await api.http.post(f"/orders/{order_id}/handover", headers=OPS)
    assert refused.status_code == 409
    async with api.sessions() as session:
        rows = (await session.execute(select(StaffAction.action).where(StaffAction.order_id == order_id))).all()
    assert [r.action for r in rows] == ["pick"]


async def test_a_cancellation_names_who_cancelled(api: Api) -> None:
    shop = await _key(api, "webshop-nl", "channel", channel="webshop")
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    response = await api.http.post(f"/orders/{order_id}/cancel", json={"reason": "changed my mind"}, headers=shop)
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED", response.text
    # Live, the workflow's own note names the key; from the read model, the action log does.
    order = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
    assert any(e["message"] == "cancellation requested by webshop-nl (channel): changed my mind"
               for e in order["timeline"]) or ("cancellation requested", "webshop-nl", "channel") in _actions(order)
    recorded = await _read_model(api, order_id)
    assert ("cancellation requested", "webshop-nl", "channel") in _actions(recorded)


async def test_the_backorder_answer_names_the_channel_key(api: Api) -> None:
    order_id = await api.placed(lines=[{"sku": "MUG-001", "quantity": 1}, {"sku": "SOLDOUT-1", "quantity": 1}])
    await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    r = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "cancel"}, headers=CHANNEL)
    assert r.status_code == 200 and r.json()["accepted"] is True
    order = await api.wait_for_status(order_id, "PICKING")
    assert ("out-of-stock question answered", "webshop dev key", "channel") in _actions(order)
    assert "out-of-stock question answered: cancel by webshop dev key (channel)" in [
        e["message"] for e in order["timeline"]]


async def test_a_scanned_pick_step_names_the_picker(api: Api) -> None:
    picker = await _key(api, "scanner 7", "warehouse")
    order_id = await api.placed(lines=[{"sku": "MUG-001", "quantity": 2}])
    await api.wait_for_status(order_id, "PICKING")
    for _ in range(200):
        lists = (await api.http.get("/warehouse/pick-lists", params={"order_id": order_id}, headers=picker)).json()
        if lists:
            break
        await asyncio.sleep(0.05)
    pick_list = (await api.http.get(f"/warehouse/pick-lists/{lists[0]['id']}", headers=picker)).json()
    for step in pick_list["steps"]:
        r = await api.http.post(f"/warehouse/pick-lists/{pick_list['id']}/steps/{step['step']}/confirm",
                                json={"scanned": step["sku"], "location": step["location"],
                                      "quantity": step["quantity"]}, headers=picker)
        assert r.status_code == 200, r.text
    order = await api.wait_for_status(order_id, "PACKING")
    steps = [a for a in _actions(order) if a[0] == "pick-list step confirmed"]
    assert steps == [("pick-list step confirmed", "scanner 7", "warehouse")] * len(pick_list["steps"])
    assert "pick confirmed by scanner 7 (warehouse)" in [e["message"] for e in order["timeline"]]


async def test_stock_adjustments_and_goods_receipts_name_the_key_in_the_ledger(api: Api) -> None:
    counter = await _key(api, "ops stocktake", "ops")
    receiver = await _key(api, "goods-in", "warehouse")
    r = await api.http.post("/stock/adjustments", json={"sku": "MUG-001", "delta": -1, "reason": "broken"},
                            headers=counter)
    assert r.status_code == 201, r.text
    ledger = (await api.http.get("/stock/MUG-001/movements", headers=OPS)).json()["items"]
    adjustment = next(m for m in ledger if m["id"] == r.json()["movement_id"])
    assert (adjustment["actor"], adjustment["actor_role"]) == ("ops stocktake", "ops")

    # A pre-order makes a purchase order; its receipt names the key, booked (and logged) once.
    order_id = await api.placed(lines=[{"sku": "SOLDOUT-1", "quantity": 1}], backorder_policy="preorder")
    await api.wait_for_status(order_id, "AWAITING_STOCK")
    for _ in range(400):  # the SKU's replenishment workflow places it right after the pre-order
        if items := (await api.http.get("/purchase-orders", params={"sku": "SOLDOUT-1"}, headers=receiver)).json()["items"]:
            break
        await asyncio.sleep(0.05)
    po = items[0]
    receipt = {"quantity": po["quantity"], "receipt_id": "PAKBON-77"}
    for _ in range(2):
        r = await api.http.post(f"/purchase-orders/{po['id']}/receipt", json=receipt, headers=receiver)
        assert r.status_code == 200, r.text
    ledger = (await api.http.get("/stock/SOLDOUT-1/movements", headers=OPS)).json()["items"]
    booked = [m for m in ledger if m["reason"] == "goods receipt"]
    assert [(m["actor"], m["actor_role"]) for m in booked] == [("goods-in", "warehouse")]
    assert "received by goods-in (warehouse)" in booked[0]["note"]
    async with api.sessions() as session:
        logged = (await session.execute(select(StaffAction).where(StaffAction.purchase_order_id == po["id"]))).scalars().all()
        adjusted = (await session.execute(select(StaffAction).where(StaffAction.action == "stock_adjustment"))).scalars().all()
    assert [(a.action, a.actor) for a in logged] == [("goods_receipt", "goods-in")]
    assert [(a.actor, a.sku, a.detail) for a in adjusted] == [("ops stocktake", "MUG-001", "-1 x MUG-001 on hand")]


async def test_a_return_names_who_requested_inspected_and_so_refunded_it(api: Api) -> None:
    inspector = await _key(api, "returns desk", "warehouse")
    order_id = await delivered_order(api.sessions)
    r = await api.http.post(f"/orders/{order_id}/returns", headers=CHANNEL,
                            json={"lines": [{"line_no": 1, "quantity": 1}], "reason": "too small"})
    assert r.status_code == 201, r.text
    return_id = r.json()["return_id"]
    r = await api.http.post(f"/returns/{return_id}/inspection", headers=inspector,
                            json={"lines": [{"line_no": 1, "disposition": "resellable"}], "inspected_by": "Piet"})
    assert r.status_code == 200 and r.json()["accepted"] is True, r.text
    ret = await api.wait_for(f"/returns/{return_id}", "REFUNDED")
    assert ret["requested_by"] == "webshop dev key" and ret["inspected_by"] == "Piet"
    assert ret["refunds"][0]["actor"] == {"key_name": "returns desk", "role": "warehouse", "person": None}

    ledger = (await api.http.get("/stock/MUG-001/movements", headers=OPS)).json()["items"]
    restock = next(m for m in ledger if m["reason"] == "return restocked" and m["order_id"] == order_id)
    assert (restock["actor"], restock["actor_role"]) == ("returns desk", "warehouse")
    assert "inspected by Piet via returns desk (warehouse)" in restock["note"]

    order = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
    assert _actions(order) == [("return requested", "webshop dev key", "channel"),
                               ("return inspected", "returns desk", "warehouse")]
