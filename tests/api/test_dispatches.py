"""Dispatches over HTTP with real orders brought to READY_TO_SHIP: a carrier's ready packages
are taken, grouped into stops and planned (the plan passes the independent checker, run here
again on the packages as booked), a package goes in one open dispatch only, and bad input is
refused with a clear 4xx, writing nothing."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from activities.planning.loading_check import check_load_plan
from api.main import create_app
from storage.dispatches import Dispatch, DispatchPackage
from storage.models import ShipmentPackage, StaffAction
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api

AMSTERDAM = {"country": "NL", "street": "Damrak", "house_number": "1", "postcode": "1012 LG", "city": "Amsterdam"}
UTRECHT = {"country": "NL", "street": "Oudegracht", "house_number": "5", "postcode": "3511 AB", "city": "Utrecht"}
BRUSSELS = {"country": "BE", "street": "Grote Markt", "house_number": "1", "postcode": "1000", "city": "Brussel"}


async def _ready(api: Api, reference: str, address: dict[str, str], lines: list[dict[str, Any]],
                 carrier: str) -> dict[str, Any]:
    """An order placed, picked and packed: READY_TO_SHIP, booked with ``carrier``."""
    order_id = await api.placed(external_reference=reference, shipping_address=address, lines=lines,
                                shipping={"preference": "named", "carrier": carrier})
    await api.wait_for_status(order_id, "PICKING")
    for step in ("pick", "pack"):
        response = await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)
        assert response.status_code == 200, response.text
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert order["shipments"][0]["carrier"] == carrier
    # Dispatches read the read model, which follows the workflow a moment later.
    await api.wait_listed({"status": "READY_TO_SHIP"}, order_id)
    return order


async def _packages(api: Api, numbers: list[str]) -> list[dict[str, Any]]:
    """The packages as booked, for the checker: pallets by their container, as the API says."""
    plan = {}
    async with api.sessions() as session:
        rows = (await session.execute(select(ShipmentPackage).where(ShipmentPackage.tracking_number.in_(numbers)))
                ).scalars().all()
    for p in rows:
        plan[p.tracking_number] = {"id": p.tracking_number, "length": p.length_mm, "width": p.width_mm,
                                   "height": p.height_mm, "weight_g": p.weight_grams,
                                   "pallet": (p.container or "").startswith("PALLET")}
    return list(plan.values())


async def _count(api: Api, model: Any) -> int:
    async with api.sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_dispatch_loads_the_carriers_ready_packages_last_stop_first(api: Api) -> None:
    orders = [await _ready(api, "WEB-DSP-AMS", AMSTERDAM, [{"sku": "LAMP-200", "quantity": 6}], "dpd"),
              await _ready(api, "WEB-DSP-UTR", UTRECHT, [{"sku": "MUG-001", "quantity": 3}], "dpd"),
              await _ready(api, "WEB-DSP-BRU", BRUSSELS, [{"sku": "VASE-010", "quantity": 2}], "dpd"),
              await _ready(api, "WEB-DSP-OTHER", AMSTERDAM, [{"sku": "BOOK-042", "quantity": 1}], "dhl")]
    dpd = orders[:3]
    numbers = {o["order_id"]: o["shipments"][0]["package_tracking_numbers"] or [o["shipments"][0]["tracking_number"]]
               for o in orders}
    assert len(numbers[dpd[0]["order_id"]]) == 2  # six lamps: two boxes

    made = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd"}, headers=WAREHOUSE)
    assert made.status_code == 201, made.text
    dispatch = made.json()
    assert dispatch["vehicle"] == "VAN" and dispatch["status"] == "open" and dispatch["left_out"] == []
    assert [(s["stop"], s["region"]) for s in dispatch["stops"]] == [(1, "NL-10"), (2, "NL-35"), (3, "BE-10")]
    taken = {p["tracking_number"]: p for p in dispatch["packages"]}
    assert set(taken) == {n for o in dpd for n in numbers[o["order_id"]]}  # not the DHL order's
    assert dispatch["loaded"] == len(taken) == 4
    # Loading order: Brussels (the last stop) goes in first, Amsterdam (the first) last.
    assert [p["stop"] for p in dispatch["packages"]] == [3, 2, 1, 1]
    assert [p["sequence"] for p in dispatch["packages"]] == [1, 2, 3, 4]

    plan = (await api.http.get(f"/warehouse/dispatches/{dispatch['id']}/load-plan", headers=WAREHOUSE)).json()
    assert plan["problems"] == [] and plan["vehicle"]["code"] == "VAN"
    assert plan["load_length_mm"] >= plan["load_length_lower_bound_mm"] > 0
    assert 0 < float(plan["volume_utilisation"]) < 1
    vase = next(p for p in plan["placements"] if p["stop"] == 3)
    assert vase["instruction"] == "keep this way up"  # the vases are fragile: the box stays upright
    # The checker again, on the packages as booked (not on what the plan says of them).
    booked = await _packages(api, list(taken))
    stop_of = {p["tracking_number"]: p["stop"] for p in dispatch["packages"]}
    upright = {p["tracking_number"] for p in plan["placements"] if p["instruction"]}
    checker_plan = {"vehicle": {"inner": plan["vehicle"]["inner_mm"], "payload_g": plan["vehicle"]["payload_kg"] * 1000},
                    "placements": [{**p, "package_id": p["tracking_number"]} for p in plan["placements"]],
                    "unplaced": []}
    assert check_load_plan(checker_plan, [{**b, "stop": stop_of[b["id"]], "upright": b["id"] in upright}
                                          for b in booked], float(plan["min_support"])) == []

    # In one open dispatch only: nothing left for DPD, and a named package is refused.
    again = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd"}, headers=WAREHOUSE)
    assert again.status_code == 409 and "nothing is ready for dpd" in again.json()["detail"]
    first = dispatch["packages"][0]["tracking_number"]
    named = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd", "tracking_numbers": [first]},
                                headers=OPS)
    assert named.status_code == 409 and f"already in open dispatch {dispatch['id']}" in named.json()["detail"]
    assert await _count(api, Dispatch) == 1

    listed = (await api.http.get("/warehouse/dispatches", params={"carrier": "dpd", "status": "open"},
                                 headers=WAREHOUSE)).json()
    assert [d["id"] for d in listed] == [dispatch["id"]]
    assert (await api.http.get("/warehouse/dispatches", params={"carrier": "dhl"}, headers=WAREHOUSE)).json() == []

    # Cancelled, the packages are free again: a new dispatch (by shipment, in a box truck) takes them.
    cancelled = await api.http.post(f"/warehouse/dispatches/{dispatch['id']}/cancel", headers=WAREHOUSE)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    shipment = dpd[1]["shipments"][0]["shipment_id"]
    remade = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd", "vehicle": "BOX-TRUCK",
                                                                "shipment_ids": [shipment]}, headers=WAREHOUSE)
    assert remade.status_code == 201, remade.text
    assert [p["order_id"] for p in remade.json()["packages"]] == [dpd[1]["order_id"]]
    assert remade.json()["vehicle"] == "BOX-TRUCK"
    async with api.sessions() as session:
        actions = (await session.execute(select(StaffAction.detail).where(StaffAction.action == "dispatch"))
                   ).scalars().all()
    assert len(actions) == 3 and "cancelled" in actions[1]

    # A handed-over order is no longer ready.
    amsterdam = dpd[0]["order_id"]
    assert (await api.http.post(f"/orders/{amsterdam}/handover", headers=WAREHOUSE)).status_code == 200
    await api.wait_listed({"status": "SHIPPED"}, amsterdam)
    rest = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd"}, headers=WAREHOUSE)
    assert rest.status_code == 201
    assert {p["order_id"] for p in rest.json()["packages"]} == {dpd[2]["order_id"]}


async def test_a_pallet_goes_on_the_floor_of_the_freight_carriers_vehicle(api: Api) -> None:
    order = await _ready(api, "WEB-DSP-BENCH", AMSTERDAM, [{"sku": "BENCH-500", "quantity": 1}], "freight")
    made = await api.http.post("/warehouse/dispatches", json={"carrier": "freight"}, headers=WAREHOUSE)
    assert made.status_code == 201, made.text
    assert made.json()["vehicle"] == "TRAILER"
    plan = (await api.http.get(f"/warehouse/dispatches/{made.json()['id']}/load-plan", headers=WAREHOUSE)).json()
    (pallet,) = plan["placements"]
    assert pallet["order_id"] == order["order_id"] and pallet["container"].startswith("PALLET")
    assert pallet["z"] == 0 and pallet["x"] == 0 and pallet["instruction"].startswith("pallet")
    assert plan["problems"] == []


async def test_bad_input_gets_a_clear_4xx_and_writes_nothing(api: Api) -> None:
    nothing = await api.http.post("/warehouse/dispatches", json={"carrier": "postnl"}, headers=WAREHOUSE)
    assert nothing.status_code == 409 and "nothing is ready for postnl" in nothing.json()["detail"]
    order = await _ready(api, "WEB-DSP-BAD", AMSTERDAM, [{"sku": "MUG-001", "quantity": 1}], "postnl")
    number = order["shipments"][0]["tracking_number"]

    cases = [
        ({"carrier": "ups"}, 422, "unknown carrier 'ups'"),
        ({"carrier": "postnl", "vehicle": "ZEPPELIN"}, 422, "unknown vehicle 'ZEPPELIN'"),
        ({"carrier": "postnl", "tracking_numbers": ["3S0000000000000"]}, 422, "no package or shipment 3S0000000000000"),
        ({"carrier": "postnl", "shipment_ids": ["shp_nope"]}, 422, "no package or shipment shp_nope"),
        ({"carrier": "dhl", "tracking_numbers": [number]}, 409, f"{number} (booked with postnl, not dhl)"),
        ({"carrier": "postnl", "tracking_numbers": []}, 422, "tracking_numbers"),
        ({"carrier": "postnl", "colour": "red"}, 422, "colour"),
        ({}, 422, "carrier"),
    ]
    for body, status, text in cases:
        response = await api.http.post("/warehouse/dispatches", json=body, headers=WAREHOUSE)
        assert response.status_code == status, (body, response.text)
        answer = response.json()
        assert text in (answer.get("message") or answer["detail"]), (body, answer)
    assert (await api.http.post("/warehouse/dispatches", json={"carrier": "postnl"}, headers=CHANNEL)).status_code == 403
    assert await _count(api, Dispatch) == 0 and await _count(api, DispatchPackage) == 0

    for path in ("/warehouse/dispatches/dsp_0123456789abcdef", "/warehouse/dispatches/nope/load-plan"):
        missing = await api.http.get(path, headers=WAREHOUSE)
        assert missing.status_code == 404 and "GET /warehouse/dispatches lists them" in missing.json()["detail"]
    assert (await api.http.post("/warehouse/dispatches/dsp_0123456789abcdef/cancel",
                                headers=WAREHOUSE)).status_code == 404
    assert (await api.http.get("/warehouse/dispatches", params={"status": "lost"}, headers=WAREHOUSE)).status_code == 422

    # The order cancelled: its package is no longer ready, by name or not.
    assert (await api.http.post(f"/orders/{order['order_id']}/cancel", headers=CHANNEL)).status_code == 200
    named = await api.http.post("/warehouse/dispatches", json={"carrier": "postnl", "tracking_numbers": [number]},
                                headers=WAREHOUSE)
    assert named.status_code == 409
    assert "not READY_TO_SHIP" in named.json()["detail"] or "its shipment is CANCELLED" in named.json()["detail"]
    assert await _count(api, Dispatch) == 0


async def test_departure_hands_over_every_order_loaded(api: Api) -> None:
    kept = await _ready(api, "WEB-DSP-DEP1", AMSTERDAM, [{"sku": "MUG-001", "quantity": 2}], "postnl")
    gone = await _ready(api, "WEB-DSP-DEP2", UTRECHT, [{"sku": "TEA-100", "quantity": 3}], "postnl")
    made = (await api.http.post("/warehouse/dispatches", json={"carrier": "postnl"}, headers=WAREHOUSE)).json()
    assert {p["order_id"] for p in made["packages"]} == {kept["order_id"], gone["order_id"]}
    # One order is cancelled after it was loaded: it cannot be handed over, and the answer says so.
    assert (await api.http.post(f"/orders/{gone['order_id']}/cancel", headers=CHANNEL)).status_code == 200

    departed = await api.http.post(f"/warehouse/dispatches/{made['id']}/depart", json={"confirmed_by": "Jan"},
                                   headers=WAREHOUSE)
    assert departed.status_code == 200, departed.text
    body = departed.json()
    assert body["status"] == "departed" and body["closed_at"] is not None
    results = {r["order_id"]: r for r in body["handover"]}
    assert results[kept["order_id"]]["handed_over"] is True
    assert results[gone["order_id"]]["handed_over"] is False and results[gone["order_id"]]["status"] == "CANCELLED"
    await api.wait_for_status(kept["order_id"], "SHIPPED")

    again = await api.http.post(f"/warehouse/dispatches/{made['id']}/depart", headers=WAREHOUSE)
    assert again.status_code == 200 and again.json()["status"] == "departed"
    cancel = await api.http.post(f"/warehouse/dispatches/{made['id']}/cancel", headers=WAREHOUSE)
    assert cancel.status_code == 409 and "only an open dispatch can be cancelled" in cancel.json()["detail"]
    listed = (await api.http.get("/warehouse/dispatches", params={"status": "departed"}, headers=OPS)).json()
    assert [d["id"] for d in listed] == [made["id"]]


async def test_a_departure_and_a_cancel_at_once_never_ship_a_cancelled_dispatch(api: Api) -> None:
    order = await _ready(api, "WEB-DSP-RACE", AMSTERDAM, [{"sku": "MUG-001", "quantity": 1}], "postnl")
    made = (await api.http.post("/warehouse/dispatches", json={"carrier": "postnl"}, headers=WAREHOUSE)).json()
    departed, cancelled = await asyncio.gather(
        api.http.post(f"/warehouse/dispatches/{made['id']}/depart", headers=WAREHOUSE),
        api.http.post(f"/warehouse/dispatches/{made['id']}/cancel", headers=OPS))
    shown = (await api.http.get(f"/warehouse/dispatches/{made['id']}", headers=WAREHOUSE)).json()
    if departed.status_code == 200:
        # The vehicle left first: the cancel is refused, and the order went with it.
        assert cancelled.status_code == 409 and shown["status"] == "departed", (departed.text, cancelled.text)
        await api.wait_for_status(order["order_id"], "SHIPPED")
    else:
        status = (await api.http.get(f"/orders/{order['order_id']}", headers=OPS)).json()["status"]
        # The cancel came first: nothing was handed over.
        assert departed.status_code == 409 and cancelled.status_code == 200, (departed.text, cancelled.text)
        assert shown["status"] == "cancelled" and status == "READY_TO_SHIP"


async def test_a_departure_temporal_could_not_confirm_keeps_the_dispatch_and_is_retried(api: Api) -> None:
    import temporal_client

    first = await _ready(api, "WEB-DSP-DOWN1", AMSTERDAM, [{"sku": "MUG-001", "quantity": 1}], "postnl")
    second = await _ready(api, "WEB-DSP-DOWN2", UTRECHT, [{"sku": "BOOK-042", "quantity": 1}], "postnl")
    made = (await api.http.post("/warehouse/dispatches", json={"carrier": "postnl"}, headers=WAREHOUSE)).json()
    # One order handed over by hand already: the departure counts it as handed over.
    assert (await api.http.post(f"/orders/{first['order_id']}/handover", headers=WAREHOUSE)).status_code == 200

    down = await temporal_client.connect(api.settings, "127.0.0.1:1", lazy=True)
    app = create_app(api.settings, temporal=down, configure_logs=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test") as http:
        failed = await http.post(f"/warehouse/dispatches/{made['id']}/depart", headers=WAREHOUSE)
        app.state.startup_sweep.cancel()
    assert failed.status_code == 503, failed.text
    answer = failed.json()
    assert second["order_id"] in answer["detail"] and "send POST" in answer["detail"] and "depart again" in answer["detail"]
    assert answer["status"] == "departing"
    assert {r["order_id"] for r in answer["handover"] if not r["handed_over"]} >= {second["order_id"]}
    shown = (await api.http.get(f"/warehouse/dispatches/{made['id']}", headers=WAREHOUSE)).json()
    assert shown["status"] == "departing" and shown["closed_at"] is None
    # Its packages are still claimed: no other dispatch takes them, and it cannot be cancelled.
    again = await api.http.post("/warehouse/dispatches", json={"carrier": "postnl"}, headers=WAREHOUSE)
    assert again.status_code == 409 and "nothing is ready" in again.json()["detail"]
    cancel = await api.http.post(f"/warehouse/dispatches/{made['id']}/cancel", headers=WAREHOUSE)
    assert cancel.status_code == 409 and "send POST" in cancel.json()["detail"]
    listed = (await api.http.get("/warehouse/dispatches", params={"status": "departing"}, headers=OPS)).json()
    assert [d["id"] for d in listed] == [made["id"]]

    retried = await api.http.post(f"/warehouse/dispatches/{made['id']}/depart", headers=WAREHOUSE)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "departed"
    assert all(r["handed_over"] for r in retried.json()["handover"]), retried.json()["handover"]
    await api.wait_for_status(second["order_id"], "SHIPPED")


async def test_naming_part_of_an_orders_packages_is_refused_naming_the_rest(api: Api) -> None:
    order = await _ready(api, "WEB-DSP-PART", AMSTERDAM, [{"sku": "LAMP-200", "quantity": 6}], "dpd")
    first, second = order["shipments"][0]["package_tracking_numbers"]
    part = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd", "tracking_numbers": [first]},
                               headers=WAREHOUSE)
    assert part.status_code == 409, part.text
    assert second in part.json()["detail"] and order["order_id"] in part.json()["detail"]
    assert await _count(api, Dispatch) == 0
    whole = await api.http.post("/warehouse/dispatches", json={"carrier": "dpd", "tracking_numbers": [first, second]},
                                headers=WAREHOUSE)
    assert whole.status_code == 201 and whole.json()["loaded"] == 2


async def test_departure_hands_over_only_orders_wholly_in_the_vehicle(api: Api) -> None:
    split = await _ready(api, "WEB-DSP-SPLIT", AMSTERDAM, [{"sku": "LAMP-200", "quantity": 6}], "dpd")
    whole = await _ready(api, "WEB-DSP-WHOLE", UTRECHT, [{"sku": "MUG-001", "quantity": 1}], "dpd")
    made = (await api.http.post("/warehouse/dispatches", json={"carrier": "dpd"}, headers=WAREHOUSE)).json()
    # A dispatch made before orders were kept whole: one of the lamp order's two boxes is not in it.
    missing = split["shipments"][0]["package_tracking_numbers"][1]
    async with api.sessions() as session, session.begin():
        row = (await session.execute(select(DispatchPackage).where(DispatchPackage.tracking_number == missing))
               ).scalar_one()
        await session.delete(row)

    departed = await api.http.post(f"/warehouse/dispatches/{made['id']}/depart", headers=WAREHOUSE)
    assert departed.status_code == 200, departed.text
    results = {r["order_id"]: r for r in departed.json()["handover"]}
    assert results[whole["order_id"]]["handed_over"] is True
    assert results[split["order_id"]]["handed_over"] is False
    assert missing in results[split["order_id"]]["message"]
    await api.wait_for_status(whole["order_id"], "SHIPPED")
    assert (await api.http.get(f"/orders/{split['order_id']}", headers=OPS)).json()["status"] == "READY_TO_SHIP"


async def test_a_carrier_filter_with_a_control_character_is_a_422(api: Api) -> None:
    response = await api.http.get("/warehouse/dispatches?carrier=a%00b", headers=WAREHOUSE)
    assert response.status_code == 422, response.text
    assert "carrier" in response.json()["message"]
