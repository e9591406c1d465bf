"""The catalogue with stock, product changes and stock adjustments (ops only)."""

from typing import Any

import pytest
from sqlalchemy import select, update

from api.examples import PRODUCT_EXAMPLE
from storage.models import StockLevel, StockMovement
from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api


async def test_products_are_listed_with_stock_in_pages(api: Api) -> None:
    first = await api.http.get("/products", params={"limit": 3}, headers=CHANNEL)
    assert first.status_code == 200
    page = first.json()
    assert [p["sku"] for p in page["items"]] == ["BENCH-500", "BOOK-042", "LAMP-200"]
    assert page["items"][0]["stock"] == {"on_hand": 6, "reserved": 0, "available": 6}
    rest = (await api.http.get("/products", params={"cursor": page["next_cursor"]}, headers=CARRIER)).json()
    assert rest["next_cursor"] is None and len(rest["items"]) == 5
    assert (await api.http.get("/products")).status_code == 401


async def test_one_product_shows_on_hand_reserved_and_available(api: Api) -> None:
    async with api.sessions() as session, session.begin():
        await session.execute(update(StockLevel).where(StockLevel.sku == "VASE-010").values(reserved=15))
    response = await api.http.get("/products/VASE-010", headers=WAREHOUSE)
    assert response.status_code == 200
    body = response.json()
    assert (body["price"], body["vat_rate"], body["fragile"]) == ("39.95", "21.00", True)
    assert body["stock"] == {"on_hand": 40, "reserved": 15, "available": 25}
    for sku in ("NOPE-1", "bad sku", "x" * 200):
        assert (await api.http.get(f"/products/{sku}", headers=OPS)).status_code == 404


async def test_ops_create_and_update_a_product(api: Api) -> None:
    created = await api.http.put("/products/CUP-009", json=PRODUCT_EXAMPLE, headers=OPS)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/products/CUP-009"
    assert created.json()["stock"] == {"on_hand": 0, "reserved": 0, "available": 0}

    updated = await api.http.put("/products/CUP-009", json={**PRODUCT_EXAMPLE, "price": "14.50", "vat_rate": 9},
                                 headers=OPS)
    assert updated.status_code == 200
    assert (updated.json()["price"], updated.json()["vat_rate"]) == ("14.50", "9.00")
    # Orderable at the new price.
    order = await api.place(lines=[{"sku": "CUP-009", "quantity": 2}])
    assert order.status_code == 201 and order.json()["total_amount"] == "29.00"

    assert (await api.http.put("/products/CUP-009", json=PRODUCT_EXAMPLE, headers=CHANNEL)).status_code == 403
    assert (await api.http.put("/products/CUP-009", json=PRODUCT_EXAMPLE, headers=WAREHOUSE)).status_code == 403


@pytest.mark.parametrize(("change", "where"), [
    ({"price": "0"}, "body.price"),
    ({"price": "-1.00"}, "body.price"),
    ({"price": "1.999"}, "body.price"),
    ({"price": "NaN"}, "body.price"),
    ({"vat_rate": 7}, "body.vat_rate"),
    ({"length_mm": 0}, "body.length_mm"),
    ({"weight_grams": -5}, "body.weight_grams"),
    ({"name": ""}, "body.name"),
    ({"colour": "red"}, "body.colour"),
])
async def test_invalid_products_get_422_naming_the_field(api: Api, change: dict[str, Any], where: str) -> None:
    response = await api.http.put("/products/CUP-009", json={**PRODUCT_EXAMPLE, **change}, headers=OPS)
    assert response.status_code == 422, response.text
    assert where in response.json()["message"]


async def test_a_product_sku_must_be_plain(api: Api) -> None:
    response = await api.http.put("/products/bad%20sku", json=PRODUCT_EXAMPLE, headers=OPS)
    assert response.status_code == 422 and "path.sku" in response.json()["message"]


async def test_stock_adjustments_write_the_ledger(api: Api) -> None:
    response = await api.http.post("/stock/adjustments", json={"sku": "MUG-001", "delta": -3, "reason": "broken"},
                                   headers=OPS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stock"] == {"on_hand": 197, "reserved": 0, "available": 197}
    found = await api.http.post("/stock/adjustments", json={"sku": "MUG-001", "delta": 5, "reason": "recount"},
                                headers=OPS)
    assert found.json()["stock"]["on_hand"] == 202
    async with api.sessions() as session:
        movements = (await session.execute(select(StockMovement).where(
            StockMovement.sku == "MUG-001", StockMovement.reason == "adjustment").order_by(StockMovement.id))).scalars()
        assert [(m.on_hand_delta, m.note) for m in movements] == [
            (-3, "broken (by ops dev key)"), (5, "recount (by ops dev key)")]
    product = (await api.http.get("/products/MUG-001", headers=OPS)).json()
    assert product["stock"]["on_hand"] == 202


async def test_stock_never_drops_below_reserved_or_zero(api: Api) -> None:
    async with api.sessions() as session, session.begin():
        await session.execute(update(StockLevel).where(StockLevel.sku == "LAMP-200").values(reserved=20))
    below_reserved = await api.http.post("/stock/adjustments", json={"sku": "LAMP-200", "delta": -6, "reason": "x"},
                                         headers=OPS)
    assert below_reserved.status_code == 409
    assert below_reserved.json()["detail"] == (
        "cannot remove 6 of LAMP-200: 25 on hand, 20 reserved for orders; on hand may not drop below the reserved "
        "units (or below 0), so at most 5 can be removed now")
    fits = await api.http.post("/stock/adjustments", json={"sku": "LAMP-200", "delta": -5, "reason": "x"},
                               headers=OPS)
    assert fits.status_code == 201 and fits.json()["stock"] == {"on_hand": 20, "reserved": 20, "available": 0}
    below_zero = await api.http.post("/stock/adjustments", json={"sku": "SOLDOUT-1", "delta": -1, "reason": "x"},
                                     headers=OPS)
    assert below_zero.status_code == 409 and "0 on hand" in below_zero.json()["detail"]


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"sku": "NOPE-1", "delta": 1, "reason": "x"}, 404, "no product with sku 'NOPE-1'"),
    ({"sku": "MUG-001", "delta": 0, "reason": "x"}, 422, "body.delta"),
    ({"sku": "MUG-001", "delta": 10**12, "reason": "x"}, 422, "body.delta"),
    ({"sku": "MUG-001", "delta": 1, "reason": ""}, 422, "body.reason"),
    ({"sku": "MUG-001", "delta": 1.5, "reason": "x"}, 422, "body.delta"),
])
async def test_bad_stock_adjustments(api: Api, body: dict[str, Any], status: int, says: str) -> None:
    response = await api.http.post("/stock/adjustments", json=body, headers=OPS)
    assert response.status_code == status, response.text
    assert says in (response.json().get("message") or response.json()["detail"])


async def test_only_ops_adjust_stock(api: Api) -> None:
    body = {"sku": "MUG-001", "delta": 1, "reason": "x"}
    for headers in (CHANNEL, WAREHOUSE, CARRIER):
        assert (await api.http.post("/stock/adjustments", json=body, headers=headers)).status_code == 403
