"""Order documents: the label scans to its tracking number, the invoice number is gap-free
under concurrency and given once per order, every document is stored."""

import asyncio
import io
import time

import pypdfium2 as pdfium
import zxingcpp
from sqlalchemy import func, select
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.adapters.sandbox_payments import SandboxPaymentProvider
from activities.documents import DocumentActivities, LabelData, Seller, render_label_pdf
from activities.payments import PaymentActivities
from activities.shipping import ShippingActivities
from domain.models import DocumentsRequest, PaymentRequest, ShipmentRequest
from storage.models import Invoice, NumberSeries, OrderDocument
from tests.factories import place_order, seed

env = ActivityEnvironment()
SELLER = Seller(name="Orderflow Demo B.V.", address_lines=("Keizersgracht 100", "1015 AA Amsterdam", "NL"),
                vat_number="NL000099998B57", coc_number="12345678")
MM = 72 / 25.4


def _page_text_and_codes(pdf_bytes: bytes) -> tuple[tuple[float, float], str, list[tuple[str, str]]]:
    pdf = pdfium.PdfDocument(pdf_bytes)
    page = pdf[0]
    size = page.get_size()
    text = page.get_textpage().get_text_range()
    image = page.render(scale=200 / 72).to_pil()
    codes = [(r.text, r.format.name) for r in zxingcpp.read_barcodes(image)]
    return size, text, codes


async def _booked_order(sessions, reference: str, **overrides) -> tuple[str, str]:
    order_id = await place_order(sessions, external_reference=reference, **overrides)
    payments = PaymentActivities(sessions, SandboxPaymentProvider(sessions))
    await env.run(payments.authorize_payment, PaymentRequest(order_id=order_id, idempotency_key=f"{order_id}:auth"))
    shipping = ShippingActivities(sessions, SandboxCarrierGateway(sessions))
    shipment = await env.run(shipping.book_shipment, ShipmentRequest(order_id=order_id, idempotency_key=f"{order_id}:book"))
    return order_id, shipment.tracking_number


async def _documents(sessions, order_id: str) -> dict[str, OrderDocument]:
    async with sessions() as s:
        rows = (await s.execute(select(OrderDocument).where(OrderDocument.order_id == order_id))).scalars().all()
    return {r.filename: r for r in rows}


async def test_label_scans_to_its_tracking_number_and_prints_any_script(sessions) -> None:
    await seed(sessions)
    customer = {"id": "c-77", "name": "Юлия Łódź-Ελένη", "email": "j@example.nl", "locale": "en",
                "notification_channels": ["email"]}
    order_id, tracking = await _booked_order(sessions, "WEB-DOC-1", customer=customer)
    result = await env.run(DocumentActivities(sessions, SELLER).create_order_documents,
                           DocumentsRequest(order_id=order_id, idempotency_key=f"{order_id}:documents"))
    docs = await _documents(sessions, order_id)
    assert set(docs) == {f"label-{tracking}.pdf", f"label-{tracking}.zpl", f"packing-slip-{order_id}.pdf",
                         f"invoice-{result.invoice_number}.pdf"}
    assert sorted(result.document_ids) == sorted(d.id for d in docs.values())

    size, text, codes = _page_text_and_codes(docs[f"label-{tracking}.pdf"].content)
    assert (round(size[0] / MM), round(size[1] / MM)) == (100, 150)
    assert codes == [(tracking, "Code128")]
    for expected in ("Юлия Łódź-Ελένη", "Damrak 1", "1012 LG Amsterdam", "Orderflow Demo B.V.",
                     "Package 1 of 1", " kg", tracking):
        assert expected in text
    zpl = docs[f"label-{tracking}.zpl"].content.decode("utf-8")
    assert "^CI28" in zpl and f"^BCN,200,Y,N,N^FD{tracking}^FS" in zpl and "Юлия Łódź-Ελένη" in zpl

    _, invoice_text, _ = _page_text_and_codes(docs[f"invoice-{result.invoice_number}.pdf"].content)
    # the factory's order: 2 mugs at 12.95 (21 %) and a cookbook at 24.99 (9 %)
    for expected in (result.invoice_number, "EUR 25.90", "EUR 24.99", "EUR 21.40", "EUR 4.50", "EUR 22.93",
                     "EUR 2.06", "EUR 50.89", "EUR 6.56", "EUR 44.33", "NL000099998B57", "authorized"):
        assert expected in invoice_text, expected
    _, slip_text, _ = _page_text_and_codes(docs[f"packing-slip-{order_id}.pdf"].content)
    assert "MUG-001" in slip_text and "BOOK-042" in slip_text and tracking in slip_text


async def test_a_repeated_run_gives_no_second_invoice_number(sessions) -> None:
    await seed(sessions)
    order_id, _ = await _booked_order(sessions, "WEB-DOC-2")
    acts = DocumentActivities(sessions, SELLER)
    req = DocumentsRequest(order_id=order_id, idempotency_key=f"{order_id}:documents")
    a, b = await asyncio.gather(env.run(acts.create_order_documents, req), env.run(acts.create_order_documents, req))
    again = await env.run(acts.create_order_documents, req)
    assert a.invoice_number == b.invoice_number == again.invoice_number
    assert sorted(a.document_ids) == sorted(b.document_ids) == sorted(again.document_ids)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Invoice)) == 1
        assert await s.scalar(select(func.count()).select_from(OrderDocument)) == 4
        # the loser's number went back to the series: the next invoice gets number 2
        assert await s.scalar(select(NumberSeries.last_number).where(NumberSeries.series == "invoice")) == 1


async def test_invoice_numbers_are_gap_free_under_concurrent_orders(sessions) -> None:
    await seed(sessions)
    orders = [await _booked_order(sessions, f"WEB-DOC-C{i}") for i in range(6)]
    acts = DocumentActivities(sessions, SELLER)
    barrier = asyncio.Barrier(len(orders))

    async def one(order_id: str):
        await barrier.wait()
        return await env.run(acts.create_order_documents,
                             DocumentsRequest(order_id=order_id, idempotency_key=f"{order_id}:documents"))

    await asyncio.gather(*(one(o) for o, _ in orders))
    async with sessions() as s:
        numbers = sorted((await s.execute(select(Invoice.number))).scalars().all())
        refs = (await s.execute(select(Invoice.reference))).scalars().all()
    assert numbers == list(range(1, len(orders) + 1))
    assert len(set(refs)) == len(orders)


def test_label_render_time_and_barcode_for_long_numbers() -> None:
    data = LabelData(sender=SELLER, recipient_lines=("Ng Thị Hồng", "Пушкинская 10", "190000 Санкт-Петербург", "RU"),
                     carrier="dhl", service="express", tracking_number="JVGL0612345678901234", package_number=2,
                     package_count=3, weight_grams=1234, order_id="ord_x")
    render_label_pdf(data)  # font registration is once per process
    started = time.perf_counter()
    pdf = render_label_pdf(data)
    elapsed = time.perf_counter() - started
    _, text, codes = _page_text_and_codes(pdf)
    assert codes == [("JVGL0612345678901234", "Code128")]
    assert "Package 2 of 3" in text and "1.23 kg" in text and "Ng Thị Hồng" in text
    print(f"label render: {elapsed * 1000:.1f} ms, {len(pdf)} bytes")
    assert elapsed < 1.0
