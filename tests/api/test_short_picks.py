"""Short picks and cycle counts over HTTP: a bin that holds less than recorded corrects the
stock through the ledger, asks for a count, and sends the picker to another bin, or records the
line short with an alert when no bin has it; counting corrects the bin."""

import asyncio
from decimal import Decimal

from sqlalchemy import func, select

from storage.models import BinStock, PickList, PickListLine, Reservation, StockLevel
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api
from tests.api.test_backorders_and_purchasing import _purchase_order
from tests.api.test_warehouse import _pick_list_of


async def _ledger(api: Api, sku: str) -> list[dict]:
    return (await api.http.get(f"/stock/{sku}/movements", headers=WAREHOUSE)).json()["items"]


async def assert_bins_add_up(api: Api, sku: str) -> None:
    """On hand = the bins + what picked orders hold at the pack station."""
    async with api.sessions() as s:
        in_bins = await s.scalar(select(func.sum(BinStock.quantity)).where(BinStock.sku == sku)) or 0
        at_pack_station = await s.scalar(
            select(func.coalesce(func.sum(PickListLine.picked), 0))
            .join(PickList, PickList.id == PickListLine.pick_list_id)
            .join(Reservation, (Reservation.order_id == PickList.order_id) & (Reservation.sku == PickListLine.sku))
            .where(PickListLine.sku == sku, Reservation.status == "held")) or 0
        level = await s.get(StockLevel, sku)
        assert level.on_hand == in_bins + at_pack_station, (sku, level.on_hand, in_bins, at_pack_station)
        assert 0 <= level.reserved <= level.on_hand


def _confirm(pl: dict, step: dict, **body) -> tuple[str, dict]:
    return (f"/warehouse/pick-lists/{pl['id']}/steps/{step['step']}/confirm",
            {"scanned": step["sku"], "location": step["location"], "quantity": step["quantity"], **body})


async def _pick(api: Api, pl: dict, step: dict, **body):  # type: ignore[no-untyped-def]
    url, payload = _confirm(pl, step, **body)
    return await api.http.post(url, headers=WAREHOUSE, json=payload)


async def test_a_short_pick_takes_the_rest_from_another_bin_and_asks_for_a_count(api: Api) -> None:
    order_id = await api.placed(external_reference="SP-1", lines=[{"sku": "MUG-001", "quantity": 3}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    (step,) = pl["steps"]
    assert step["location"] == "A-02-03-2-1"  # 120 mugs recorded there, 80 in A-05-12-1-1

    url, body = _confirm(pl, step, quantity=1, short=True, picked_by="Jan")
    response = await api.http.post(url, headers=WAREHOUSE, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["picked"], answer["quantity"], answer["short"], answer["new_steps"]) == (1, 1, 0, [2])
    assert answer["pick_list_status"] == "open" and answer["order_status"] is None
    assert answer["cycle_count_id"] is not None

    # The bin held 1 where 120 were recorded: 119 are gone from the books, with the reason.
    movement = (await _ledger(api, "MUG-001"))[-1]
    assert (movement["on_hand_delta"], movement["reason"], movement["actor"]) == (-119, "short_pick", "warehouse dev key")
    stock = (await api.http.get("/stock/MUG-001", headers=OPS)).json()
    assert (stock["on_hand"], stock["reserved"]) == (81, 3)
    await assert_bins_add_up(api, "MUG-001")

    shown = (await api.http.get(f"/warehouse/pick-lists/{pl['id']}", headers=WAREHOUSE)).json()
    assert [(s["step"], s["location"], s["quantity"], s["picked"], s["done"]) for s in shown["steps"]] == [
        (1, "A-02-03-2-1", 1, 1, True), (2, "A-05-12-1-1", 2, 0, False)]
    assert float(shown["route_length_m"]) > float(pl["route_length_m"])  # the extra bin is walked

    # Scanning the old bin for the new step is refused; the new bin completes the order.
    new = shown["steps"][1]
    wrong = await _pick(api, shown, new, location="A-02-03-2-1")
    assert wrong.status_code == 409 and "A-05-12-1-1" in wrong.json()["detail"]
    done = await _pick(api, shown, new)
    assert done.status_code == 200, done.text
    assert done.json()["pick_list_status"] == "picked" and done.json()["completed"] is True
    await api.wait_for_status(order_id, "PACKING")
    await assert_bins_add_up(api, "MUG-001")

    # The count: blind while open; counted, the bin and the books agree with what is there.
    counts = (await api.http.get("/warehouse/cycle-counts", headers=WAREHOUSE)).json()
    [count] = [c for c in counts if c["id"] == answer["cycle_count_id"]]
    assert (count["location"], count["sku"], count["reason"], count["status"]) == (
        "A-02-03-2-1", "MUG-001", "short_pick", "open")
    assert count["recorded_quantity"] is None
    counted = await api.http.post(f"/warehouse/cycle-counts/{count['id']}", headers=WAREHOUSE,
                                  json={"counted": 4, "counted_by": "Piet"})
    assert counted.status_code == 200, counted.text
    assert (counted.json()["recorded_quantity"], counted.json()["difference"], counted.json()["status"]) == (0, 4, "counted")
    assert (await api.http.get("/stock/MUG-001", headers=OPS)).json()["on_hand"] == 85
    assert (await _ledger(api, "MUG-001"))[-1]["reason"] == "cycle_count"
    await assert_bins_add_up(api, "MUG-001")

    # The same count again is a harmless repeat; another number is refused.
    again = await api.http.post(f"/warehouse/cycle-counts/{count['id']}", headers=WAREHOUSE, json={"counted": 4})
    assert again.status_code == 200 and again.json()["difference"] == 4
    assert (await api.http.get("/stock/MUG-001", headers=OPS)).json()["on_hand"] == 85
    other = await api.http.post(f"/warehouse/cycle-counts/{count['id']}", headers=WAREHOUSE, json={"counted": 7})
    assert other.status_code == 409 and "already counted: 4" in other.json()["detail"]
    assert all(c["id"] != count["id"] for c in (await api.http.get("/warehouse/cycle-counts", headers=WAREHOUSE)).json())


async def test_a_short_pick_with_no_other_bin_is_recorded_short_and_raises_an_alert(api: Api) -> None:
    order_id = await api.placed(external_reference="SP-2", lines=[{"sku": "LAMP-200", "quantity": 2},
                                                                   {"sku": "BOOK-042", "quantity": 1}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    lamp = next(s for s in pl["steps"] if s["sku"] == "LAMP-200")
    book = next(s for s in pl["steps"] if s["sku"] == "BOOK-042")

    response = await _pick(api, pl, lamp, quantity=1, short=True)
    assert response.status_code == 200, response.text
    assert (response.json()["short"], response.json()["new_steps"]) == (1, [])
    assert response.json()["pick_list_status"] == "open"  # the book is still to pick
    # The lamp's only bin held 1 of 25: 24 gone; the order's reservation of the missing lamp released.
    stock = (await api.http.get("/stock/LAMP-200", headers=OPS)).json()
    assert (stock["on_hand"], stock["reserved"]) == (1, 1)
    reasons = [(m["on_hand_delta"], m["reserved_delta"], m["reason"]) for m in await _ledger(api, "LAMP-200")][-2:]
    assert sorted(reasons) == sorted([(-24, 0, "short_pick"), (0, -1, "short_pick")])
    await assert_bins_add_up(api, "LAMP-200")

    # The last step finishes the list short: the order is told, and its policy (ask, the
    # default) asks the customer about the missing lamp while the rest waits in the tote.
    last = await _pick(api, pl, book)
    assert last.status_code == 200, last.text
    assert last.json()["pick_list_status"] == "short" and last.json()["completed"] is True
    assert last.json()["order_status"] in ("PICKING", "AWAITING_CUSTOMER")
    order = await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    assert order["needs_attention"] is True
    assert "1 x LAMP-200" in order["timeline"][-1]["message"]
    [alert] = (await api.http.get("/alerts", headers=OPS, params={"kind": "short_pick"})).json()["alerts"]
    assert alert["order_id"] == order_id and "1 x LAMP-200" in alert["message"]
    listed = (await api.http.get("/warehouse/pick-lists", headers=WAREHOUSE, params={"order_id": order_id})).json()
    assert [p["status"] for p in listed] == ["short"]
    shown = (await api.http.get(f"/warehouse/pick-lists/{pl['id']}", headers=WAREHOUSE)).json()
    assert next(s for s in shown["steps"] if s["sku"] == "LAMP-200")["short"] == 1

    # Nothing left to scan on the short step; the order cannot be packed before the answer.
    again = await _pick(api, pl, lamp, quantity=1)
    assert again.status_code == 422 and "nothing left to pick" in again.json()["detail"]
    early = await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE)
    assert early.status_code == 409 and "AWAITING_CUSTOMER" in early.json()["detail"]

    # The customer cancels the missing lamp: the line ships the one picked, the order is
    # re-priced (49.00 less: the card is captured for that at handover); the pack step goes on.
    placed_total = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["total_amount"]
    decided = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "cancel"},
                                  headers=CHANNEL)
    assert decided.status_code == 200 and decided.json()["accepted"] is True, decided.text
    order = await api.wait_for_status(order_id, "PACKING")
    assert [(ln["sku"], ln["quantity"]) for ln in order["lines"]] == [("LAMP-200", 1), ("BOOK-042", 1)]
    assert Decimal(order["total_amount"]) == Decimal(placed_total) - Decimal("49.00")
    plan = await _packing_plan(api, order_id)
    packed = sorted(item["sku"] for c in plan["containers"] for item in c["items"])
    assert packed == ["BOOK-042", "LAMP-200"]
    stock = (await api.http.get("/stock/LAMP-200", headers=OPS)).json()
    assert (stock["on_hand"], stock["reserved"]) == (1, 1)  # the picked lamp, held for the order
    await assert_bins_add_up(api, "LAMP-200")


async def test_short_units_pre_ordered_are_picked_in_a_second_round_when_they_arrive(api: Api) -> None:
    order_id = await api.placed(external_reference="SP-4", backorder_policy="preorder",
                                lines=[{"sku": "LAMP-200", "quantity": 3}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    (lamp,) = pl["steps"]
    short = await _pick(api, pl, lamp, quantity=2, short=True, picked_by="Jan")
    assert short.status_code == 200, short.text
    assert (short.json()["short"], short.json()["completed"], short.json()["pick_list_status"]) == (1, True, "short")

    # Pre-ordered at once: the order waits for the supplier with the two lamps in its tote.
    order = await api.wait_for_status(order_id, "AWAITING_STOCK")
    # (the short-pick alert's note may come after the status change on the timeline)
    assert "LAMP-200 expected" in [e for e in order["timeline"] if e["kind"] == "status"][-1]["message"]
    assert any("short pick on " + pl["id"] in e["message"] and "by Jan" in e["message"] for e in order["timeline"])
    po = await _purchase_order(api, "LAMP-200")
    received = await api.http.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE,
                                   json={"quantity": po["quantity"], "receipt_id": "SP-4-PAKBON"})
    assert received.status_code == 200, received.text
    assert [(a["order_id"], a["quantity"], a["complete"]) for a in received.json()["allocations"]] == [
        (order_id, 1, True)]

    # The same pick list gets a second round for the missing lamp only.
    await api.wait_for_status(order_id, "PICKING")
    # The workflow reopens the list a moment after the order shows PICKING.
    second = await api.wait_for(f"/warehouse/pick-lists/{pl['id']}", "open", headers=WAREHOUSE)
    new = [s for s in second["steps"] if not s["done"]]
    assert [(s["step"], s["sku"], s["quantity"]) for s in new] == [(2, "LAMP-200", 1)]
    done = await _pick(api, second, new[0])
    assert done.status_code == 200, done.text
    assert (done.json()["pick_list_status"], done.json()["completed"]) == ("picked", True)
    order = await api.wait_for_status(order_id, "PACKING")
    assert [(ln["sku"], ln["quantity"]) for ln in order["lines"]] == [("LAMP-200", 3)]
    plan = await _packing_plan(api, order_id)
    assert sum(1 for c in plan["containers"] for item in c["items"] if item["sku"] == "LAMP-200") == 3
    stock = (await api.http.get("/stock/LAMP-200", headers=OPS)).json()
    assert stock["reserved"] == 3
    ledger = await _ledger(api, "LAMP-200")
    assert sum(m["on_hand_delta"] for m in ledger) == stock["on_hand"]
    assert sum(m["reserved_delta"] for m in ledger) == stock["reserved"]
    await assert_bins_add_up(api, "LAMP-200")


async def _packing_plan(api: Api, order_id: str) -> dict:
    """The order's packing plan (planned by the workflow just after it reached PACKING)."""
    for _ in range(200):
        plan = await api.http.get(f"/orders/{order_id}/packing-plan", headers=WAREHOUSE)
        if plan.status_code == 200:
            return plan.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} got no packing plan")


async def test_bad_short_pick_and_count_requests_are_clear_4xx(api: Api) -> None:
    order_id = await api.placed(external_reference="SP-3", lines=[{"sku": "VASE-010", "quantity": 1}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    (step,) = pl["steps"]
    zero = await _pick(api, pl, step, quantity=0)
    url, body = _confirm(pl, step, quantity=0)
    assert zero.status_code == 422 and '"short": true' in zero.json()["message"]
    for bad in ({"short": "maybe"}, {"quantity": -1, "short": True}):
        assert (await api.http.post(url, headers=WAREHOUSE, json={**body, **bad})).status_code == 422
    wrong_item = await api.http.post(url, headers=WAREHOUSE, json={**body, "scanned": "MUG-001", "short": True})
    assert wrong_item.status_code == 422
    async with api.sessions() as s:
        vase = (await s.execute(select(BinStock).where(BinStock.sku == "VASE-010"))).scalar_one()
        assert (vase.quantity, vase.allocated) == (40, 1)  # a refused short pick changed nothing

    for count_id, payload, status in ((999, {"counted": 1}, 404), (0, {"counted": 1}, 422), (1, {"counted": -1}, 422),
                                      (1, {}, 422), (1, {"counted": "x"}, 422), (1, {"counted": 1, "counted_by": "\x00"}, 422)):
        response = await api.http.post(f"/warehouse/cycle-counts/{count_id}", headers=WAREHOUSE, json=payload)
        assert response.status_code == status, (count_id, payload, response.text)
        assert response.json()["detail"]
    assert (await api.http.get("/warehouse/cycle-counts", headers=CHANNEL)).status_code == 403
    assert (await api.http.post("/warehouse/cycle-counts/1", headers=CHANNEL, json={"counted": 1})).status_code == 403


async def test_a_short_pick_that_empties_another_orders_list_tells_that_order_too(api: Api) -> None:
    """Two orders count on the lamps' only bin; the first picker finds one lamp. The second
    order's only step is then short as well: its list is finished by the first pick, and its
    order is told (its customer is asked) without anyone scanning its list."""
    first = await api.placed(external_reference="SP-5", lines=[{"sku": "LAMP-200", "quantity": 2}])
    second = await api.placed(external_reference="SP-6", lines=[{"sku": "LAMP-200", "quantity": 2}])
    await api.wait_for_status(first, "PICKING")
    await api.wait_for_status(second, "PICKING")
    mine, other = await _pick_list_of(api, first), await _pick_list_of(api, second)
    (lamp,) = mine["steps"]
    response = await _pick(api, mine, lamp, quantity=1, short=True)
    assert response.status_code == 200, response.text
    assert response.json()["completed"] is True

    # The newest list gives way first: the second order's lamps are gone, all of them.
    shown = (await api.http.get(f"/warehouse/pick-lists/{other['id']}", headers=WAREHOUSE)).json()
    assert shown["status"] == "short" and shown["steps"][0]["short"] == 2
    order = await api.wait_for_status(second, "AWAITING_CUSTOMER")
    assert "2 x LAMP-200" in order["timeline"][-1]["message"]
    await api.wait_for_status(first, "AWAITING_CUSTOMER")
    await assert_bins_add_up(api, "LAMP-200")


async def test_cancelling_after_a_short_pick_puts_the_picked_goods_back(api: Api) -> None:
    order_id = await api.placed(external_reference="SP-7", lines=[{"sku": "LAMP-200", "quantity": 2},
                                                                   {"sku": "BOOK-042", "quantity": 1}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    for step in pl["steps"]:
        short = {"quantity": 1, "short": True} if step["sku"] == "LAMP-200" else {}
        assert (await _pick(api, pl, step, **short)).status_code == 200
    await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    decided = await api.http.post(f"/orders/{order_id}/backorder-decision", json={"decision": "cancel_order"},
                                  headers=CHANNEL)
    assert decided.status_code == 200, decided.text
    order = await api.wait_for_status(order_id, "CANCELLED")
    assert "cancelled the order" in order["cancellation_reason"]
    # The lamp and the book that were picked wait at the pack station for a put-away.
    tasks = (await api.http.get("/warehouse/put-away", headers=WAREHOUSE)).json()
    back = sorted((t["sku"], t["quantity"]) for t in tasks if t.get("order_id") == order_id or
                  order_id in (t.get("reference") or ""))
    assert back == [("BOOK-042", 1), ("LAMP-200", 1)], tasks
    for sku in ("LAMP-200", "BOOK-042"):
        stock = (await api.http.get(f"/stock/{sku}", headers=OPS)).json()
        assert stock["reserved"] == 0, stock


async def test_another_orders_refusal_does_not_keep_this_order_from_being_told(api: Api) -> None:
    """The pick that empties a bin finishes another order's list too; that order's workflow is
    gone (terminated by hand). The picker's own order is still told, and the answer is 200."""
    mine_id = await api.placed(external_reference="SP-8", lines=[{"sku": "LAMP-200", "quantity": 2}])
    other_id = await api.placed(external_reference="SP-9", lines=[{"sku": "LAMP-200", "quantity": 2}])
    await api.wait_for_status(mine_id, "PICKING")
    await api.wait_for_status(other_id, "PICKING")
    mine = await _pick_list_of(api, mine_id)
    await _pick_list_of(api, other_id)
    await api.temporal.get_workflow_handle(f"order-{other_id}").terminate("gone, for the test")
    (lamp,) = mine["steps"]
    response = await _pick(api, mine, lamp, quantity=1, short=True)
    assert response.status_code == 200, response.text
    assert response.json()["completed"] is True
    await api.wait_for_status(mine_id, "AWAITING_CUSTOMER")


async def test_pick_sends_a_short_lists_outcome_again_when_it_never_reached_the_order(api: Api) -> None:
    """The pick that finished the list short was booked, but its message to the order was lost
    (Temporal was away): POST /orders/{id}/pick sends the list's outcome again."""
    order_id = await api.placed(external_reference="SP-10", lines=[{"sku": "LAMP-200", "quantity": 2}])
    await api.wait_for_status(order_id, "PICKING")
    pl = await _pick_list_of(api, order_id)
    from storage.db import transaction

    # As the app writes (a write transaction from the start, queued behind the worker's): a
    # read that turns into a write meets SQLite's "database is locked" when the worker wrote
    # in between.
    async with transaction(api.sessions) as s:
        # What the booked pick left behind: one lamp taken, one short, the list finished short.
        line = (await s.execute(select(PickListLine).where(PickListLine.pick_list_id == pl["id"]))).scalar_one()
        line.picked, line.short = 1, 1
        (await s.get(PickList, pl["id"])).status = "short"
    again = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert again.status_code == 200 and again.json()["accepted"] is True, again.text
    order = await api.wait_for_status(order_id, "AWAITING_CUSTOMER")
    assert "1 x LAMP-200" in order["timeline"][-1]["message"]
    repeat = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert repeat.status_code == 409 and "AWAITING_CUSTOMER" in repeat.json()["detail"], repeat.text
