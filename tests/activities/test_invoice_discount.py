"""The invoice of an order with a discount code: a discount line per VAT rate, each rate's
goods and VAT after its share, the totals after the discount, exact to the cent; and the
invoice of a reshipment at no charge."""

from decimal import Decimal

import pypdfium2 as pdfium
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.documents import DocumentActivities
from domain.discounts import DiscountKind
from domain.models import DocumentsRequest
from storage.db import transaction
from storage.discounts import issue_code
from storage.models import Invoice, Order, OrderDocument
from tests.activities.test_documents import SELLER, _booked_order
from tests.factories import seed

env = ActivityEnvironment()


def _text(pdf_bytes: bytes) -> str:
    pdf = pdfium.PdfDocument(pdf_bytes)
    return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


async def _invoice(sessions, order_id: str) -> tuple[Invoice, str]:
    result = await env.run(DocumentActivities(sessions, SELLER).create_order_documents,
                           DocumentsRequest(order_id=order_id, idempotency_key=f"{order_id}:documents"))
    async with sessions() as session:
        invoice = await session.get(Invoice, (order_id, 1))
        doc = (await session.execute(select(OrderDocument).where(
            OrderDocument.filename == f"invoice-{result.invoice_number}.pdf"))).scalar_one()
    return invoice, _text(doc.content)


async def test_the_invoice_shows_the_discount_per_rate_and_the_totals_after_it(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as session:
        await issue_code(session, code="THANKS10", kind=DiscountKind.PERCENTAGE, value=Decimal("10"), issued_by="test")
    # 2 mugs 25.90 (21 %, VAT 4.50) and a book 24.99 (9 %, VAT 2.06): 10 % off is 5.09
    order_id, _ = await _booked_order(sessions, "WEB-DISC-INV", discount_code="THANKS10")
    async with sessions() as session:
        order = await session.get(Order, order_id)
    assert order.total_amount == Decimal("45.80")
    invoice, text = await _invoice(sessions, order_id)
    assert (invoice.total_amount, invoice.vat_amount) == (Decimal("45.80"), Decimal("5.90"))
    for expected in (
        "Discount THANKS10", "EUR -2.59", "EUR -2.50",  # the discount per rate: 2.59 at 21 %, 2.50 at 9 %
        "EUR 19.26", "EUR 4.05", "EUR 23.31",  # 21 %: net, VAT, gross after the discount
        "EUR 20.64", "EUR 1.85", "EUR 22.49",  # 9 %
        "Goods incl. VAT", "EUR 50.89", "EUR -5.09",
        "EUR 39.90", "EUR 5.90", "EUR 45.80",  # totals excl. VAT, VAT, incl. VAT
    ):
        assert expected in text, expected
    # The lines themselves keep their prices: the discount is a correction, not a new price.
    assert "EUR 25.90" in text and "EUR 24.99" in text


async def test_an_invoice_without_a_code_has_no_discount_lines(sessions) -> None:
    await seed(sessions)
    order_id, _ = await _booked_order(sessions, "WEB-NODISC-INV")
    invoice, text = await _invoice(sessions, order_id)
    assert invoice.total_amount == Decimal("50.89") and "Discount" not in text and "Goods incl. VAT" not in text
