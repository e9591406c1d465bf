"""Waves over HTTP: open pick lists grouped into one trolley round, walked as one route, each
order's goods into its own tote; confirming the wave's picks confirms each order's pick."""

import asyncio

from sqlalchemy import select

from storage.models import PickList
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api
from tests.api.test_warehouse import _pick_list_of

ORDERS = [
    [{"sku": "MUG-001", "quantity": 2}, {"sku": "BOOK-042", "quantity": 1}],
    [{"sku": "TEA-100", "quantity": 3}, {"sku": "VASE-010", "quantity": 1}],
    [{"sku": "PLANT-007", "quantity": 1}, {"sku": "MUG-001", "quantity": 1}, {"sku": "LAMP-200", "quantity": 1}],
]


async def _released(api: Api, prefix: str, orders: list[list[dict]]) -> list[str]:
    order_ids = [await api.placed(external_reference=f"{prefix}-{n}", lines=lines) for n, lines in enumerate(orders)]
    for order_id in order_ids:
        await api.wait_for_status(order_id, "PICKING")
        await _pick_list_of(api, order_id)
    return order_ids


def _confirm_body(step: dict, **changes) -> dict:
    return {"scanned": step["sku"], "location": step["location"], "quantity": step["quantity"], **changes}


async def test_a_wave_is_walked_once_and_sorted_per_order(api: Api) -> None:
    order_ids = await _released(api, "WV-1", ORDERS)
    built = await api.http.post("/warehouse/waves", headers=WAREHOUSE)
    assert built.status_code == 201, built.text
    wave = built.json()
    assert sorted(t["order_id"] for t in wave["totes"]) == sorted(order_ids)
    assert sorted(t["tote"] for t in wave["totes"]) == [1, 2, 3]
    assert float(wave["route_length_m"]) < float(wave["single_routes_m"])
    assert float(wave["saving"]) > 0
    steps = wave["steps"]
    assert [s["step"] for s in steps] == list(range(1, 8))  # every line of the three orders once
    tote_of = {t["order_id"]: t["tote"] for t in wave["totes"]}
    assert all(s["tote"] == tote_of[s["order_id"]] for s in steps)
    # Each order's pick list names its wave and tote.
    own = (await api.http.get(f"/warehouse/pick-lists/{steps[0]['pick_list_id']}", headers=WAREHOUSE)).json()
    assert (own["wave_id"], own["tote"]) == (wave["id"], steps[0]["tote"])
    assert (await api.http.get(f"/warehouse/waves/{wave['id']}", headers=OPS)).json()["steps"] == steps
    assert [w["id"] for w in (await api.http.get("/warehouse/waves", headers=WAREHOUSE)).json()] == [wave["id"]]

    # Nothing left to group: a clear 409.
    again = await api.http.post("/warehouse/waves", headers=WAREHOUSE)
    assert again.status_code == 409 and "no open pick list" in again.json()["detail"]

    url = f"/warehouse/waves/{wave['id']}/steps"
    wrong_bin = await api.http.post(f"{url}/1/confirm", headers=WAREHOUSE,
                                    json=_confirm_body(steps[0], location="A-08-01-1-1"))
    assert wrong_bin.status_code == 409 and steps[0]["location"] in wrong_bin.json()["detail"]
    completed = {}
    for s in steps:
        response = await api.http.post(f"{url}/{s['step']}/confirm", headers=WAREHOUSE, json=_confirm_body(s))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["tote"], body["order_id"], body["pick_list_id"]) == (s["tote"], s["order_id"], s["pick_list_id"])
        if body["completed"]:
            completed[body["order_id"]] = body["order_status"]
    assert body["wave_status"] == "picked"
    # Each order's pick was confirmed once, by the pick that completed its list.
    assert sorted(completed) == sorted(order_ids)
    for order_id in order_ids:
        await api.wait_for_status(order_id, "PACKING")
    assert (await api.http.get("/warehouse/waves", headers=WAREHOUSE)).json() == []
    repeat = await api.http.post(f"{url}/1/confirm", headers=WAREHOUSE, json=_confirm_body(steps[0]))
    assert repeat.status_code == 422


async def test_a_short_pick_in_a_wave_adds_the_other_bin_as_a_wave_step(api: Api) -> None:
    [order_id] = await _released(api, "WV-2", [[{"sku": "MUG-001", "quantity": 3}]])
    wave = (await api.http.post("/warehouse/waves", headers=WAREHOUSE)).json()
    [step] = wave["steps"]
    response = await api.http.post(f"/warehouse/waves/{wave['id']}/steps/1/confirm", headers=WAREHOUSE,
                                   json=_confirm_body(step, quantity=1, short=True))
    assert response.status_code == 200, response.text
    assert (response.json()["new_wave_steps"], response.json()["wave_status"]) == ([2], "open")
    shown = (await api.http.get(f"/warehouse/waves/{wave['id']}", headers=WAREHOUSE)).json()
    new = shown["steps"][1]
    assert (new["location"], new["quantity"], new["tote"], new["order_id"]) == ("A-05-12-1-1", 2, 1, order_id)
    done = await api.http.post(f"/warehouse/waves/{wave['id']}/steps/2/confirm", headers=WAREHOUSE,
                               json=_confirm_body(new))
    assert done.status_code == 200 and done.json()["completed"] is True and done.json()["wave_status"] == "picked"
    await api.wait_for_status(order_id, "PACKING")


async def test_two_staff_building_waves_at_once_never_share_an_order(api: Api) -> None:
    await _released(api, "WV-3", ORDERS[:2])
    answers = await asyncio.gather(*(api.http.post("/warehouse/waves", headers=WAREHOUSE) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409]
    async with api.sessions() as s:
        waves = {pl.wave_id for pl in (await s.execute(select(PickList))).scalars()}
    assert len(waves) == 1 and None not in waves


async def test_started_or_too_big_orders_stay_out_and_bad_requests_are_4xx(api: Api) -> None:
    [bench, started] = await _released(api, "WV-4", [[{"sku": "BENCH-500", "quantity": 1}],
                                                       [{"sku": "BOOK-042", "quantity": 2}]])
    pl = await _pick_list_of(api, started)
    first = pl["steps"][0]
    await api.http.post(f"/warehouse/pick-lists/{pl['id']}/steps/1/confirm", headers=WAREHOUSE,
                        json={"scanned": first["sku"], "location": first["location"], "quantity": 1})
    refused = await api.http.post("/warehouse/waves", headers=WAREHOUSE)
    assert refused.status_code == 409
    assert "1 already being picked, 1 too big for a trolley" in refused.json()["detail"]

    for method, url, body, status in (
            ("GET", "/warehouse/waves/wv_nope", None, 404), ("GET", "/warehouse/waves/wv_0123456789abcdef", None, 404),
            ("POST", "/warehouse/waves/wv_0123456789abcdef/steps/1/confirm", {"scanned": "X", "location": "Y", "quantity": 1}, 404),
            ("POST", "/warehouse/waves/wv_0123456789abcdef/steps/0/confirm", {"scanned": "X", "location": "Y", "quantity": 1}, 422),
            ("POST", "/warehouse/waves/wv_0123456789abcdef/steps/1/confirm", {"scanned": "X", "location": "Y", "quantity": 0}, 422),
            ("POST", "/warehouse/waves/wv_0123456789abcdef/steps/1/confirm", {"scanned": "X\x00", "location": "Y", "quantity": 1}, 422)):
        response = await api.http.request(method, url, json=body, headers=WAREHOUSE)
        assert response.status_code == status, (url, response.text)
        assert response.json()["detail"]
    assert (await api.http.post("/warehouse/waves", headers=CHANNEL)).status_code == 403
    assert (await api.http.get("/warehouse/waves", headers=CHANNEL)).status_code == 403
