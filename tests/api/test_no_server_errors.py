"""No input gives a 500: odd bodies, types, sizes and characters on every route answer 4xx
from a real check (the app has no catch-all handler; an exception would fail these tests)."""

import json
from typing import Any

import pytest

from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import order_payload


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


ODD_BODIES: list[bytes] = [
    b"null", b"[]", b'"an order"', b"42", b"{}", b"{", b"\xff\xfe", b"{\"a\": NaN}",
    json.dumps({**order_payload(), "lines": "MUG-001"}).encode(),
    json.dumps({**order_payload(), "lines": [{"sku": "MUG-001", "quantity": 10**30}]}).encode(),
    json.dumps({**order_payload(), "lines": [{"sku": "MUG-001", "quantity": "two"}]}).encode(),
    json.dumps({**order_payload(), "customer": _nested(900)}).encode(),
    json.dumps({**order_payload(), "external_reference": "x" * 100_000}).encode(),
    json.dumps({**order_payload(), "\ud800": 1}).encode(),
    json.dumps({**order_payload(), "external_reference": "WEB\x00"}).encode(),
    json.dumps({**order_payload(), "customer": {**order_payload()["customer"], "email": "änna@exämple.nl\x7f"}}).encode(),
    json.dumps({**order_payload(), "shipping_address": {**order_payload()["shipping_address"], "country": "N"}}).encode(),
    json.dumps({**order_payload(), "shipping": {"preference": "named"}}).encode(),
]


@pytest.mark.parametrize("body", ODD_BODIES, ids=range(len(ODD_BODIES)))
async def test_odd_order_bodies_are_4xx(api: Api, body: bytes) -> None:
    response = await api.http.post("/orders", content=body, headers={**CHANNEL, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


async def test_odd_inputs_on_the_other_routes_are_4xx(api: Api) -> None:
    order_id = await api.placed()
    requests: list[tuple[str, str, dict[str, str], Any]] = [
        ("POST", f"/orders/{order_id}/pick", WAREHOUSE, []),
        ("POST", f"/orders/{order_id}/pick", WAREHOUSE, "Jan"),
        ("POST", f"/orders/{order_id}/pack", WAREHOUSE, {"confirmed_by": 5}),
        ("POST", f"/orders/{order_id}/handover", WAREHOUSE, {"confirmed_by": "x" * 1000}),
        ("POST", f"/orders/{order_id}/cancel", CHANNEL, {"reason": "\x00"}),
        ("POST", f"/orders/{order_id}/feedback", CHANNEL, {"rating": "5 stars"}),
        ("POST", f"/orders/{order_id}/feedback", CHANNEL, {"rating": 5, "comment": "x" * 5000}),
        ("POST", "/carrier/events", CARRIER, {"tracking_number": "3S1", "event": "LOST"}),
        ("POST", "/carrier/events", CARRIER, {"tracking_number": "3S\x00", "event": "DELIVERED"}),
        ("POST", "/carrier/events", CARRIER, {"tracking_number": "3S1", "event": "DELIVERED",
                                             "occurred_at": "9999-12-31T23:59:59-14:00"}),
        ("PUT", "/products/CUP-1", OPS, {"name": "Cup", "price": "1e-400", "vat_rate": 21, "weight_grams": 1,
                                         "length_mm": 1, "width_mm": 1, "height_mm": 1}),
        ("PUT", "/products/CUP-1", OPS, {"name": "Cup", "price": "1e400", "vat_rate": 21, "weight_grams": 1,
                                         "length_mm": 1, "width_mm": 1, "height_mm": 1}),
        ("PUT", "/products/CUP-1", OPS, {"name": "Cup", "price": "2", "vat_rate": "twenty-one", "weight_grams": 10**40,
                                         "length_mm": 1, "width_mm": 1, "height_mm": 1}),
        ("POST", "/stock/adjustments", OPS, {"sku": "MUG\x00", "delta": 1, "reason": "x"}),
        ("POST", "/stock/adjustments", OPS, {"sku": "MUG-001", "delta": -(10**40), "reason": "x"}),
        ("GET", "/orders?limit=99999999999999999999999", OPS, None),
        ("GET", "/orders?created_from=0001-01-01T00:00:00%2B01:00", OPS, None),
        ("GET", "/orders?cursor=WyIyMDI2LTAxLTAxIiwgMV0", OPS, None),  # a well-formed cursor of the wrong shape
        ("GET", "/orders?status=picking", OPS, None),
        ("GET", "/products?cursor=%00", OPS, None),
        ("GET", "/products?limit=-1", OPS, None),
        ("GET", "/orders/" + "ord_" + "a" * 5000, OPS, None),
        ("GET", "/products/%ED%A0%80", OPS, None),
    ]
    for method, path, headers, body in requests:
        response = await api.http.request(method, path, headers=headers, json=body)
        assert 400 <= response.status_code < 500, (method, path, body, response.status_code, response.text)
        assert response.json()["detail"], (method, path)


async def test_odd_headers_are_4xx(api: Api) -> None:
    odd_keys: list[str | bytes] = ["ops-dev-key\t", "é".encode("latin-1") * 10_000, ""]
    for key in odd_keys:
        headers = {"X-API-Key": key}
        response = await api.http.get("/orders", headers=headers)
        assert response.status_code == 401, headers
    long_key = await api.place(idempotency_key="k" * 300)
    assert long_key.status_code == 422
