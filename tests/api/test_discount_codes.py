"""Loyalty discount codes: issued by operations, redeemed at intake in the order's own
transaction (a single-use code exactly once under concurrency), refused with a clear 422, and
given back when the order is cancelled."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from domain.discounts import DiscountRefused
from domain.intake import NewOrder
from storage.db import transaction
from storage.models import DiscountCode, DiscountRedemption, Order
from storage.orders import add_order
from tests.api.conftest import CHANNEL, OPS, Api
from tests.factories import order_payload


async def issue(api: Api, **body: object) -> dict:
    response = await api.http.post("/discount-codes", headers=OPS, json={"kind": "percentage", "value": "10", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def uses(api: Api, code: str) -> int:
    async with api.sessions() as session:
        row = await session.get(DiscountCode, code)
        assert row is not None
        return row.uses


async def test_a_code_takes_its_discount_off_the_order_once(api: Api) -> None:
    await issue(api, code="thanks10", min_order_value="25.00")
    order_id = await api.placed(discount_code="THANKS10")
    async with api.sessions() as session:
        order = await session.get(Order, order_id)
        redemption = await session.get(DiscountRedemption, order_id)
    assert order is not None and redemption is not None
    assert redemption.amount == Decimal("5.09") and order.total_amount == Decimal("45.80")  # 50.89 - 10%
    assert order.vat_amount < Decimal("6.59")  # the VAT shrinks with the total
    assert await uses(api, "THANKS10") == 1

    again = await api.place(external_reference="WEB-1002", discount_code="thanks10")
    assert again.status_code == 422
    assert again.json()["detail"][0]["loc"] == ["body", "discount_code"]
    assert "used up" in again.json()["message"]
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order).where(
            Order.external_reference == "WEB-1002")) == 0

    listed = (await api.http.get("/discount-codes", headers=OPS)).json()
    assert [(c["code"], c["uses"], c["max_uses"]) for c in listed] == [("THANKS10", 1, 1)]
    duplicate = await api.http.post("/discount-codes", headers=OPS, json={"code": "THANKS10", "kind": "fixed",
                                                                          "value": "5"})
    assert duplicate.status_code == 409
    assert (await api.http.get("/discount-codes", headers=CHANNEL)).status_code == 403


async def test_expired_wrong_customer_below_minimum_and_unknown_codes_are_refused(api: Api) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await issue(api, code="OLD", expires_at=past)
    await issue(api, code="BIG", kind="fixed", value="5", min_order_value="100.00")
    first = await api.placed(external_reference="WEB-FIRST")
    async with api.sessions() as session:
        order = await session.get(Order, first)
        assert order is not None
        customer_id = order.customer_id
    await issue(api, code="ANNA", customer_id=customer_id, max_uses=5)

    cases = [("OLD", "expired"), ("BIG", "at least EUR 100.00"), ("NOPE", "does not exist")]
    for i, (code, message) in enumerate(cases):
        response = await api.place(external_reference=f"WEB-R{i}", discount_code=code)
        assert response.status_code == 422 and message in response.json()["message"], response.text
    other = order_payload()["customer"] | {"id": "c-99", "email": "piet@example.nl"}
    wrong = await api.place(external_reference="WEB-R9", discount_code="ANNA", customer=other)
    assert wrong.status_code == 422 and "another customer" in wrong.json()["message"]
    assert (await api.place(external_reference="WEB-R10", discount_code="ANNA")).status_code == 201
    bad = await api.http.post("/discount-codes", headers=OPS, json={"code": "X1X", "kind": "percentage", "value": "150"})
    assert bad.status_code == 422
    unknown_customer = await api.http.post("/discount-codes", headers=OPS, json={
        "code": "X2X", "kind": "fixed", "value": "5", "customer_id": "cus_nobody"})
    assert unknown_customer.status_code == 422
    assert await uses(api, "OLD") == 0 and await uses(api, "BIG") == 0 and await uses(api, "ANNA") == 1


async def test_a_single_use_code_is_redeemed_exactly_once_under_concurrency(api: Api) -> None:
    await issue(api, code="ONCE", kind="fixed", value="5.00")
    racers = 6
    barrier = asyncio.Barrier(racers)

    async def place(i: int) -> str:
        order = NewOrder.model_validate(order_payload(external_reference=f"RACE-{i}", discount_code="ONCE"))
        await barrier.wait()  # separate sessions, released together
        try:
            async with transaction(api.sessions) as session:
                row = await add_order(session, "webshop", order)
                return row.id
        except DiscountRefused:
            return "refused"

    results = await asyncio.gather(*(place(i) for i in range(racers)))
    assert sum(r != "refused" for r in results) == 1
    assert await uses(api, "ONCE") == 1
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DiscountRedemption)) == 1
        assert await session.scalar(select(func.count()).select_from(Order).where(
            Order.external_reference.like("RACE-%"))) == 1


async def test_a_cancelled_order_gives_its_code_back(api: Api) -> None:
    await issue(api, code="COMEBACK", kind="fixed", value="5.00")
    order_id = await api.placed(discount_code="COMEBACK")
    await api.wait_for_status(order_id, "PICKING")
    assert await uses(api, "COMEBACK") == 1
    cancel = await api.http.post(f"/orders/{order_id}/cancel", headers=CHANNEL, json={"reason": "changed my mind"})
    assert cancel.status_code == 200, cancel.text
    await api.wait_for_status(order_id, "CANCELLED")
    # The workflow's view says CANCELLED as the status change is being told: poll the record.
    deadline = asyncio.get_running_loop().time() + 20
    while await uses(api, "COMEBACK") != 0:
        assert asyncio.get_running_loop().time() < deadline, "the code was not given back"
        await asyncio.sleep(0.05)
    async with api.sessions() as session:
        redemption = await session.get(DiscountRedemption, order_id)
    assert redemption is not None and redemption.released_at is not None
    # The code works again.
    assert (await api.place(external_reference="WEB-AGAIN", discount_code="COMEBACK")).status_code == 201
    assert await uses(api, "COMEBACK") == 1


async def test_the_order_shows_its_discount_and_a_return_refunds_what_was_paid(api: Api) -> None:
    from storage.returns import register_return
    from domain.returns import ReturnLineRequest
    from tests.returns_helpers import delivered_order

    await issue(api, code="FIVE", kind="fixed", value="5.00")
    order_id = await api.placed(discount_code="FIVE")
    shown = (await api.http.get(f"/orders/{order_id}", headers=CHANNEL)).json()
    assert shown["discount"] == {"code": "FIVE", "amount": "5.00", "given_back": False}
    assert shown["total_amount"] == "45.89"

    # A delivered order that used a code: a returned line refunds its share of what was paid.
    await issue(api, code="TEN", kind="fixed", value="10.00")
    delivered = await delivered_order(api.sessions, external_reference="WEB-DISC", discount_code="TEN")
    async with transaction(api.sessions) as session:
        ret = await register_return(session, delivered, [ReturnLineRequest(line_no=1, quantity=2),
                                                         ReturnLineRequest(line_no=2, quantity=1)],
                                    "all back", "test", now=datetime.now(UTC), window_days=30)
        amounts = [line.amount for line in ret.lines]
    # 25.90 and 24.99 of 50.89, less 10.00 in proportion: together exactly the 40.89 paid.
    assert amounts == [Decimal("20.81"), Decimal("20.08")] and sum(amounts) == Decimal("40.89")
