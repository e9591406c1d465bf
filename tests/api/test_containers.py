"""The container catalogue over HTTP: warehouse staff and operations list it, operations add,
change and retire containers; every bad request is a 4xx that says what was wrong and changes
nothing."""

from typing import Any

import pytest

from activities.planning.packing import CONTAINERS
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api

XL = {"code": "box-xl", "name": "Box XL", "kind": "box", "length_mm": 800, "width_mm": 500, "height_mm": 500,
      "max_weight_grams": 30_000, "tare_grams": 900, "cost": "2.10"}


async def _catalogue(api: Api, **params: str) -> list[dict[str, Any]]:
    response = await api.http.get("/warehouse/containers", headers=WAREHOUSE, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_warehouse_and_ops_list_the_catalogue_others_may_not(api: Api) -> None:
    listed = await _catalogue(api)
    assert [(c["code"], c["kind"], [c["length_mm"], c["width_mm"], c["height_mm"]], c["max_weight_grams"],
             c["tare_grams"], c["cost"], c["active"]) for c in listed] == [
        (c.code, c.kind, [c.length, c.width, c.height], c.max_weight_g, c.tare_g, f"{c.cost_cents / 100:.2f}", True)
        for c in CONTAINERS]
    assert (await api.http.get("/warehouse/containers", headers=OPS)).json() == listed
    assert (await api.http.get("/warehouse/containers", headers=CHANNEL)).status_code == 403
    assert (await api.http.get("/warehouse/containers")).status_code == 401
    one = await api.http.get("/warehouse/containers/box-m", headers=WAREHOUSE)
    assert one.status_code == 200 and one.json() == listed[1]
    missing = await api.http.get("/warehouse/containers/BOX-ZZ", headers=WAREHOUSE)
    assert missing.status_code == 404 and "GET /warehouse/containers" in missing.json()["detail"]


async def test_ops_add_a_container_once(api: Api) -> None:
    response = await api.http.post("/warehouse/containers", json=XL, headers=OPS)
    assert response.status_code == 201, response.text
    added = response.json()
    assert response.headers["Location"] == "/warehouse/containers/BOX-XL"
    assert (added["code"], added["cost"], added["active"], added["updated_by"]) == ("BOX-XL", "2.10", True, "ops dev key")
    # boxes smallest first: the new one after BOX-L, before the crate
    assert [c["code"] for c in await _catalogue(api)][:5] == ["BOX-S", "BOX-M", "BOX-L", "BOX-XL", "CRATE"]

    again = await api.http.post("/warehouse/containers", json={**XL, "code": "BOX-XL", "cost": "9.99"}, headers=OPS)
    assert again.status_code == 409 and "PATCH /warehouse/containers/BOX-XL" in again.json()["detail"]
    assert (await api.http.get("/warehouse/containers/BOX-XL", headers=OPS)).json()["cost"] == "2.10"
    refused = await api.http.post("/warehouse/containers", json={**XL, "code": "BOX-W"}, headers=WAREHOUSE)
    assert refused.status_code == 403
    assert "BOX-W" not in [c["code"] for c in await _catalogue(api)]


async def test_ops_change_and_retire_a_container(api: Api) -> None:
    response = await api.http.patch("/warehouse/containers/BOX-M", json={"cost": "0.95", "max_weight_grams": 25_000},
                                    headers=OPS)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["cost"], changed["max_weight_grams"], changed["tare_grams"], changed["active"]) == (
        "0.95", 25_000, 300, True)

    retired = await api.http.patch("/warehouse/containers/box-m", json={"active": False}, headers=OPS)
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert "BOX-M" not in [c["code"] for c in await _catalogue(api, active="true")]
    assert [c["code"] for c in await _catalogue(api, active="false")] == ["BOX-M"]
    back = await api.http.patch("/warehouse/containers/BOX-M", json={"active": True}, headers=OPS)
    assert back.json()["active"] is True and back.json()["cost"] == "0.95"

    assert (await api.http.patch("/warehouse/containers/BOX-M", json={"active": False},
                                 headers=WAREHOUSE)).status_code == 403
    missing = await api.http.patch("/warehouse/containers/BOX-ZZ", json={"active": False}, headers=OPS)
    assert missing.status_code == 404


BAD_NEW: list[tuple[dict[str, Any], str]] = [
    ({**XL, "length_mm": 0}, "length_mm"),
    ({**XL, "width_mm": -400}, "width_mm"),
    ({**XL, "height_mm": 10**9}, "height_mm"),
    ({**XL, "max_weight_grams": 0}, "max_weight_grams"),
    ({**XL, "tare_grams": 30_000}, "tare_grams"),
    ({**XL, "tare_grams": 31_000}, "tare_grams"),
    ({**XL, "tare_grams": -1}, "tare_grams"),
    ({**XL, "kind": "bag"}, "box, crate, pallet"),
    ({**XL, "cost": "-0.01"}, "cost"),
    ({**XL, "cost": "0.001"}, "cost"),
    ({**XL, "cost": "cheap"}, "cost"),
    ({**XL, "code": "BOX XL"}, "code"),
    ({**XL, "code": "B" * 33}, "code"),
    ({**XL, "name": " "}, "name"),
    ({**XL, "name": "Box\x00"}, "body"),
    ({k: v for k, v in XL.items() if k != "height_mm"}, "height_mm"),
    ({**XL, "colour": "brown"}, "colour"),
]


@pytest.mark.parametrize(("body", "named"), BAD_NEW, ids=range(len(BAD_NEW)))
async def test_a_bad_new_container_is_422_naming_the_problem_and_adds_nothing(api: Api, body: dict[str, Any],
                                                                              named: str) -> None:
    before = await _catalogue(api)
    response = await api.http.post("/warehouse/containers", json=body, headers=OPS)
    assert response.status_code == 422, response.text
    assert named in response.json()["message"], response.json()
    assert await _catalogue(api) == before


BAD_CHANGES: list[tuple[dict[str, Any] | list[Any], str]] = [
    ({}, "nothing to change"),
    ({"length_mm": 0}, "length_mm"),
    ({"tare_grams": 10_000}, "tare_grams (10000) must be less than max_weight_grams (10000)"),
    ({"max_weight_grams": 150}, "tare_grams (150) must be less than max_weight_grams (150)"),
    ({"max_weight_grams": 100, "tare_grams": 200}, "tare_grams"),
    ({"kind": "crate"}, "kind cannot change"),
    ({"code": "BOX-T"}, "code cannot change"),
    ({"cost": None}, "cost may not be null"),
    ({"active": "maybe"}, "active"),
    ({"size": 3}, "size"),
    ([{"active": False}], "body"),
]


@pytest.mark.parametrize(("body", "named"), BAD_CHANGES, ids=range(len(BAD_CHANGES)))
async def test_a_bad_change_is_422_naming_the_problem_and_changes_nothing(api: Api, body: Any, named: str) -> None:
    before = await _catalogue(api)
    response = await api.http.patch("/warehouse/containers/BOX-S", json=body, headers=OPS)
    assert response.status_code == 422, response.text
    assert named in response.json()["message"], response.json()
    assert await _catalogue(api) == before
