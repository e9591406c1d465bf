"""Money rules: consumer prices include VAT, rounding is per line, half-up to the cent."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    return to_cents(unit_price * quantity)


def vat_included(gross: Decimal, vat_rate: Decimal) -> Decimal:
    """The VAT inside a VAT-inclusive amount; ``vat_rate`` is a percentage such as 21."""
    return to_cents(gross * vat_rate / (Decimal(100) + vat_rate))
