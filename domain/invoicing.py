"""Invoice arithmetic: VAT per rate and totals from the order lines' price snapshots.

Consumer prices include VAT and each line's VAT was rounded when the order was placed (per
line, half-up to the cent, ``domain.pricing``); the invoice adds those snapshots up per rate,
so the invoice, the order and the payment agree to the cent.
"""

from decimal import Decimal

from pydantic import BaseModel

from domain.pricing import line_total, to_cents, vat_included

VAT_RATES = (Decimal("21"), Decimal("9"), Decimal("0"))


class InvoiceLine(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Decimal  # VAT included
    vat_rate: Decimal  # a percentage: 21, 9 or 0
    line_total: Decimal  # VAT included
    vat_amount: Decimal


class VatBreakdown(BaseModel):
    rate: Decimal
    net: Decimal  # excluding VAT
    vat: Decimal
    gross: Decimal


class InvoiceTotals(BaseModel):
    per_rate: list[VatBreakdown]
    net: Decimal
    vat: Decimal
    gross: Decimal


def invoice_line(sku: str, name: str, quantity: int, unit_price: Decimal, vat_rate: Decimal) -> InvoiceLine:
    """A line priced as at order placement (used where no snapshot exists yet, e.g. tests)."""
    total = line_total(unit_price, quantity)
    return InvoiceLine(sku=sku, name=name, quantity=quantity, unit_price=unit_price, vat_rate=vat_rate,
                       line_total=total, vat_amount=vat_included(total, vat_rate))


def invoice_totals(lines: list[InvoiceLine]) -> InvoiceTotals:
    """VAT per rate (highest rate first; only the rates that occur) and the invoice totals."""
    per_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for line in lines:
        rate = line.vat_rate.normalize() if line.vat_rate else Decimal("0")
        gross, vat = per_rate.get(rate, (Decimal("0.00"), Decimal("0.00")))
        per_rate[rate] = (gross + to_cents(line.line_total), vat + to_cents(line.vat_amount))
    breakdown = [VatBreakdown(rate=rate, net=gross - vat, vat=vat, gross=gross)
                 for rate, (gross, vat) in sorted(per_rate.items(), reverse=True)]
    gross = sum((b.gross for b in breakdown), Decimal("0.00"))
    vat = sum((b.vat for b in breakdown), Decimal("0.00"))
    return InvoiceTotals(per_rate=breakdown, net=gross - vat, vat=vat, gross=gross)


def invoice_reference(number: int, year: int) -> str:
    """The number printed on the invoice: the year for readers, the gap-free counter for the law."""
    return f"INV-{year}-{number:06d}"
