"""Edge inputs on POST /orders (issue 8, bad input): the largest order the contract allows, names
and addresses in any script, the longest and one-too-long values, huge, zero and negative
quantities, an unknown key. Each is accepted and stored exactly, or refused with a 4xx that
names what was wrong, and a refusal writes nothing."""

from decimal import Decimal

from sqlalchemy import func, select

from storage.db import transaction
from storage.models import Order, OrderLine, Product, StockLevel, StockMovement
from tests.api.conftest import OPS, Api
from tests.factories import order_payload

MAX_LINES = 1000


async def _many_products(api: Api, n: int) -> list[str]:
    skus = [f"EDGE-{i:04d}" for i in range(n)]
    async with transaction(api.sessions) as session:
        for sku in skus:
            session.add(Product(sku=sku, name=f"Edge item {sku}", price=Decimal("1.99"), vat_rate=Decimal("21"),
                                weight_grams=10, length_mm=10, width_mm=10, height_mm=10))
            session.add(StockLevel(sku=sku, on_hand=5, reserved=0))
            session.add(StockMovement(sku=sku, on_hand_delta=5, reason="stock count"))
    return skus


async def _orders(api: Api) -> int:
    async with api.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_an_order_of_the_most_lines_allowed_is_placed_and_one_more_is_refused(api: Api) -> None:
    skus = await _many_products(api, MAX_LINES + 1)
    lines = [{"sku": sku, "quantity": 1} for sku in skus]

    too_many = await api.place(external_reference="EDGE-TOO-MANY", lines=lines)
    assert too_many.status_code == 422 and "lines" in too_many.json()["message"]
    assert await _orders(api) == 0

    placed = await api.place(external_reference="EDGE-1000", lines=lines[:MAX_LINES])
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    async with api.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(OrderLine).where(OrderLine.order_id == order_id))
        order = await session.get(Order, order_id)
    assert stored == MAX_LINES
    assert order.total_amount >= Decimal("1990.00")  # 1,000 × EUR 1.99 plus shipping
    await api.wait_for_status(order_id, "PICKING", timeout=60)


async def test_names_and_addresses_in_any_script_are_stored_exactly(api: Api) -> None:
    customer = {**order_payload()["customer"], "name": "山田 太郎 — محمد بن سلمان — דוד לוי", "id": "cust-script"}
    address = {"country": "JP", "street": "千代田区丸の内", "house_number": "1-9-1", "postcode": "100-0005",
               "city": "東京都"}
    placed = await api.place(external_reference="EDGE-SCRIPT", customer=customer, shipping_address=address)
    assert placed.status_code == 201, placed.text
    body = (await api.http.get(f"/orders/{placed.json()['order_id']}", headers=OPS)).json()
    assert body["customer"]["name"] == customer["name"]
    assert (body["shipping_address"]["street"], body["shipping_address"]["city"]) == ("千代田区丸の内", "東京都")


async def test_the_longest_values_are_taken_and_one_character_more_is_named(api: Api) -> None:
    longest = {**order_payload()["customer"], "name": "N" * 200, "id": "cust-long"}
    placed = await api.place(external_reference="R" * 128, customer=longest)
    assert placed.status_code == 201, placed.text

    before = await _orders(api)
    for overrides, where in (
        ({"customer": {**longest, "name": "N" * 201}}, "customer.name"),
        ({"external_reference": "R" * 129}, "external_reference"),
        ({"shipping_address": {**order_payload()["shipping_address"], "city": "C" * 101}}, "shipping_address.city"),
    ):
        refused = await api.place(**{"external_reference": "EDGE-LONG-X", **overrides})
        assert refused.status_code == 422, refused.text
        assert where in refused.json()["message"], (where, refused.json()["message"])
    assert await _orders(api) == before


async def test_huge_zero_and_negative_quantities_are_refused_naming_the_line(api: Api) -> None:
    for quantity in (0, -1, 10_001, 10**18):
        refused = await api.place(external_reference=f"EDGE-Q{quantity}", lines=[{"sku": "MUG-001", "quantity": quantity}])
        assert refused.status_code == 422, (quantity, refused.text)
        assert "lines.0.quantity" in refused.json()["message"]
    assert await _orders(api) == 0


async def test_an_unknown_key_is_401_and_places_nothing(api: Api) -> None:
    for key in ("supervisor-dev-key", "of_" + "x" * 43):
        refused = await api.place(headers={"X-API-Key": key}, external_reference="EDGE-KEY")
        assert refused.status_code == 401 and refused.json()["detail"]
    assert await _orders(api) == 0
