"""Customer-service cases in the database: opening (once per dedupe key for automatic ones),
notes, resolving (with a reshipment order or a refund to make), and listing."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.cases import CaseActionKind, CaseActionStatus, CaseKind, CaseStatus
from domain.enums import BackorderPolicy, PaymentMethod
from storage.models import CaseNote, Order, OrderLine, Payment, ServiceCase
from storage.orders import new_order_id


def new_case_id() -> str:
    return f"case_{uuid.uuid4().hex[:20]}"


async def open_case(
    session: AsyncSession, *, kind: CaseKind, subject: str, opened_by: str, order_id: str | None = None,
    assignee: str | None = None, note: str | None = None, dedupe_key: str | None = None,
) -> ServiceCase | None:
    """A new case inside the caller's write transaction; None when ``dedupe_key`` opened one
    already (an automatic case is opened once however often its trigger runs)."""
    case = ServiceCase(id=new_case_id(), kind=kind.value, status=CaseStatus.OPEN.value, subject=subject,
                       order_id=order_id, assignee=assignee, opened_by=opened_by, dedupe_key=dedupe_key)
    try:
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    if note:
        session.add(CaseNote(case_id=case.id, author=opened_by, text=note))
        await session.flush()
    return case


async def add_note(session: AsyncSession, case: ServiceCase, author: str, text: str) -> None:
    session.add(CaseNote(case_id=case.id, author=author, text=text))
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS.value  # someone has answered: the SLA is met
    case.updated_at = datetime.now(UTC)
    await session.flush()


RESOLVED_NOTE = "resolved: "


async def resolve(session: AsyncSession, case: ServiceCase, author: str, resolution: str) -> None:
    case.status = CaseStatus.RESOLVED.value
    case.resolution = resolution
    case.resolved_at = datetime.now(UTC)
    session.add(CaseNote(case_id=case.id, author=author, text=f"{RESOLVED_NOTE}{resolution}"))
    await session.flush()


@dataclass(frozen=True)
class PendingRefund:
    case_id: str
    resolved_by: str | None  # the name of the API key that resolved the case


async def pending_refunds(session: AsyncSession) -> list[PendingRefund]:
    """Cases resolved with a refund not made yet, oldest resolution first: those whose refund is
    under way, and those whose workflow a Temporal outage kept from starting."""
    cases = (await session.execute(select(ServiceCase).where(
        ServiceCase.action_kind == CaseActionKind.REFUND.value,
        ServiceCase.action_status == CaseActionStatus.PENDING.value,
    ).order_by(ServiceCase.resolved_at, ServiceCase.id))).scalars().all()
    return [PendingRefund(case_id=case.id, resolved_by=next(
        (note.author for note in reversed(case.notes) if note.text.startswith(RESOLVED_NOTE)), None))
        for case in cases]


async def list_cases(
    session: AsyncSession, *, status: list[str] | None = None, order_id: str | None = None,
    assignee: str | None = None, kind: str | None = None, limit: int = 100,
) -> list[ServiceCase]:
    query = select(ServiceCase).order_by(ServiceCase.created_at.desc(), ServiceCase.id.desc()).limit(limit)
    if status:
        query = query.where(ServiceCase.status.in_(status))
    if order_id:
        query = query.where(ServiceCase.order_id == order_id)
    if assignee:
        query = query.where(ServiceCase.assignee == assignee)
    if kind:
        query = query.where(ServiceCase.kind == kind)
    return list((await session.execute(query)).scalars().all())


async def get_case(session: AsyncSession, case_id: str, *, for_update: bool = False) -> ServiceCase | None:
    return await session.get(ServiceCase, case_id, with_for_update=for_update)


class ActionRefused(Exception):
    """The action a resolution asks for cannot be done; the message says why and what can.
    ``line`` is the index of the reshipment line at fault, if one is."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ReshipLine:
    sku: str
    quantity: int


def reshipment_reference(case_id: str) -> str:
    """The reshipment's external reference: unique per channel, so one reshipment per case."""
    return f"RESHIP-{case_id}"


async def add_reshipment(session: AsyncSession, case: ServiceCase, original: Order, lines: list[ReshipLine]) -> Order:
    """A new order (not yet committed) that ships ``lines`` of ``original`` again at no charge,
    to the same customer and address, linked to the case and the original order. Only goods of
    the original order, at most as many as it had."""
    ordered = {ln.sku: ln for ln in original.lines if not ln.dropped}
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.sku in seen:
            raise ActionRefused(f"sku {line.sku!r} is named twice; put its quantity on one line", i)
        seen.add(line.sku)
        had = ordered.get(line.sku)
        if had is None:
            raise ActionRefused(f"sku {line.sku!r} is not on order {original.id}; a reshipment sends its own goods "
                                f"again: {', '.join(sorted(ordered)) or 'none'}", i)
        if line.quantity > had.quantity:
            raise ActionRefused(f"sku {line.sku!r}: {line.quantity} to reship, but order {original.id} had "
                                f"{had.quantity}", i)
    zero = Decimal("0.00")
    row = Order(
        id=new_order_id(), channel=original.channel, external_reference=reshipment_reference(case.id),
        customer_id=original.customer_id, status="RECEIVED", status_sequence=0,
        payment_method=PaymentMethod.NO_CHARGE.value, payment_token="none",
        shipping_preference=original.shipping_preference, preferred_carrier=original.preferred_carrier,
        preferred_service=original.preferred_service,
        # Out of stock: the customer already waited once; ship it as soon as it is in.
        backorder_policy=BackorderPolicy.PREORDER.value,
        ship_country=original.ship_country, ship_street=original.ship_street,
        ship_house_number=original.ship_house_number,
        ship_house_number_addition=original.ship_house_number_addition, ship_postcode=original.ship_postcode,
        ship_city=original.ship_city, total_amount=zero, vat_amount=zero, reshipment_of=original.id, case_id=case.id,
        lines=[OrderLine(line_no=n, sku=line.sku, name=ordered[line.sku].name, quantity=line.quantity,
                         unit_price=zero, vat_rate=ordered[line.sku].vat_rate, line_total=zero, vat_amount=zero)
               for n, line in enumerate(lines, start=1)])
    session.add(row)
    await session.flush()
    return row


async def refundable(session: AsyncSession, order_id: str) -> Decimal:
    """What can still be refunded on the order: captured, less refunded, less the refunds of
    resolved cases still being made."""
    payment = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one_or_none()
    if payment is None:
        return Decimal("0.00")
    pending = await session.scalar(select(func.coalesce(func.sum(ServiceCase.refund_amount), 0)).where(
        ServiceCase.order_id == order_id, ServiceCase.action_kind == CaseActionKind.REFUND.value,
        ServiceCase.action_status == CaseActionStatus.PENDING.value))
    return max(Decimal("0.00"), payment.captured - payment.refunded - Decimal(pending or 0)).quantize(Decimal("0.01"))


async def reshipment_of_case(session: AsyncSession, case_id: str) -> Order | None:
    return (await session.execute(select(Order).where(Order.case_id == case_id))).unique().scalar_one_or_none()
