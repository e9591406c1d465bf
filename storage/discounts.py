"""Discount codes in the database: issuing (by operations, or by Orderflow itself once per
dedupe key), redeeming inside the order's own transaction (a conditional update on the uses
counter decides), and giving a redemption back."""

import secrets
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.discounts import DiscountKind, DiscountRefused, check_code, discount_amount
from storage.models import DiscountCode, DiscountRedemption


def normalise(code: str) -> str:
    return code.strip().upper()


# Codes Orderflow makes up itself: no 0/O or 1/I, so a customer can type them from a message.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generated_code(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


async def issue_code(
    session: AsyncSession, *, code: str, kind: DiscountKind, value: Decimal, issued_by: str,
    min_order_value: Decimal = Decimal("0.00"), expires_at: datetime | None = None, max_uses: int = 1,
    customer_id: str | None = None, order_id: str | None = None, dedupe_key: str | None = None,
) -> DiscountCode:
    """Add a code inside the caller's write transaction. An existing code (or dedupe key)
    raises ``IntegrityError`` at the flush; the caller's transaction is left usable."""
    row = DiscountCode(code=normalise(code), kind=kind.value, value=value, min_order_value=min_order_value,
                       expires_at=expires_at, max_uses=max_uses, uses=0, customer_id=customer_id,
                       issued_by=issued_by, order_id=order_id, dedupe_key=dedupe_key)
    async with session.begin_nested():
        session.add(row)
        await session.flush()
    return row


async def issue_once(
    session: AsyncSession, *, dedupe_key: str, prefix: str, kind: DiscountKind, value: Decimal, issued_by: str,
    expires_at: datetime, customer_id: str, order_id: str,
) -> DiscountCode:
    """The code for ``dedupe_key``: issued now (a new single-use code tied to the customer),
    or the one an earlier attempt issued. The unique dedupe key decides, not a read first."""
    for _ in range(3):
        try:
            return await issue_code(session, code=generated_code(prefix), kind=kind, value=value, issued_by=issued_by,
                                    expires_at=expires_at, customer_id=customer_id, order_id=order_id,
                                    dedupe_key=dedupe_key)
        except IntegrityError:
            existing = (await session.execute(select(DiscountCode).where(DiscountCode.dedupe_key == dedupe_key)))\
                .scalar_one_or_none()
            if existing is not None:
                return existing
            # The random code itself was taken (1 in 32^8): draw another.
    raise RuntimeError(f"could not issue a unique discount code for {dedupe_key}")


async def redeem(session: AsyncSession, *, code: str, order_id: str, customer_id: str, subtotal: Decimal,
                 now: datetime | None = None) -> Decimal:
    """Redeem ``code`` for the order inside the caller's write transaction; the discount.
    Raises ``DiscountRefused``: the caller's transaction then rolls back (nothing written)."""
    now = now or datetime.now(UTC)
    code = normalise(code)
    row = await session.get(DiscountCode, code)
    if row is None:
        raise DiscountRefused(f"discount code {code!r} does not exist; check its spelling")
    check_code(code=code, now=now, expires_at=row.expires_at, uses=row.uses, max_uses=row.max_uses,
               min_order_value=row.min_order_value, subtotal=subtotal, customer_id=row.customer_id,
               order_customer_id=customer_id)
    # The read above may be stale under concurrency: the conditional update decides.
    taken = await session.execute(update(DiscountCode).where(DiscountCode.code == code,
                                                              DiscountCode.uses < DiscountCode.max_uses)
                                  .values(uses=DiscountCode.uses + 1))
    if taken.rowcount != 1:
        raise DiscountRefused(f"discount code {code!r} has been used up ({row.max_uses} "
                              f"{'use' if row.max_uses == 1 else 'uses'})")
    amount = discount_amount(DiscountKind(row.kind), row.value, subtotal)
    session.add(DiscountRedemption(order_id=order_id, code=code, amount=amount, redeemed_at=now))
    return amount


async def rediscount(session: AsyncSession, order_id: str, subtotal: Decimal) -> Decimal:
    """The order's discount on a new subtotal (lines were dropped): a percentage is taken of
    the new subtotal, a fixed amount stays but never exceeds it. Zero without a code."""
    redemption = await session.get(DiscountRedemption, order_id)
    if redemption is None or redemption.released_at is not None:
        return Decimal("0.00")
    code = await session.get(DiscountCode, redemption.code)
    assert code is not None
    redemption.amount = (discount_amount(DiscountKind(code.kind), code.value, subtotal)
                         if code.kind == DiscountKind.PERCENTAGE else min(redemption.amount, subtotal))
    return redemption.amount


async def give_back(session: AsyncSession, order_id: str) -> bool:
    """Give the order's redemption back (its use counts no more); idempotent."""
    redemption = await session.get(DiscountRedemption, order_id)
    if redemption is None:
        return False
    released = await session.execute(update(DiscountRedemption).where(
        DiscountRedemption.order_id == order_id, DiscountRedemption.released_at.is_(None))
        .values(released_at=datetime.now(UTC)))
    if released.rowcount != 1:
        return False
    await session.execute(update(DiscountCode).where(DiscountCode.code == redemption.code, DiscountCode.uses > 0)
                          .values(uses=DiscountCode.uses - 1))
    return True


async def order_discount(session: AsyncSession, order_id: str) -> DiscountRedemption | None:
    return await session.get(DiscountRedemption, order_id)


async def list_codes(session: AsyncSession) -> list[DiscountCode]:
    return list((await session.execute(select(DiscountCode).order_by(DiscountCode.created_at.desc()))).scalars())
