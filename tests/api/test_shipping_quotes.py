"""POST /shipping/quotes: every carrier service that can take a basket, cheapest first, with
price and arrival; refusals are 4xx that say what to fix."""

from decimal import Decimal

from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api

BASKET = {"destination": {"country": "NL", "postcode": "1012 LG"},
          "lines": [{"sku": "MUG-001", "quantity": 2}, {"sku": "BOOK-042", "quantity": 1}]}


async def test_quotes_for_a_basket(api: Api) -> None:
    response = await api.http.post("/shipping/quotes", json=BASKET, headers=CHANNEL)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["weight_grams"] == 1950 and body["packages"] == 1  # 2 x 450 + 900 g in a small box (150 g)
    options = body["options"]
    prices = [Decimal(o["price"]) for o in options]
    assert len(options) >= 2 and prices == sorted(prices)
    assert options[0]["cheapest"] and sum(o["cheapest"] for o in options) == 1
    fastest = [o for o in options if o["fastest"]]
    assert len(fastest) == 1 and fastest[0]["transit_days"] == min(o["transit_days"] for o in options)
    # the same basket as an order books the cheapest option
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    for step in ("pick", "pack"):
        await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    booked = order["shipments"][0]
    assert (booked["carrier"], booked["service"]) == (options[0]["carrier"], options[0]["service"])


async def test_quote_refusals(api: Api) -> None:
    unknown = await api.http.post("/shipping/quotes", headers=CHANNEL, json={
        **BASKET, "lines": [{"sku": "NOPE-1", "quantity": 1}]})
    assert unknown.status_code == 422 and "NOPE-1" in unknown.json()["detail"]
    too_heavy = await api.http.post("/shipping/quotes", headers=CHANNEL, json={
        **BASKET, "lines": [{"sku": "BENCH-500", "quantity": 10_000}]})
    assert too_heavy.status_code == 422 and "no carrier" in too_heavy.json()["detail"]
    for bad in ({"destination": {"country": "Netherlands"}, "lines": BASKET["lines"]},
                {"destination": {"country": "NL"}, "lines": []},
                {"destination": {"country": "NL"}, "lines": [{"sku": "MUG-001", "quantity": 0}]}):
        response = await api.http.post("/shipping/quotes", headers=CHANNEL, json=bad)
        assert response.status_code == 422, (bad, response.text)
    assert (await api.http.post("/shipping/quotes", headers=WAREHOUSE, json=BASKET)).status_code == 403


async def test_a_quote_packs_with_the_active_containers(api: Api) -> None:
    """Retiring the small box makes the basket a medium box: heavier (its tare) in the quote,
    as in the order's plan."""
    before = (await api.http.post("/shipping/quotes", json=BASKET, headers=CHANNEL)).json()
    retired = await api.http.patch("/warehouse/containers/BOX-S", headers=OPS, json={"active": False})
    assert retired.status_code == 200, retired.text
    after = (await api.http.post("/shipping/quotes", json=BASKET, headers=CHANNEL)).json()
    medium = (await api.http.get("/warehouse/containers/BOX-M", headers=OPS)).json()
    small = (await api.http.get("/warehouse/containers/BOX-S", headers=OPS)).json()
    assert after["packages"] == before["packages"] == 1
    assert after["weight_grams"] - before["weight_grams"] == medium["tare_grams"] - small["tare_grams"] > 0
