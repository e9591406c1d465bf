"""Invoice arithmetic: VAT per rate and totals from the order lines' price snapshots.

Consumer prices include VAT and each line's VAT was rounded when the order was placed (per
line, half-up to the cent, ``domain.pricing``); the invoice adds those snapshots up per rate,
so the invoice, the order and the payment agree to the cent.

A discount code's amount comes off the goods per VAT rate, in proportion to each rate's goods
(largest remainder, so the shares add up to the discount to the cent); each rate's VAT falls by
the VAT inside its share. The invoice shows the discount per rate and the totals after it.
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
    """One VAT rate's goods after the discount, and the discount taken off them."""

    rate: Decimal
    net: Decimal  # excluding VAT
    vat: Decimal
    gross: Decimal
    discount: Decimal = Decimal("0.00")  # VAT included, taken off this rate's goods
    discount_vat: Decimal = Decimal("0.00")  # the VAT inside that share


class InvoiceTotals(BaseModel):
    per_rate: list[VatBreakdown]
    net: Decimal
    vat: Decimal
    gross: Decimal  # what is charged: the goods less the discount
    discount: Decimal = Decimal("0.00")

    @property
    def goods(self) -> Decimal:
        return self.gross + self.discount


def invoice_line(sku: str, name: str, quantity: int, unit_price: Decimal, vat_rate: Decimal) -> InvoiceLine:
    """A line priced as at order placement (used where no snapshot exists yet, e.g. tests)."""
    total = line_total(unit_price, quantity)
    return InvoiceLine(sku=sku, name=name, quantity=quantity, unit_price=unit_price, vat_rate=vat_rate,
                       line_total=total, vat_amount=vat_included(total, vat_rate))


def discount_shares(goods_per_rate: dict[Decimal, Decimal], discount: Decimal) -> dict[Decimal, Decimal]:
    """The discount split over the rates in proportion to their goods, in whole cents that add
    up to the discount exactly (largest remainder; a tie goes to the higher rate)."""
    total = sum(goods_per_rate.values(), Decimal("0.00"))
    discount = min(to_cents(discount), total)
    if discount <= 0 or total <= 0:
        return dict.fromkeys(goods_per_rate, Decimal("0.00"))
    cents = int(discount * 100)
    exact = {rate: Decimal(cents) * goods / total for rate, goods in goods_per_rate.items()}
    shares = {rate: int(value) for rate, value in exact.items()}  # floored: every value is >= 0
    by_remainder = sorted(exact, key=lambda rate: (exact[rate] - shares[rate], rate), reverse=True)
    for rate in by_remainder[:cents - sum(shares.values())]:
        shares[rate] += 1
    return {rate: Decimal(n) / 100 for rate, n in shares.items()}


def invoice_totals(lines: list[InvoiceLine], discount: Decimal = Decimal("0.00")) -> InvoiceTotals:
    """VAT per rate (highest rate first; only the rates that occur) and the invoice totals,
    after ``discount`` (VAT included; never more than the goods)."""
    per_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for line in lines:
        rate = line.vat_rate.normalize() if line.vat_rate else Decimal("0")
        gross, vat = per_rate.get(rate, (Decimal("0.00"), Decimal("0.00")))
        per_rate[rate] = (gross + to_cents(line.line_total), vat + to_cents(line.vat_amount))
    shares = discount_shares({rate: gross for rate, (gross, _) in per_rate.items()}, discount)
    breakdown = []
    for rate, (gross, vat) in sorted(per_rate.items(), reverse=True):
        share = shares[rate]
        share_vat = vat_included(share, rate)
        breakdown.append(VatBreakdown(rate=rate, net=(gross - share) - (vat - share_vat), vat=vat - share_vat,
                                      gross=gross - share, discount=share, discount_vat=share_vat))
    gross = sum((b.gross for b in breakdown), Decimal("0.00"))
    vat = sum((b.vat for b in breakdown), Decimal("0.00"))
    return InvoiceTotals(per_rate=breakdown, net=gross - vat, vat=vat, gross=gross,
                         discount=sum(shares.values(), Decimal("0.00")))


def invoice_reference(number: int, year: int) -> str:
    """The number printed on the invoice: the year for readers, the gap-free counter for the law."""
    return f"INV-{year}-{number:06d}"
