"""Order documents: a shipping label per package (PDF 100 × 150 mm and ZPL, "package n of
m" with that package's weight and tracking number), the sales invoice and the packing slip,
rendered once per order right after the shipment is booked and stored in the database
(``order_documents``), from where the API serves them.

Rendering is CPU work: it runs in a worker thread so the activity worker's event loop (and
with it payments) keeps going. The invoice takes its gap-free number from the ``invoice``
series in the same transaction that stores it; the invoice's primary key is the order id, so
a retried or concurrent second run cannot give an order a second number — it rolls back
(returning its number to the series) and answers with the first run's documents.
"""

import asyncio
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from reportlab.graphics.barcode import code128
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.document_text import PageText
from activities.errors import refusal
from activities.shipping import order_parcel, shipment_packages
from domain.enums import ErrorType, PaymentMethod, PaymentStatus, ShipmentStatus
from domain.invoicing import InvoiceLine, InvoiceTotals, invoice_line, invoice_reference, invoice_totals
from domain.models import DocumentsRequest, DocumentsResult, ReservedLine
from storage.db import transaction
from storage.models import Invoice, Order, OrderDocument, OrderLine, Payment, Shipment, utcnow
from storage.numbering import next_number
from storage.orders import as_invoice_lines

INVOICE_SERIES = "invoice"
LABEL_SIZE = (100 * mm, 150 * mm)
A4 = (210 * mm, 297 * mm)


class DocumentKind:
    LABEL = "label"
    INVOICE = "invoice"
    PACKING_SLIP = "packing_slip"


@dataclass(frozen=True)
class Seller:
    name: str
    address_lines: tuple[str, ...]
    vat_number: str
    coc_number: str


@dataclass(frozen=True)
class LabelData:
    sender: Seller
    recipient_lines: tuple[str, ...]
    carrier: str
    service: str
    tracking_number: str
    package_number: int
    package_count: int
    weight_grams: int
    order_id: str
    country: str = ""  # the destination: which forms of Han characters to print


@dataclass(frozen=True)
class _Package:
    """One package to label: who carries it, its tracking number, n of m, its gross weight."""

    carrier: str
    service: str
    tracking_number: str
    number: int
    count: int
    weight_grams: int


@dataclass(frozen=True)
class InvoiceData:
    seller: Seller
    buyer_lines: tuple[str, ...]
    reference: str
    issued_at: datetime
    order_id: str
    external_reference: str
    lines: list[InvoiceLine]
    totals: InvoiceTotals
    payment: str
    discount_code: str | None = None  # the loyalty code whose discount the totals are after
    country: str = ""


def _euro(amount: Decimal) -> str:
    return f"EUR {amount:,.2f}"


def _weight(grams: int) -> str:
    return f"{Decimal(grams) / 1000:.2f} kg"


# --- rendering (pure: data in, bytes out) -----------------------------------------------


def render_label_pdf(data: LabelData) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=LABEL_SIZE, pageCompression=1)
    t = PageText(c, data.country)
    c.setTitle(f"Label {data.tracking_number}")
    width, height = LABEL_SIZE
    x = 5 * mm
    y = height - 8 * mm
    t.size(7)
    t.left(x, y, "FROM")
    for line in (data.sender.name, *data.sender.address_lines):
        y -= 3.2 * mm
        t.left(x, y, line)
    t.size(12)
    t.right(width - x, height - 9 * mm, data.carrier.upper())
    t.size(8)
    t.right(width - x, height - 13 * mm, data.service)
    y -= 4 * mm
    c.line(x, y, width - x, y)
    y -= 6 * mm
    t.size(8)
    t.left(x, y, "TO")
    t.size(12)
    for line in data.recipient_lines:
        y -= 5.5 * mm
        t.left(x, y, line)
    y -= 5 * mm
    c.line(x, y, width - x, y)
    y -= 6 * mm
    t.size(10)
    t.left(x, y, f"Package {data.package_number} of {data.package_count}")
    t.right(width - x, y, _weight(data.weight_grams))
    y -= 5 * mm
    t.size(8)
    t.left(x, y, f"Order {data.order_id}")
    barcode = code128.Code128(data.tracking_number, barHeight=25 * mm, barWidth=0.38 * mm, quiet=True)
    bx = max((width - barcode.width) / 2, 2 * mm)
    barcode.drawOn(c, bx, 18 * mm)
    t.size(11)
    t.centre(width / 2, 12 * mm, data.tracking_number)
    c.showPage()
    c.save()
    return buf.getvalue()


def _zpl_text(value: str) -> str:
    # ^ and ~ start ZPL commands; everything else is UTF-8 under ^CI28.
    return value.replace("^", " ").replace("~", " ")


def render_label_zpl(data: LabelData) -> bytes:
    """The same label for thermal printers at 8 dots/mm (203 dpi): 800 × 1200 dots."""
    out = ["^XA", "^CI28", "^PW800", "^LL1200"]

    def text(x: int, y: int, size: int, value: str) -> None:
        out.append(f"^FO{x},{y}^A0N,{size},{size}^FD{_zpl_text(value)}^FS")

    y = 30
    text(40, y, 22, "FROM")
    for line in (data.sender.name, *data.sender.address_lines):
        y += 26
        text(40, y, 22, line)
    text(520, 30, 40, data.carrier.upper())
    text(520, 75, 24, data.service)
    y += 40
    out.append(f"^FO40,{y}^GB720,3,3^FS")
    y += 20
    text(40, y, 24, "TO")
    for line in data.recipient_lines:
        y += 44
        text(40, y, 40, line)
    y += 60
    out.append(f"^FO40,{y}^GB720,3,3^FS")
    y += 20
    text(40, y, 32, f"Package {data.package_number} of {data.package_count}")
    text(560, y, 32, _weight(data.weight_grams))
    y += 44
    text(40, y, 24, f"Order {data.order_id}")
    out.append(f"^FO60,860^BY3^BCN,200,Y,N,N^FD{_zpl_text(data.tracking_number)}^FS")
    out.append("^XZ")
    return ("\n".join(out) + "\n").encode("utf-8")


def _table_row(t: PageText, y: float, cells: list[tuple[float, str, str]]) -> None:
    for x, value, align in cells:
        if align == "r":
            t.right(x, y, value)
        else:
            t.left(x, y, value)


def render_invoice_pdf(data: InvoiceData) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    t = PageText(c, data.country)
    c.setTitle(f"Invoice {data.reference}")
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 25 * mm
    t.size(18)
    t.left(left, y, "Invoice")
    t.size(9)
    seller = [data.seller.name, *data.seller.address_lines, f"VAT {data.seller.vat_number}",
              f"CoC {data.seller.coc_number}"]
    sy = height - 20 * mm
    for line in seller:
        t.right(right, sy, line)
        sy -= 4.2 * mm
    y -= 14 * mm
    t.size(10)
    for line in data.buyer_lines:
        t.left(left, y, line)
        y -= 5 * mm
    y -= 6 * mm
    t.size(9)
    for label, value in (("Invoice number", data.reference),
                         ("Invoice date", data.issued_at.date().isoformat()),
                         ("Order", f"{data.order_id} ({data.external_reference})"),
                         ("Payment", data.payment)):
        t.left(left, y, label)
        t.left(left + 35 * mm, y, value)
        y -= 4.8 * mm
    y -= 6 * mm
    cols = [(left, "l"), (left + 28 * mm, "l"), (left + 108 * mm, "r"), (left + 132 * mm, "r"),
            (left + 146 * mm, "r"), (right, "r")]
    t.size(8.5)
    _table_row(t, y, [(x, h, a) for (x, a), h in zip(cols, ["SKU", "Description", "Qty", "Unit price",
                                                             "VAT", "Amount"], strict=True)])
    y -= 2 * mm
    c.line(left, y, right, y)
    y -= 4.5 * mm
    for line in data.lines:
        if y < 60 * mm:
            c.showPage()
            t.size(8.5)
            y = height - 25 * mm
        _table_row(t, y, [(x, v, a) for (x, a), v in zip(cols, [
            line.sku, line.name[:48], str(line.quantity), _euro(line.unit_price), f"{line.vat_rate.normalize()}%",
            _euro(line.line_total)], strict=True)])
        y -= 4.8 * mm
    # The discount as a correction line per VAT rate: each rate's goods and VAT fall by its share.
    for b in (b for b in data.totals.per_rate if b.discount):
        _table_row(t, y, [(x, v, a) for (x, a), v in zip(cols, [
            "", f"Discount {data.discount_code or ''}".strip(), "", "", f"{b.rate.normalize()}%",
            _euro(-b.discount)], strict=True)])
        y -= 4.8 * mm
    c.line(left, y + 2 * mm, right, y + 2 * mm)
    y -= 4 * mm
    t.left(left + 70 * mm, y, "VAT rate")
    for x, head in ((left + 110 * mm, "Net"), (left + 135 * mm, "VAT"), (right, "Incl. VAT")):
        t.right(x, y, head)
    y -= 4.8 * mm
    for b in data.totals.per_rate:
        t.left(left + 70 * mm, y, f"{b.rate.normalize()}%")
        for x, value in ((left + 110 * mm, b.net), (left + 135 * mm, b.vat), (right, b.gross)):
            t.right(x, y, _euro(value))
        y -= 4.8 * mm
    y -= 2 * mm
    t.size(10)
    before = ((("Goods incl. VAT", data.totals.goods), ("Discount", -data.totals.discount))
              if data.totals.discount else ())
    for label, value in (*before, ("Total excl. VAT", data.totals.net), ("VAT", data.totals.vat),
                         ("Total incl. VAT", data.totals.gross)):
        t.left(left + 90 * mm, y, label)
        t.right(right, y, _euro(value))
        y -= 5.5 * mm
    c.showPage()
    c.save()
    return buf.getvalue()


def render_packing_slip_pdf(order_id: str, external_reference: str, recipient_lines: tuple[str, ...],
                            lines: list[InvoiceLine], tracking_number: str, country: str | None = None) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    t = PageText(c, country)
    c.setTitle(f"Packing slip {order_id}")
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 25 * mm
    t.size(18)
    t.left(left, y, "Packing slip")
    t.size(9)
    t.right(right, y, f"Order {order_id} ({external_reference})")
    t.right(right, y - 5 * mm, f"Tracking {tracking_number}")
    y -= 14 * mm
    t.size(10)
    for line in recipient_lines:
        t.left(left, y, line)
        y -= 5 * mm
    y -= 8 * mm
    t.size(9)
    t.left(left, y, "Packed")
    t.left(left + 15 * mm, y, "Qty")
    t.left(left + 30 * mm, y, "SKU")
    t.left(left + 60 * mm, y, "Description")
    y -= 2 * mm
    c.line(left, y, right, y)
    y -= 5 * mm
    for line in lines:
        if y < 25 * mm:
            c.showPage()
            t.size(9)
            y = height - 25 * mm
        c.rect(left, y - 0.8 * mm, 3.5 * mm, 3.5 * mm)
        t.left(left + 15 * mm, y, str(line.quantity))
        t.left(left + 30 * mm, y, line.sku)
        t.left(left + 60 * mm, y, line.name[:70])
        y -= 6 * mm
    c.showPage()
    c.save()
    return buf.getvalue()


# --- the activity -----------------------------------------------------------------------


def _address_lines(order: Order) -> tuple[str, ...]:
    number = " ".join(p for p in (order.ship_house_number, order.ship_house_number_addition) if p)
    return tuple(line for line in (
        order.customer.name or "",
        " ".join(p for p in (order.ship_street, number) if p),
        " ".join(p for p in (order.ship_postcode, order.ship_city) if p),
        order.ship_country or "",
    ) if line)


def _payment_text(payment: Payment | None) -> str:
    if payment is None:
        return "not paid"
    if payment.method == PaymentMethod.NO_CHARGE:
        return "no charge (a reshipment for a customer-service case)"
    match PaymentStatus(payment.status):
        case PaymentStatus.CAPTURED:
            return f"paid by {payment.method} ({_euro(payment.captured)})"
        case PaymentStatus.AUTHORIZED:
            return f"{payment.method}, {_euro(payment.amount)} authorized; charged when the parcel ships"
        case PaymentStatus.PARTIALLY_CAPTURED:
            return (f"{payment.method}, {_euro(payment.captured)} charged for earlier shipments; "
                    f"this invoice is charged when its parcel ships")
        case status:
            return f"{payment.method}: {status.value}"


def _slip_name(order_id: str, part: int) -> str:
    return f"packing-slip-{order_id}.pdf" if part == 1 else f"packing-slip-{order_id}-{part}.pdf"


def _part_lines(lines: Sequence[OrderLine], units: list[ReservedLine]) -> list[InvoiceLine]:
    """The order lines with a part's units, priced from their snapshots (rounded per line)."""
    quantity = {u.sku: u.quantity for u in units}
    return [invoice_line(ln.sku, ln.name, quantity[ln.sku], ln.unit_price, ln.vat_rate)
            for ln in lines if quantity.get(ln.sku, 0) > 0]


def _discount_share(discount: Decimal, part: list[InvoiceLine], whole: list[InvoiceLine]) -> Decimal:
    """A part's share of the order's discount, in proportion to its goods (half-up to the cent)."""
    goods = sum((ln.line_total for ln in whole), Decimal("0.00"))
    if discount <= 0 or goods <= 0:
        return Decimal("0.00")
    share = discount * sum((ln.line_total for ln in part), Decimal("0.00")) / goods
    return min(discount, share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class DocumentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], seller: Seller) -> None:
        self._sessions = sessions
        self._seller = seller

    @activity.defn
    async def create_order_documents(self, req: DocumentsRequest) -> DocumentsResult:
        """Label(s), invoice and packing slip of an order's shipment, once: a repeat answers with
        the first. An order shipped in parts gets them per part: the part's labels, its units on
        the slip and the invoice, and its share of the discount (the last part what is left)."""
        if (done := await self._existing(req.order_id, req.part)) is not None:
            return done
        async with self._sessions() as session:
            order = await session.get(Order, req.order_id)
            if order is None:
                raise refusal(ErrorType.ORDER_NOT_FOUND, f"order {req.order_id} does not exist")
            lines = (await session.execute(
                select(OrderLine).where(OrderLine.order_id == order.id, OrderLine.dropped.is_(False))
                .order_by(OrderLine.line_no))).scalars().all()
            shipments = (await session.execute(
                select(Shipment).where(Shipment.order_id == order.id, Shipment.part == req.part,
                                       Shipment.status != ShipmentStatus.CANCELLED)
                .order_by(Shipment.created_at))).scalars().all()
            payment = (await session.execute(select(Payment).where(Payment.order_id == order.id))).scalar_one_or_none()
            labels = await self._labels(session, order, shipments, req.lines)
            earlier_discounts = (await session.execute(select(Invoice.discount_amount).where(
                Invoice.order_id == order.id, Invoice.part < req.part))).scalars().all()
        if not shipments:
            raise refusal(ErrorType.INVALID_REQUEST, f"order {order.id} has no booked shipment to label")
        recipient = _address_lines(order)
        order_lines = as_invoice_lines(lines)
        invoice_lines = order_lines if req.lines is None else _part_lines(lines, req.lines)
        # A discount code still counting for the order (not given back) is on the invoice.
        discount = order.discount if order.discount is not None and order.discount.released_at is None else None
        amount = discount.amount if discount else Decimal("0.00")
        if req.lines is not None:
            amount = (amount - sum((d or Decimal("0.00") for d in earlier_discounts), Decimal("0.00")) if req.final
                      else _discount_share(amount, invoice_lines, order_lines))
        totals = invoice_totals(invoice_lines, amount)
        # Labels and the packing slip need no number: render them before taking the lock.
        documents: list[tuple[str, str, str, str | None, bytes]] = []
        for shipment_id, package in labels:
            label = LabelData(sender=self._seller, recipient_lines=recipient, carrier=package.carrier,
                              service=package.service, tracking_number=package.tracking_number,
                              package_number=package.number, package_count=package.count,
                              weight_grams=package.weight_grams, order_id=order.id,
                              country=order.ship_country or "")
            pdf, zpl = await asyncio.gather(asyncio.to_thread(render_label_pdf, label),
                                            asyncio.to_thread(render_label_zpl, label))
            documents.append((DocumentKind.LABEL, f"label-{package.tracking_number}.pdf", "application/pdf",
                              shipment_id, pdf))
            documents.append((DocumentKind.LABEL, f"label-{package.tracking_number}.zpl",
                              "application/zpl; charset=utf-8", shipment_id, zpl))
        slip = await asyncio.to_thread(render_packing_slip_pdf, order.id, order.external_reference, recipient,
                                       invoice_lines, ", ".join(package.tracking_number for _, package in labels),
                                       order.ship_country)
        documents.append((DocumentKind.PACKING_SLIP, _slip_name(order.id, req.part), "application/pdf", None, slip))
        try:
            async with transaction(self._sessions) as session:
                number = await next_number(session, INVOICE_SERIES)
                issued_at = utcnow()
                reference = invoice_reference(number, issued_at.year)
                pdf = await asyncio.to_thread(render_invoice_pdf, InvoiceData(
                    seller=self._seller, buyer_lines=recipient, reference=reference, issued_at=issued_at,
                    order_id=order.id, external_reference=order.external_reference, lines=invoice_lines,
                    totals=totals, payment=_payment_text(payment), country=order.ship_country or "",
                    discount_code=discount.code if discount else None))
                session.add(Invoice(order_id=order.id, part=req.part, number=number, reference=reference,
                                    total_amount=totals.gross, vat_amount=totals.vat, discount_amount=totals.discount,
                                    issued_at=issued_at))
                await session.flush()  # the unique (order, part): a second invoice fails here, number unused
                if req.lines is not None and req.final:
                    # An order shipped in parts owes the VAT its invoices charge (each rounded
                    # on its own, they may differ from the whole order's by a cent).
                    await session.execute(update(Order).where(Order.id == order.id).values(
                        vat_amount=select(func.sum(Invoice.vat_amount)).where(Invoice.order_id == order.id)
                        .scalar_subquery()))
                rows = [OrderDocument(id=f"doc_{uuid.uuid4().hex[:20]}", order_id=order.id, kind=kind,
                                      filename=name, content_type=ctype, shipment_id=shipment_id, content=content)
                        for kind, name, ctype, shipment_id, content in documents]
                rows.append(OrderDocument(id=f"doc_{uuid.uuid4().hex[:20]}", order_id=order.id,
                                          kind=DocumentKind.INVOICE, filename=f"invoice-{reference}.pdf",
                                          content_type="application/pdf", shipment_id=None, content=pdf))
                session.add_all(rows)
        except IntegrityError:
            # Another run of this activity stored the order's documents first.
            if (done := await self._existing(req.order_id, req.part)) is not None:
                return done
            raise
        activity.logger.info("documents stored", extra={"invoice": reference, "documents": len(rows)})
        return DocumentsResult(invoice_number=reference, document_ids=[r.id for r in rows])

    @staticmethod
    async def _labels(session: AsyncSession, order: Order, shipments: Sequence[Shipment],
                      lines: list[ReservedLine] | None) -> list[tuple[str, "_Package"]]:
        """(shipment id, package) for every label to print: one per booked package, numbered
        over the shipment. A shipment booked before packages were recorded is one package
        with the order's (or the part's) estimated weight."""
        found: list[tuple[str, _Package]] = []
        for shipment in shipments:
            rows = await shipment_packages(session, shipment.id)
            if rows:
                found += [(shipment.id, _Package(shipment.carrier, shipment.service, r.tracking_number, 0, 0,
                                                 r.weight_grams)) for r in rows]
            else:
                weight = (await order_parcel(session, order, lines)).weight_grams // len(shipments)
                found.append((shipment.id, _Package(shipment.carrier, shipment.service, shipment.tracking_number,
                                                    0, 0, weight)))
        return [(sid, replace(p, number=n, count=len(found))) for n, (sid, p) in enumerate(found, start=1)]

    async def _existing(self, order_id: str, part: int) -> DocumentsResult | None:
        """The part's documents, if they were stored: its labels (by its shipments), its
        packing slip and its invoice."""
        async with self._sessions() as session:
            invoice = await session.get(Invoice, (order_id, part))
            if invoice is None:
                return None
            shipment_ids = select(Shipment.id).where(Shipment.order_id == order_id, Shipment.part == part)
            ids = (await session.execute(select(OrderDocument.id).where(
                OrderDocument.order_id == order_id,
                OrderDocument.shipment_id.in_(shipment_ids)
                | OrderDocument.filename.in_((_slip_name(order_id, part), f"invoice-{invoice.reference}.pdf")))
                .order_by(OrderDocument.created_at, OrderDocument.id))).scalars().all()
        return DocumentsResult(invoice_number=invoice.reference, document_ids=list(ids))
