"""Returns over HTTP: request inside and outside the return window, quantities, inspection
both ways through the stock ledger, partial and full refunds with credit notes, and the
never-more-than-captured rule."""

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.service import RPCError

from activities.adapters.sandbox_payments import SandboxPaymentProvider
from storage.db import transaction
from storage.models import CustomerMessage, Payment, Return, SandboxPaymentIntent, StockMovement
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api
from tests.returns_helpers import delivered_order, on_hand


@pytest.fixture(autouse=True)
async def _terminate_returns(api: Api) -> AsyncIterator[None]:
    """A return left waiting for its parcel holds a timer on the shared time-skipping server,
    which stops its clock for later tests: end them all."""
    yield
    async with api.sessions() as session:
        ids = (await session.execute(select(Return.id))).scalars().all()
    for return_id in ids:
        try:
            await api.temporal.get_workflow_handle(f"return-{return_id}").terminate("test finished")
        except RPCError:
            pass  # closed already


async def wait_for_return(api: Api, return_id: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
    return await api.wait_for(f"/returns/{return_id}", *statuses, timeout=timeout)


async def request(api: Api, order_id: str, lines: list[tuple[int, int]], headers: dict[str, str] = CHANNEL):
    return await api.http.post(f"/orders/{order_id}/returns", headers=headers, json={
        "lines": [{"line_no": n, "quantity": q} for n, q in lines], "reason": "does not fit"})


async def inspect(api: Api, return_id: str, results: dict[int, str]):
    return await api.http.post(f"/returns/{return_id}/inspection", headers=WAREHOUSE, json={
        "lines": [{"line_no": n, "disposition": d} for n, d in results.items()], "inspected_by": "Jan"})


async def test_a_partial_return_is_inspected_restocked_and_refunded_with_a_credit_note(api: Api) -> None:
    order_id = await delivered_order(api.sessions)
    mugs_before = await on_hand(api.sessions, "MUG-001")

    created = await request(api, order_id, [(1, 1)])
    assert created.status_code == 201, created.text
    ret = created.json()
    assert created.headers["Location"] == f"/returns/{ret['return_id']}"
    assert ret["number"] == 1 and ret["status"] == "AWAITING_PARCEL" and ret["workflow_id"] == f"return-{ret['return_id']}"
    assert ret["lines"] == [{"line_no": 1, "sku": "MUG-001", "quantity": 1, "amount": "12.95", "disposition": None}]

    mismatch = await inspect(api, ret["return_id"], {2: "resellable"})
    assert mismatch.status_code == 422 and "[1]" in mismatch.json()["detail"]

    inspected = await inspect(api, ret["return_id"], {1: "resellable"})
    assert inspected.status_code == 200, inspected.text
    assert inspected.json()["accepted"] is True

    done = await wait_for_return(api, ret["return_id"], "REFUNDED", "REFUND_FAILED")
    assert done["status"] == "REFUNDED", done
    assert done["lines"][0]["disposition"] == "resellable"
    assert [(r["credit_note_number"], r["amount"], r["shipping_amount"]) for r in done["refunds"]] == [(1, "12.95", "0.00")]
    assert "credit note 1" in done["status_reason"]

    assert await on_hand(api.sessions, "MUG-001") == mugs_before + 1
    async with api.sessions() as session:
        moves = (await session.execute(select(StockMovement).where(
            StockMovement.order_id == order_id, StockMovement.reason == "return restocked"))).scalars().all()
        payment = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one()
        messages = (await session.execute(select(CustomerMessage).where(
            CustomerMessage.order_id == order_id).order_by(CustomerMessage.sequence))).scalars().all()
    assert [(m.sku, m.on_hand_delta) for m in moves] == [("MUG-001", 1)]
    assert payment.refunded == Decimal("12.95")
    # Told at each step (registered, inspected, refunded), on both channels, once each.
    assert len(messages) == 6 and len({(m.sequence, m.channel) for m in messages}) == 6
    assert any("R000001" in m.subject and "terugbetaald" in m.body for m in messages)

    listed = await api.http.get(f"/orders/{order_id}/returns", headers=CHANNEL)
    assert listed.status_code == 200 and [r["return_id"] for r in listed.json()] == [ret["return_id"]]

    repeat = await inspect(api, ret["return_id"], {1: "resellable"})
    assert repeat.status_code == 409 and repeat.json()["status"] == "REFUNDED"
    assert await on_hand(api.sessions, "MUG-001") == mugs_before + 1


async def test_damaged_goods_are_written_off_and_a_full_return_refunds_the_shipping(api: Api) -> None:
    order_id = await delivered_order(api.sessions, shipping_costs="4.95")  # total 50.89 + 4.95
    mugs_before, books_before = await on_hand(api.sessions, "MUG-001"), await on_hand(api.sessions, "BOOK-042")

    first = (await request(api, order_id, [(1, 1)])).json()
    await inspect(api, first["return_id"], {1: "damaged"})
    first = await wait_for_return(api, first["return_id"], "REFUNDED", "REFUND_FAILED")
    assert first["refunds"][0]["amount"] == "12.95" and first["refunds"][0]["shipping_amount"] == "0.00"

    # The rest of the order: now everything has come back, so the shipping costs too.
    second = await request(api, order_id, [(1, 1), (2, 1)])
    assert second.status_code == 201, second.text
    assert second.json()["number"] == 2
    await inspect(api, second.json()["return_id"], {1: "resellable", 2: "damaged"})
    second_done = await wait_for_return(api, second.json()["return_id"], "REFUNDED", "REFUND_FAILED")
    assert [(r["credit_note_number"], r["amount"], r["shipping_amount"]) for r in second_done["refunds"]] == [
        (2, "42.89", "4.95")]  # 12.95 + 24.99 + 4.95

    assert await on_hand(api.sessions, "MUG-001") == mugs_before + 1
    assert await on_hand(api.sessions, "BOOK-042") == books_before
    async with api.sessions() as session:
        write_offs = (await session.execute(select(StockMovement).where(
            StockMovement.order_id == order_id, StockMovement.reason == "return written off")
            .order_by(StockMovement.id))).scalars().all()
        intent = (await session.execute(select(SandboxPaymentIntent).where(
            SandboxPaymentIntent.reference == order_id))).scalar_one()
    assert [(m.sku, m.on_hand_delta) for m in write_offs] == [("MUG-001", 0), ("BOOK-042", 0)]
    assert intent.refunded == intent.captured == Decimal("55.84")

    nothing_left = await request(api, order_id, [(2, 1)])
    assert nothing_left.status_code == 422
    assert "only 0 of the 1 delivered" in nothing_left.json()["detail"]


async def test_a_refund_never_exceeds_what_is_left_of_the_capture(api: Api) -> None:
    order_id = await delivered_order(api.sessions)  # 50.89 captured
    async with api.sessions() as session:
        payment = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one()
    # A goodwill refund earlier left only 5.00 of the capture.
    p = await SandboxPaymentProvider(api.sessions).refund(payment_id=payment.id, amount=Decimal("45.89"),
                                                          idempotency_key=f"goodwill-{order_id}")
    async with transaction(api.sessions) as session:
        row = await session.get(Payment, payment.id)
        assert row is not None
        row.refunded = p.refunded

    ret = (await request(api, order_id, [(2, 1)])).json()  # the 24.99 book
    await inspect(api, ret["return_id"], {2: "resellable"})
    done = await wait_for_return(api, ret["return_id"], "REFUNDED", "REFUND_FAILED")
    assert done["status"] == "REFUNDED"
    assert done["refunds"][0]["amount"] == "5.00"
    async with api.sessions() as session:
        intent = (await session.execute(select(SandboxPaymentIntent).where(
            SandboxPaymentIntent.reference == order_id))).scalar_one()
    assert intent.refunded == intent.captured == Decimal("50.89")


async def test_returns_outside_the_window_or_above_the_delivered_quantity_are_refused(api: Api) -> None:
    late = await delivered_order(api.sessions, delivered_days_ago=31, external_reference="WEB-LATE")
    response = await request(api, late, [(1, 1)])
    assert response.status_code == 422
    assert "return window closed" in response.json()["detail"] and "30 days after delivery" in response.json()["detail"]

    in_time = await delivered_order(api.sessions, delivered_days_ago=29, external_reference="WEB-OK")
    too_many = await request(api, in_time, [(1, 3)])
    assert too_many.status_code == 422 and "only 2 of the 2 delivered" in too_many.json()["detail"]
    no_line = await request(api, in_time, [(9, 1)])
    assert no_line.status_code == 422 and "no delivered line 9" in no_line.json()["detail"]
    twice = await request(api, in_time, [(1, 1), (1, 1)])
    assert twice.status_code == 422 and "named twice" in twice.json()["detail"]
    zero = await request(api, in_time, [(1, 0)])
    assert zero.status_code == 422

    first = await request(api, in_time, [(1, 1)], headers=OPS)
    assert first.status_code == 201
    rest = await request(api, in_time, [(1, 2)])
    assert rest.status_code == 422 and "only 1 of the 2 delivered" in rest.json()["detail"]
    async with api.sessions() as session:
        assert len((await session.execute(select(Return).where(Return.order_id == in_time))).scalars().all()) == 1


async def test_an_order_not_yet_delivered_cannot_be_returned_and_roles_are_checked(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-RUNNING")
    await api.wait_for_status(order_id, "PICKING")
    response = await request(api, order_id, [(1, 1)])
    assert response.status_code == 409 and "not been delivered" in response.json()["detail"]

    delivered = await delivered_order(api.sessions, external_reference="WEB-ROLES")
    assert (await request(api, delivered, [(1, 1)], headers=WAREHOUSE)).status_code == 403
    assert (await api.http.get("/returns/ret_doesnotexist", headers=OPS)).status_code == 404


async def test_a_return_whose_workflow_never_started_is_started_by_its_inspection(api: Api) -> None:
    from datetime import UTC, datetime

    from domain.returns import ReturnLineRequest
    from storage.returns import register_return

    order_id = await delivered_order(api.sessions)
    # Stored, but the API could not start its workflow (Temporal was down).
    async with transaction(api.sessions) as session:
        ret = await register_return(session, order_id, [ReturnLineRequest(line_no=2, quantity=1)], "late start",
                                    "test", now=datetime.now(UTC), window_days=30)
        return_id = ret.id
    inspected = await inspect(api, return_id, {2: "resellable"})
    assert inspected.status_code == 200, inspected.text
    assert inspected.json()["accepted"] is True
    done = await wait_for_return(api, return_id, "REFUNDED", "REFUND_FAILED")
    assert done["status"] == "REFUNDED" and done["refunds"][0]["amount"] == "24.99"


async def test_a_return_gets_a_label_from_the_customer_to_the_returns_address(api: Api) -> None:
    import pypdfium2

    order_id = await delivered_order(api.sessions)
    created = await request(api, order_id, [(1, 1)])
    assert created.status_code == 201, created.text
    ret = created.json()
    for _ in range(200):
        body = (await api.http.get(f"/returns/{ret['return_id']}", headers=CHANNEL)).json()
        if "return label" in (body.get("status_reason") or ""):
            break
        await asyncio.sleep(0.05)
    reason = body["status_reason"]
    assert reason.startswith("return label: "), body
    url = reason.rsplit("download it at ", 1)[1]
    tracking_number = reason.split(",")[0].split()[-1]

    documents = (await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)).json()
    assert any(d["filename"] == "return-label-R1.pdf" for d in documents["documents"]), documents
    pdf = await api.http.get(url, headers=CHANNEL)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    page = pypdfium2.PdfDocument(pdf.content)[0]
    text = page.get_textpage().get_text_range()
    assert tracking_number in text and "Orderflow Demo B.V." in text and "Anna de Vries" in text

    async with api.sessions() as session:
        bodies = (await session.execute(select(CustomerMessage.body).where(
            CustomerMessage.order_id == order_id))).scalars().all()
    assert any(tracking_number in b for b in bodies), "the customer is told the return label's tracking number"
