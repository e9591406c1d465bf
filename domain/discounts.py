"""Loyalty discount codes: what a code gives and when an order may use it (pure rules)."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")


class DiscountKind(StrEnum):
    PERCENTAGE = "percentage"  # value is a percentage of the order's goods, 0-100
    FIXED = "fixed"  # value is an amount in euro


class DiscountRefused(Exception):
    """The code may not be used on this order; the message says why."""


def discount_amount(kind: DiscountKind, value: Decimal, subtotal: Decimal) -> Decimal:
    """The discount on ``subtotal``, half-up to the cent, never more than the subtotal."""
    if kind == DiscountKind.PERCENTAGE:
        amount = (subtotal * value / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        amount = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return min(amount, subtotal)


def check_code(
    *, code: str, now: datetime, expires_at: datetime | None, uses: int, max_uses: int, min_order_value: Decimal,
    subtotal: Decimal, customer_id: str | None, order_customer_id: str,
) -> None:
    if expires_at is not None and now >= expires_at:
        raise DiscountRefused(f"discount code {code!r} expired on {expires_at.date().isoformat()}")
    if uses >= max_uses:
        raise DiscountRefused(f"discount code {code!r} has been used up ({max_uses} "
                              f"{'use' if max_uses == 1 else 'uses'})")
    if customer_id is not None and customer_id != order_customer_id:
        raise DiscountRefused(f"discount code {code!r} belongs to another customer")
    if subtotal < min_order_value:
        raise DiscountRefused(f"discount code {code!r} needs an order of at least EUR {min_order_value}; "
                              f"this order is EUR {subtotal}")

