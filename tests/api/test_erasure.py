"""Erasing a customer's personal data: afterwards no table holds it (every row is scanned),
other customers are untouched, nothing more is sent to them, the invoice is kept; a repeat
answers the same; unknown customers, other roles and orders still on their way are refused."""

import asyncio
from typing import Any

from sqlalchemy import func, select

from storage.models import Base, Customer, CustomerMessage, Invoice, Order, OrderDocument
from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import signed_carrier_event

ERIKA = {"id": "cust-erika-77", "name": "Erika Mustermann-Vos", "email": "erika.vos@example.org",
         "phone": "+31687654321", "locale": "nl", "notification_channels": ["email", "sms"]}
ERIKA_ADDRESS = {"country": "NL", "street": "Prinsengracht", "house_number": "263", "postcode": "1016 GV",
                 "city": "Zaandam"}
# What must be gone: her data and the free text that mentions her.
ERIKA_TRACES = ["Erika", "Mustermann", "erika.vos@example.org", "+31687654321", "687654321", "Prinsengracht",
                "1016 GV", "Zaandam", "cust-erika-77", "wobbly handle", "too small for Erika", "moving house"]
# The other customer (the example order's): must stay.
ANNA_TRACES = ["Anna de Vries", "anna@example.nl", "+31612345678", "Damrak", "1012 LG", "c-42"]


async def _erikas_order(api: Api, reference: str) -> str:
    return await api.placed(external_reference=reference, customer=ERIKA, shipping_address=ERIKA_ADDRESS)


async def _deliver(api: Api, order_id: str) -> None:
    await api.wait_for_status(order_id, "PICKING")
    for step in ("pick", "pack"):
        assert (await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert (await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)).status_code == 200
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    for event in ("IN_TRANSIT", "DELIVERED"):
        r = await api.http.post("/carrier/events", **signed_carrier_event(
            {"tracking_number": shipped["shipments"][0]["tracking_number"], "event": event}, CARRIER))
        assert r.status_code == 200, r.text
    await api.wait_for_status(order_id, "DELIVERED")


async def _cancel(api: Api, order_id: str) -> None:
    """Cancel, and wait until the read model (which the erasure checks) says so."""
    await api.wait_for_status(order_id, "PICKING")
    assert (await api.http.post(f"/orders/{order_id}/cancel", headers=CHANNEL)).status_code == 200
    for _ in range(400):
        async with api.sessions() as session:
            if (await session.get(Order, order_id)).status == "CANCELLED":
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} is not CANCELLED in the database")


async def _all_text(api: Api) -> list[tuple[str, str]]:
    """(table, value) for every value of every row of every table, except the invoice
    documents, which are kept by law. Binary values are read as Latin-1."""
    found = []
    async with api.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                if table.name == "order_documents" and row["kind"] == "invoice":
                    continue
                for value in row.values():
                    if value is None:
                        continue
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    found.append((table.name, text))
    return found


def _traces(values: list[tuple[str, str]], needles: list[str]) -> list[tuple[str, str]]:
    return [(table, needle) for table, text in values for needle in needles if needle.lower() in text.lower()]


async def _messages(api: Api, order_ids: list[str]) -> int:
    async with api.sessions() as session:
        return await session.scalar(select(func.count()).select_from(CustomerMessage)
                                    .where(CustomerMessage.order_id.in_(order_ids)))


async def _wait_for_messages(api: Api, order_ids: list[str], at_least: int) -> int:
    for _ in range(400):
        if (n := await _messages(api, order_ids)) >= at_least:
            return n
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} messages were sent")


async def test_after_erasure_no_table_holds_her_data_and_nothing_more_is_sent(api: Api) -> None:
    anna = await api.placed()  # another customer, who keeps everything
    delivered = await _erikas_order(api, "WEB-E1")
    cancelled = await _erikas_order(api, "WEB-E2")
    await api.wait_for_status(cancelled, "PICKING")
    r = await api.http.post(f"/orders/{cancelled}/cancel", json={"reason": "moving house, Erika says"},
                            headers=CHANNEL)
    assert r.json()["status"] == "CANCELLED", r.text
    await _deliver(api, delivered)
    # A low rating opens a case with her comment; a return carries her reason; a note names her.
    r = await api.http.post(f"/orders/{delivered}/feedback", json={"rating": 1, "comment": "wobbly handle"},
                            headers=CHANNEL)
    assert r.json()["accepted"] is True
    await api.wait_for_status(delivered, "COMPLETED")
    await api.temporal.get_workflow_handle(f"order-{delivered}").result()
    r = await api.http.post(f"/orders/{delivered}/returns", headers=CHANNEL, json={
        "lines": [{"line_no": 1, "quantity": 1}], "reason": "too small for Erika"})
    assert r.status_code == 201, r.text
    return_id = r.json()["return_id"]
    cases = (await api.http.get("/cases", params={"order_id": delivered}, headers=OPS)).json()
    assert len(cases) == 1
    assert (await api.http.post(f"/cases/{cases[0]['case_id']}/notes", headers=OPS,
                                json={"text": "called Erika Mustermann-Vos on +31687654321"})).status_code == 200
    await api.wait_for_status(cancelled, "CANCELLED")

    before = await _all_text(api)
    assert {t for _, t in _traces(before, ERIKA_TRACES)} >= {"Erika", "Prinsengracht", "wobbly handle",
                                                             "too small for Erika", "moving house"}
    # The return's first message (registered) has gone out before the erasure.
    sent_before = await _wait_for_messages(api, [delivered, cancelled], 1)
    customer_id = (await api.http.get(f"/orders/{delivered}", headers=OPS)).json()["customer"]["id"]
    async with api.sessions() as session:
        invoice = await session.get(Invoice, (delivered, 1))
        assert invoice is not None
        kinds_before = sorted((await session.execute(
            select(OrderDocument.kind).where(OrderDocument.order_id == delivered))).scalars())

    r = await api.http.post(f"/customers/{customer_id}/erase", headers=OPS)
    assert r.status_code == 200, r.text
    erasure = r.json()
    assert erasure["customer_id"] == customer_id and erasure["erased_by"] == "ops dev key"
    assert erasure["erased"]["orders"] == 2 and erasure["erased"]["order_documents_deleted"] >= 2
    assert "seven years" in erasure["kept_because"]

    after = await _all_text(api)
    assert _traces(after, ERIKA_TRACES) == []
    assert {n for _, n in _traces(after, ANNA_TRACES)} == set(ANNA_TRACES)
    anna_order = (await api.http.get(f"/orders/{anna}", headers=OPS)).json()
    assert anna_order["customer"]["name"] == "Anna de Vries" and anna_order["shipping_address"]["street"] == "Damrak"

    # The order reads on, without her data; the invoice and its document are kept.
    order = (await api.http.get(f"/orders/{delivered}", headers=OPS)).json()
    assert order["customer"]["name"] is None and order["shipping_address"]["street"] is None
    assert order["total_amount"] == "50.89" and order["status"] == "COMPLETED"
    async with api.sessions() as session:
        kept = await session.get(Invoice, (delivered, 1))
        assert (kept.reference, kept.total_amount, kept.vat_amount) == (
            invoice.reference, invoice.total_amount, invoice.vat_amount)
        kinds_after = sorted((await session.execute(
            select(OrderDocument.kind).where(OrderDocument.order_id == delivered))).scalars())
    assert "label" in kinds_before and "packing_slip" in kinds_before
    assert kinds_after == ["invoice"]

    # Nothing more is sent: the return goes on to its refund, and she is not told.
    r = await api.http.post(f"/returns/{return_id}/inspection", headers=WAREHOUSE,
                            json={"lines": [{"line_no": 1, "disposition": "resellable"}]})
    assert r.status_code == 200, r.text
    await api.wait_for(f"/returns/{return_id}", "REFUNDED")
    assert await _messages(api, [delivered, cancelled]) == sent_before
    assert _traces(await _all_text(api), ERIKA_TRACES) == []


async def test_erasing_twice_answers_the_same_and_unknown_customers_are_404(api: Api) -> None:
    order_id = await _erikas_order(api, "WEB-E3")
    await _cancel(api, order_id)
    customer_id = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["customer"]["id"]
    first = await api.http.post(f"/customers/{customer_id}/erase", headers=OPS)
    second = await api.http.post(f"/customers/{customer_id}/erase", headers=OPS)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()

    for unknown in ("cus_doesnotexist", "nobody", "x" * 64):
        r = await api.http.post(f"/customers/{unknown}/erase", headers=OPS)
        assert r.status_code == 404, r.text
        assert "cus_" in r.json()["detail"]
    assert (await api.http.post(f"/customers/{'x' * 65}/erase", headers=OPS)).status_code == 422


async def test_only_ops_may_erase(api: Api) -> None:
    order_id = await api.placed()
    customer_id = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["customer"]["id"]
    for headers in (CHANNEL, WAREHOUSE, CARRIER):
        assert (await api.http.post(f"/customers/{customer_id}/erase", headers=headers)).status_code == 403
    assert (await api.http.post(f"/customers/{customer_id}/erase")).status_code == 401


async def test_orders_still_on_their_way_refuse_the_erasure_and_nothing_changes(api: Api) -> None:
    order_id = await _erikas_order(api, "WEB-E4")
    await api.wait_for_status(order_id, "PICKING")
    customer_id = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["customer"]["id"]
    r = await api.http.post(f"/customers/{customer_id}/erase", headers=OPS)
    assert r.status_code == 409, r.text
    body: dict[str, Any] = r.json()
    # Its status as the read model has it (the changes up to PICKING are published as it waits).
    assert [o["order_id"] for o in body["orders"]] == [order_id]
    assert body["orders"][0]["status"] not in ("DELIVERED", "COMPLETED", "CANCELLED", "PAYMENT_FAILED")
    assert "delivered or cancelled" in body["detail"]
    async with api.sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert (customer.name, customer.email, customer.erased_at) == (ERIKA["name"], ERIKA["email"], None)
        assert (await session.get(Order, order_id)).ship_street == "Prinsengracht"


async def test_a_new_order_after_the_erasure_makes_a_new_customer_who_is_told(api: Api) -> None:
    old = await _erikas_order(api, "WEB-E5")
    await _cancel(api, old)
    old_customer = (await api.http.get(f"/orders/{old}", headers=OPS)).json()["customer"]["id"]
    r = await api.http.post(f"/customers/{old_customer}/erase", headers=OPS)
    assert r.status_code == 200, r.text

    new = await _erikas_order(api, "WEB-E6")
    placed = (await api.http.get(f"/orders/{new}", headers=OPS)).json()
    assert placed["customer"]["id"] != old_customer and placed["customer"]["name"] == ERIKA["name"]
    await api.wait_for_status(new, "PICKING")
    assert await _wait_for_messages(api, [new], 1) >= 1


async def test_the_sending_path_skips_an_erased_customer_whatever_their_record_still_holds() -> None:
    """``tell_customer`` checks the erasure flag itself: a record that somehow still has an
    address (written by an order placed in the same instant) gets nothing once erased."""
    from datetime import UTC, datetime

    from activities.customer_messages import tell_customer
    from domain.enums import NotificationChannel

    class Recorder:
        def __init__(self) -> None:
            self.sent: list[Any] = []

        async def send(self, message: Any) -> None:
            self.sent.append(message)

    recorder = Recorder()
    notifiers = {NotificationChannel.EMAIL: recorder, NotificationChannel.SMS: recorder}
    customer = Customer(id="cus_x", channel="webshop", external_id="erased:cus_x", email=ERIKA["email"],
                        phone=ERIKA["phone"], notification_channels=["email", "sms"])
    assert await tell_customer(notifiers, customer, order_id="ord_x", sequence=1, subject="s", body="b") == [
        NotificationChannel.EMAIL, NotificationChannel.SMS]
    customer.erased_at = datetime.now(UTC)
    assert await tell_customer(notifiers, customer, order_id="ord_x", sequence=2, subject="s", body="b") == []
    assert [m.sequence for m in recorder.sent] == [1, 1]
