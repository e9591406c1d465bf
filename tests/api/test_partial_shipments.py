"""Partial shipments over HTTP (issue 4, ``ship_partial``): what is in stock ships at once, the
pre-ordered rest in a second shipment when it arrives; the order is PARTIALLY_SHIPPED in
between, each shipment has its own pick list, packing plan, booking, label, invoice and
capture, and the order is DELIVERED when both shipments are."""

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from storage.models import PickList, Reservation, Shipment, StockLevel
from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import signed_carrier_event

# The mug is in stock; the print is sold out, so it is pre-ordered.
MUGS_AND_PRINT = [{"sku": "MUG-001", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}]


async def _purchase_order(api: Api, sku: str) -> dict[str, Any]:
    for _ in range(200):
        r = await api.http.get("/purchase-orders", params={"sku": sku}, headers=WAREHOUSE)
        if r.json()["items"]:
            return r.json()["items"][0]
        await asyncio.sleep(0.05)
    raise AssertionError("no purchase order was placed")


async def _open_pick_list(api: Api, order_id: str) -> dict[str, Any]:
    """The order's open pick list (made, or reopened for a second round, just after the order
    says PICKING; the list of GET /warehouse/pick-lists also shows short ones)."""
    for _ in range(200):
        lists = [pl for pl in (await api.http.get("/warehouse/pick-lists", params={"order_id": order_id},
                                                  headers=WAREHOUSE)).json() if pl["status"] == "open"]
        if lists:
            [pick_list] = lists
            return pick_list
        await asyncio.sleep(0.05)
    raise AssertionError("no open pick list")


async def _through_the_warehouse(api: Api, order_id: str, *, dispatch: bool = False) -> dict[str, Any]:
    """Pick, pack and hand over; with ``dispatch``, handed over by loading the parcel in a
    carrier dispatch that departs."""
    picked = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert picked.json()["accepted"] is True, picked.text
    packed = await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE)
    assert packed.json().get("accepted") is True, packed.text
    ready = await api.wait_for_status(order_id, "READY_TO_SHIP")
    if not dispatch:
        handover = await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)
        assert handover.status_code == 200 and handover.json()["accepted"] is True, handover.text
        return ready
    latest = ready["shipments"][-1]
    made = await api.http.post("/warehouse/dispatches", json={
        "carrier": latest["carrier"], "tracking_numbers": latest["package_tracking_numbers"]}, headers=WAREHOUSE)
    assert made.status_code in (200, 201), made.text
    assert {p["tracking_number"] for p in made.json()["packages"]} == set(latest["package_tracking_numbers"])
    departed = await api.http.post(f"/warehouse/dispatches/{made.json()['id']}/depart", headers=WAREHOUSE)
    assert departed.status_code == 200, departed.text
    assert [r["handed_over"] for r in departed.json()["handover"]] == [True]
    return ready


async def _track(api: Api, tracking_number: str, event: str) -> None:
    r = await api.http.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": tracking_number, "event": event}, CARRIER))
    assert r.status_code == 200, r.text


async def _receive(api: Api, sku: str, receipt_id: str) -> None:
    po = await _purchase_order(api, sku)
    r = await api.http.post(f"/purchase-orders/{po['id']}/receipt",
                            json={"quantity": po["quantity"], "receipt_id": receipt_id}, headers=WAREHOUSE)
    assert r.status_code == 200, r.text


async def _units(api: Api, order_id: str) -> dict[str, list[tuple[str, int]]]:
    async with api.sessions() as s:
        rows = (await s.execute(select(Reservation.status, Reservation.sku, Reservation.quantity).where(
            Reservation.order_id == order_id).order_by(Reservation.id))).all()
    out: dict[str, list[tuple[str, int]]] = {}
    for status, sku, quantity in rows:
        out.setdefault(status, []).append((sku, quantity))
    return out


async def test_what_is_in_stock_ships_now_and_the_rest_in_a_second_shipment(api: Api) -> None:
    order_id = await api.placed(lines=MUGS_AND_PRINT, backorder_policy="preorder", ship_partial=True)
    first = await api.wait_for_status(order_id, "PICKING")
    assert first["ship_partial"] is True
    statuses = [e["status"] for e in first["timeline"] if e["kind"] == "status"]
    assert statuses == ["PAYMENT_AUTHORIZED", "AWAITING_STOCK", "RESERVED", "PICKING"]
    assert "what is in stock ships now" in first["timeline"][1]["message"]

    # The first pick list and packing plan hold the mugs only.
    pick_list = await _open_pick_list(api, order_id)
    assert pick_list["part"] == 1
    steps = (await api.http.get(f"/warehouse/pick-lists/{pick_list['id']}", headers=WAREHOUSE)).json()["steps"]
    assert {step["sku"] for step in steps} == {"MUG-001"} and sum(step["quantity"] for step in steps) == 2
    await _through_the_warehouse(api, order_id)

    partly = await api.wait_for_status(order_id, "PARTIALLY_SHIPPED")
    total = Decimal(partly["total_amount"])
    [shipment_1] = partly["shipments"]
    assert shipment_1["part"] == 1
    assert partly["payment"]["status"] == "partially_captured"
    assert Decimal(partly["payment"]["captured"]) == Decimal("25.90")  # two mugs
    docs = (await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)).json()
    assert len(docs["invoice_numbers"]) == 1
    assert await _units(api, order_id) == {"shipped": [("MUG-001", 2)]}

    # The first parcel is tracked while the rest is on its way from the supplier; delivered
    # alone, it does not make the order DELIVERED.
    assert shipment_1["status"] == "SHIPPED"
    await _track(api, shipment_1["tracking_number"], "IN_TRANSIT")
    await _track(api, shipment_1["tracking_number"], "DELIVERED")
    waiting = (await api.http.get(f"/orders/{order_id}", headers=CHANNEL)).json()
    assert (waiting["status"], waiting["shipments"][0]["status"]) == ("PARTIALLY_SHIPPED", "DELIVERED")
    refused = await api.http.post(f"/orders/{order_id}/feedback", json={"rating": 5}, headers=CHANNEL)
    assert refused.status_code == 409, refused.text
    assert (await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)).status_code == 409

    await _receive(api, "SOLDOUT-1", "PAKBON-PARTIAL-1")
    second = await api.wait_for_status(order_id, "PICKING")
    assert "shipment 2 of 2" in second["timeline"][-1]["message"]
    pick_list = await _open_pick_list(api, order_id)
    assert pick_list["part"] == 2
    steps = (await api.http.get(f"/warehouse/pick-lists/{pick_list['id']}", headers=WAREHOUSE)).json()["steps"]
    assert [(step["sku"], step["quantity"]) for step in steps] == [("SOLDOUT-1", 1)]
    async with api.sessions() as s:
        parts = (await s.execute(select(PickList.part, PickList.status).where(PickList.order_id == order_id)
                                 .order_by(PickList.part))).all()
    assert [tuple(p) for p in parts] == [(1, "shipped"), (2, "open")]
    # The second parcel leaves in a carrier dispatch: the first one's packages (gone already)
    # do not hold it back.
    await _through_the_warehouse(api, order_id, dispatch=True)
    plan = (await api.http.get(f"/orders/{order_id}/packing-plan", headers=WAREHOUSE)).json()
    assert plan["part"] == 2
    assert [i["sku"] for c in plan["containers"] for i in c["items"]] == ["SOLDOUT-1"]

    shipped = await api.wait_for_status(order_id, "SHIPPED")
    assert [s["part"] for s in shipped["shipments"]] == [1, 2]
    shipment_2 = shipped["shipments"][1]
    assert shipment_2["tracking_number"] != shipment_1["tracking_number"]
    assert shipped["payment"]["status"] == "captured"
    assert Decimal(shipped["payment"]["captured"]) == total
    docs = (await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)).json()
    assert len(docs["invoice_numbers"]) == 2
    labels = [d for d in docs["documents"] if d["kind"] == "label" and d["filename"].endswith(".pdf")]
    assert {d["shipment_id"] for d in labels} == {shipment_1["shipment_id"], shipment_2["shipment_id"]}
    slips = sorted(d["filename"] for d in docs["documents"] if d["kind"] == "packing_slip")
    assert slips == [f"packing-slip-{order_id}-2.pdf", f"packing-slip-{order_id}.pdf"]
    assert await _units(api, order_id) == {"shipped": [("MUG-001", 2), ("SOLDOUT-1", 1)]}

    await _track(api, shipment_2["tracking_number"], "DELIVERED")
    delivered = await api.wait_for_status(order_id, "DELIVERED")
    # The read model has both shipments delivered.
    for _ in range(200):
        async with api.sessions() as s:
            rows = (await s.execute(select(Shipment.part, Shipment.status).where(Shipment.order_id == order_id)
                                    .order_by(Shipment.part))).all()
        if [tuple(r) for r in rows] == [(1, "DELIVERED"), (2, "DELIVERED")]:
            break
        await asyncio.sleep(0.05)
    assert [tuple(r) for r in rows] == [(1, "DELIVERED"), (2, "DELIVERED")]
    statuses = [e["status"] for e in delivered["timeline"] if e["kind"] == "status"]
    assert statuses == ["PAYMENT_AUTHORIZED", "AWAITING_STOCK", "RESERVED", "PICKING", "PACKING", "READY_TO_SHIP",
                        "PARTIALLY_SHIPPED", "RESERVED", "PICKING", "PACKING", "READY_TO_SHIP", "SHIPPED",
                        "DELIVERED"]
    async with api.sessions() as s:
        mugs = await s.get(StockLevel, "MUG-001")
        assert mugs.reserved == 0
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")


async def test_without_ship_partial_the_order_waits_for_everything(api: Api) -> None:
    order_id = await api.placed(lines=MUGS_AND_PRINT, backorder_policy="preorder")
    waiting = await api.wait_for_status(order_id, "AWAITING_STOCK")
    assert waiting["ship_partial"] is False
    await _receive(api, "SOLDOUT-1", "PAKBON-WHOLE-1")
    await api.wait_for_status(order_id, "PICKING")
    await _through_the_warehouse(api, order_id)
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    assert [s["part"] for s in shipped["shipments"]] == [1]
    assert shipped["payment"]["status"] == "captured"
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")


async def test_cancelling_after_the_first_shipment_cancels_only_the_rest(api: Api) -> None:
    order_id = await api.placed(lines=MUGS_AND_PRINT, backorder_policy="preorder", ship_partial=True,
                                payment={"method": "ideal", "token": "tok_ideal"})
    await api.wait_for_status(order_id, "PICKING")
    await _through_the_warehouse(api, order_id)
    partly = await api.wait_for_status(order_id, "PARTIALLY_SHIPPED")
    paid = Decimal(partly["payment"]["captured"])

    r = await api.http.post(f"/orders/{order_id}/cancel", json={"reason": "too slow"}, headers=CHANNEL)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] is True and r.json()["status"] == "SHIPPED"
    assert "rest of the order was cancelled" in r.json()["message"]
    after = (await api.http.get(f"/orders/{order_id}", headers=CHANNEL)).json()
    assert [(ln["sku"], ln["quantity"]) for ln in after["lines"] if ln["sku"] == "MUG-001"] == [("MUG-001", 2)]
    assert Decimal(after["total_amount"]) == Decimal("25.90")
    assert Decimal(after["payment"]["refunded"]) == paid - Decimal("25.90")
    stock = (await api.http.get("/stock/SOLDOUT-1", headers=OPS)).json()
    assert stock["waiting_preorders"] == 0
    again = await api.http.post(f"/orders/{order_id}/cancel", json={"reason": "again"}, headers=CHANNEL)
    assert again.status_code == 409, again.text

    # The shipment that left is tracked to the end, a Temporal cancel now notwithstanding.
    await api.temporal.get_workflow_handle(f"order-{order_id}").cancel()
    for _ in range(100):
        timeline = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["timeline"]
        if any("Temporal cancel ignored" in e["message"] for e in timeline):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the Temporal cancel was not noted")
    await _track(api, partly["shipments"][0]["tracking_number"], "DELIVERED")
    await api.wait_for_status(order_id, "DELIVERED")
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")


async def _short_pick(api: Api, order_id: str, sku: str, picked: int) -> dict[str, Any]:
    """The order's open pick list: the step of ``sku`` picked ``picked`` units, its bin empty
    (the rest short); the other steps picked in full."""
    pick_list = await _open_pick_list(api, order_id)
    steps = (await api.http.get(f"/warehouse/pick-lists/{pick_list['id']}", headers=WAREHOUSE)).json()["steps"]
    for step in sorted(steps, key=lambda s: s["sku"] != sku):
        body = {"scanned": step["sku"], "location": step["location"], "quantity": step["quantity"]}
        if step["sku"] == sku:
            body.update(quantity=picked, short=True)
        r = await api.http.post(f"/warehouse/pick-lists/{pick_list['id']}/steps/{step['step']}/confirm",
                                json=body, headers=WAREHOUSE)
        assert r.status_code == 200, r.text
    return pick_list


async def test_a_short_pick_in_the_first_shipment_sends_the_missing_units_with_the_second(api: Api) -> None:
    """Two lamps in stock (one bin holds only one, it turns out) and the sold-out print: the
    first parcel takes the one lamp there is, the missing lamp is pre-ordered and joins the
    print in the second."""
    order_id = await api.placed(lines=[{"sku": "LAMP-200", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}],
                                backorder_policy="preorder", ship_partial=True)
    await api.wait_for_status(order_id, "PICKING")
    await _short_pick(api, order_id, "LAMP-200", picked=1)
    packing = await api.wait_for_status(order_id, "PACKING")
    short_note = next(e["message"] for e in packing["timeline"] if e["message"].startswith("short pick on"))
    assert "1 x LAMP-200" in short_note and "SOLDOUT-1" not in short_note  # only this shipment's units
    assert any("follow in the second shipment" in e["message"] for e in packing["timeline"])

    assert (await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE)).json()["accepted"] is True
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert (await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)).json()["accepted"] is True
    partly = await api.wait_for_status(order_id, "PARTIALLY_SHIPPED")
    assert Decimal(partly["payment"]["captured"]) == Decimal("49.00")  # one lamp

    await _receive(api, "LAMP-200", "PAKBON-LAMP-1")
    await _receive(api, "SOLDOUT-1", "PAKBON-PRINT-2")
    await api.wait_for_status(order_id, "PICKING")
    pick_list = await _open_pick_list(api, order_id)
    steps = (await api.http.get(f"/warehouse/pick-lists/{pick_list['id']}", headers=WAREHOUSE)).json()["steps"]
    assert sorted((s["sku"], s["quantity"]) for s in steps) == [("LAMP-200", 1), ("SOLDOUT-1", 1)]
    await _through_the_warehouse(api, order_id)
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    assert Decimal(shipped["payment"]["captured"]) == Decimal(shipped["total_amount"]) == Decimal("187.00")
    assert await _units(api, order_id) == {"shipped": [("LAMP-200", 1), ("LAMP-200", 1), ("SOLDOUT-1", 1)]}
    for sku in ("LAMP-200", "SOLDOUT-1"):
        ledger = (await api.http.get(f"/stock/{sku}/movements", headers=WAREHOUSE)).json()["items"]
        stock = (await api.http.get(f"/stock/{sku}", headers=OPS)).json()
        assert sum(m["on_hand_delta"] for m in ledger) == stock["on_hand"]
        assert sum(m["reserved_delta"] for m in ledger) == stock["reserved"] == 0
    for sku in ("LAMP-200", "SOLDOUT-1"):
        await api.temporal.get_workflow_handle(f"replenish-{sku}").terminate("test done")


async def test_the_customer_cancelling_after_a_short_second_shipment_keeps_the_first(api: Api) -> None:
    """The print arrives but its bin turns out empty when the second shipment is picked; the
    customer, asked, cancels the order: only the rest is cancelled, the mugs that left stay sold."""
    order_id = await api.placed(lines=MUGS_AND_PRINT, ship_partial=True)  # backorder policy "ask"
    await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    r = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "preorder"}, headers=CHANNEL)
    assert r.status_code == 200 and r.json()["accepted"] is True, r.text
    await api.wait_for_status(order_id, "PICKING")
    await _through_the_warehouse(api, order_id)
    await api.wait_for_status(order_id, "PARTIALLY_SHIPPED")
    await _receive(api, "SOLDOUT-1", "PAKBON-PRINT-3")
    await api.wait_for_status(order_id, "PICKING")
    await _short_pick(api, order_id, "SOLDOUT-1", picked=0)
    await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    r = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "cancel_order"},
                            headers=CHANNEL)
    assert r.status_code == 200, r.text
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    assert "rest of the order was cancelled" in shipped["timeline"][-1]["message"]
    assert Decimal(shipped["total_amount"]) == Decimal("25.90")
    assert shipped["payment"]["status"] == "captured" and Decimal(shipped["payment"]["captured"]) == Decimal("25.90")
    await _track(api, shipped["shipments"][0]["tracking_number"], "DELIVERED")
    await api.wait_for_status(order_id, "DELIVERED")
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")


async def _only_in_stock(api: Api, sku: str, units: int) -> None:
    """The SKU's stock (and its one bin) set to ``units``, through the ledger."""
    from sqlalchemy import update

    from storage.db import transaction
    from storage.models import BinStock, StockMovement

    async with transaction(api.sessions) as s:
        level = await s.get(StockLevel, sku)
        s.add(StockMovement(sku=sku, on_hand_delta=units - level.on_hand, reason="stock count"))
        await s.execute(update(StockLevel).where(StockLevel.sku == sku).values(on_hand=units))
        await s.execute(update(BinStock).where(BinStock.sku == sku).values(quantity=units))


async def _ledger_adds_up(api: Api, sku: str) -> None:
    ledger = (await api.http.get(f"/stock/{sku}/movements", headers=WAREHOUSE)).json()["items"]
    stock = (await api.http.get(f"/stock/{sku}", headers=OPS)).json()
    assert sum(m["on_hand_delta"] for m in ledger) == stock["on_hand"]
    assert sum(m["reserved_delta"] for m in ledger) == stock["reserved"]


async def test_a_pre_ordered_unit_that_arrived_before_a_short_pick_of_its_sku_still_ships(api: Api) -> None:
    """Three lamps, two in stock: the third is pre-ordered and arrives while the first two are
    picked; one of those turns out missing. Every lamp ordered ships, and is paid once."""
    await _only_in_stock(api, "LAMP-200", 2)
    order_id = await api.placed(lines=[{"sku": "LAMP-200", "quantity": 3}], backorder_policy="preorder",
                                ship_partial=True)
    await api.wait_for_status(order_id, "PICKING")
    await _open_pick_list(api, order_id)
    await _receive(api, "LAMP-200", "PAKBON-LAMP-A")  # the pre-ordered lamp, held for the order
    await _short_pick(api, order_id, "LAMP-200", picked=1)
    await api.wait_for_status(order_id, "PACKING")
    assert (await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE)).json()["accepted"] is True
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert (await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)).json()["accepted"] is True
    partly = await api.wait_for_status(order_id, "PARTIALLY_SHIPPED")
    assert Decimal(partly["payment"]["captured"]) == Decimal("49.00")

    await _receive(api, "LAMP-200", "PAKBON-LAMP-B")  # the missing one, pre-ordered after the short pick
    await api.wait_for_status(order_id, "PICKING")
    pick_list = await _open_pick_list(api, order_id)
    steps = (await api.http.get(f"/warehouse/pick-lists/{pick_list['id']}", headers=WAREHOUSE)).json()["steps"]
    assert sum(s["quantity"] for s in steps if s["sku"] == "LAMP-200") == 2
    await _through_the_warehouse(api, order_id)
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    assert Decimal(shipped["payment"]["captured"]) == Decimal(shipped["total_amount"]) == Decimal("147.00")
    units = await _units(api, order_id)
    assert "held" not in units and sum(q for _, q in units["shipped"]) == 3
    await _ledger_adds_up(api, "LAMP-200")
    await api.temporal.get_workflow_handle("replenish-LAMP-200").terminate("test done")


async def test_nothing_of_the_first_shipment_there_makes_the_order_wait_and_ship_whole(api: Api) -> None:
    """The only in-stock unit (a lamp, its line's policy cancel) is missing at the pick: the
    first shipment has nothing, so the order waits for the print and ships it alone."""
    await _only_in_stock(api, "LAMP-200", 1)
    order_id = await api.placed(lines=[{"sku": "LAMP-200", "quantity": 1, "backorder_policy": "cancel"},
                                       {"sku": "SOLDOUT-1", "quantity": 1}],
                                backorder_policy="preorder", ship_partial=True)
    await api.wait_for_status(order_id, "PICKING")
    await _short_pick(api, order_id, "LAMP-200", picked=0)
    waiting = await api.wait_for_status(order_id, "AWAITING_STOCK")
    assert any("ships whole" in e["message"] for e in waiting["timeline"])
    assert Decimal(waiting["total_amount"]) == Decimal("89.00")  # the lamp's line dropped

    await _receive(api, "SOLDOUT-1", "PAKBON-PRINT-4")
    await api.wait_for_status(order_id, "PICKING")
    pick_list = await _open_pick_list(api, order_id)  # the same list, a second round for the print
    steps = (await api.http.get(f"/warehouse/pick-lists/{pick_list['id']}", headers=WAREHOUSE)).json()["steps"]
    assert [(s["sku"], s["quantity"]) for s in steps if not s["done"]] == [("SOLDOUT-1", 1)]
    await _through_the_warehouse(api, order_id)
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    assert [s["part"] for s in shipped["shipments"]] == [1]
    assert Decimal(shipped["payment"]["captured"]) == Decimal(shipped["total_amount"]) == Decimal("89.00")
    assert await _units(api, order_id) == {"released": [("LAMP-200", 0)], "shipped": [("SOLDOUT-1", 1)]}
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")


async def test_a_delivery_problem_with_the_first_parcel_is_raised_while_the_second_is_picked(api: Api) -> None:
    order_id = await api.placed(lines=MUGS_AND_PRINT, backorder_policy="preorder", ship_partial=True)
    await api.wait_for_status(order_id, "PICKING")
    await _through_the_warehouse(api, order_id)
    partly = await api.wait_for_status(order_id, "PARTIALLY_SHIPPED")
    first = partly["shipments"][0]["tracking_number"]
    await _receive(api, "SOLDOUT-1", "PAKBON-PRINT-5")
    await api.wait_for_status(order_id, "PICKING")
    r = await api.http.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": first, "event": "EXCEPTION", "description": "address not found"}, CARRIER))
    assert r.status_code == 200, r.text
    for _ in range(200):
        order = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
        if order["needs_attention"]:
            break
        await asyncio.sleep(0.05)
    assert order["needs_attention"] is True and order["status"] == "PICKING"
    alerts = (await api.http.get("/alerts", headers=OPS)).json()["alerts"]
    [alert] = [a for a in alerts if a["order_id"] == order_id]
    assert alert["kind"] == "delivery_exception" and first in alert["message"]
    await api.temporal.get_workflow_handle("replenish-SOLDOUT-1").terminate("test done")
