"""Alerts in the database: raising one once per occurrence, resolving, listing, and finding
what is due — the escalation rules of DESIGN.md read off the read model.

An order's ``needs_attention`` column is kept here, in the same transaction as the alert that
changes it: it is true while the order has an open alert.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.cases import CaseStatus
from domain.enums import AlertKind, OrderStatus, PurchaseOrderStatus
from storage.models import Alert, CaseNote, Order, OrderEvent, PurchaseOrder, ServiceCase

# Statuses in which an order is with the carrier and tracking events are expected.
WITH_CARRIER = (OrderStatus.SHIPPED.value, OrderStatus.IN_TRANSIT.value)
CLOSED_ORDER = (OrderStatus.DELIVERED.value, OrderStatus.FEEDBACK_REQUESTED.value, OrderStatus.COMPLETED.value,
                OrderStatus.CANCELLED.value)
OPEN_PURCHASE_ORDER = (PurchaseOrderStatus.PLACED.value, PurchaseOrderStatus.CONFIRMED.value,
                       PurchaseOrderStatus.PARTIALLY_RECEIVED.value)


@dataclass(frozen=True)
class AlertSpec:
    """An alert to raise; ``dedupe_key`` names the one occurrence it is about."""

    kind: AlertKind
    message: str
    dedupe_key: str
    order_id: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class EscalationRules:
    """How long each thing may take before operations are alerted."""

    pick_sla: timedelta
    tracking_silence: timedelta
    case_sla: timedelta
    supplier_grace: timedelta


class AlertNotFound(LookupError):
    pass


async def raise_alert(session: AsyncSession, spec: AlertSpec, now: datetime) -> Alert | None:
    """Insert the alert inside the caller's write transaction; None when this occurrence was
    raised before (open or resolved: a resolved occurrence does not come back)."""
    alert = Alert(kind=spec.kind.value, order_id=spec.order_id, reference=spec.reference,
                  message=spec.message[:500], dedupe_key=spec.dedupe_key[:255], raised_at=now)
    try:
        async with session.begin_nested():
            session.add(alert)
            await session.flush()
    except IntegrityError:
        return None
    if spec.order_id is not None:
        await session.execute(update(Order).where(Order.id == spec.order_id).values(needs_attention=True))
    return alert


async def resolve_alert(session: AsyncSession, alert_id: int, *, by: str, resolution: str | None,
                        now: datetime) -> tuple[Alert, bool]:
    """Resolve inside the caller's write transaction. Returns the alert and whether this call
    resolved it (False: it already was, and keeps who resolved it first)."""
    alert = await session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertNotFound(alert_id)
    if alert.resolved_at is not None:
        return alert, False
    alert.resolved_at, alert.resolved_by, alert.resolution = now, by[:100], (resolution or None) and resolution[:500]
    await session.flush()
    if alert.order_id is not None:
        await refresh_needs_attention(session, alert.order_id)
    return alert, True


async def refresh_needs_attention(session: AsyncSession, order_id: str) -> bool:
    """Set the order's ``needs_attention`` from its open alerts; returns the new value."""
    still_open = bool(await open_alert_count(session, order_id))
    await session.execute(update(Order).where(Order.id == order_id).values(needs_attention=still_open))
    return still_open


async def open_alert_count(session: AsyncSession, order_id: str) -> int:
    return int(await session.scalar(select(func.count()).select_from(Alert).where(
        Alert.order_id == order_id, Alert.resolved_at.is_(None))) or 0)


@dataclass(frozen=True)
class AlertFilters:
    state: str = "open"  # open, resolved, all
    kind: AlertKind | None = None
    order_id: str | None = None
    limit: int = 50
    offset: int = 0


async def list_alerts(session: AsyncSession, filters: AlertFilters) -> tuple[Sequence[Alert], int]:
    """A page of alerts, newest first, and how many match in all."""
    conditions = []
    if filters.state == "open":
        conditions.append(Alert.resolved_at.is_(None))
    elif filters.state == "resolved":
        conditions.append(Alert.resolved_at.is_not(None))
    if filters.kind is not None:
        conditions.append(Alert.kind == filters.kind.value)
    if filters.order_id is not None:
        conditions.append(Alert.order_id == filters.order_id)
    total = await session.scalar(select(func.count()).select_from(Alert).where(*conditions))
    rows = (await session.execute(select(Alert).where(*conditions).order_by(Alert.raised_at.desc(), Alert.id.desc())
                                  .limit(filters.limit).offset(filters.offset))).scalars().all()
    return rows, int(total or 0)


async def alerts_of_order(session: AsyncSession, order_id: str) -> Sequence[Alert]:
    return (await session.execute(select(Alert).where(Alert.order_id == order_id).order_by(Alert.id))).scalars().all()


async def unnotified(session: AsyncSession, limit: int = 100) -> Sequence[Alert]:
    """Alerts the operations channel has not accepted yet, oldest first."""
    return (await session.execute(select(Alert).where(Alert.notified_at.is_(None)).order_by(Alert.id)
                                  .limit(limit))).scalars().all()


# --- what is due ---------------------------------------------------------------------------


def _entered_current_status():
    """The time each order entered its current status (its latest timeline row)."""
    return (select(OrderEvent.occurred_at).where(OrderEvent.order_id == Order.id,
                                                 OrderEvent.sequence == Order.status_sequence)
            .correlate(Order).scalar_subquery())


async def due_escalations(session: AsyncSession, now: datetime, rules: EscalationRules) -> list[AlertSpec]:
    """Every escalation whose time has come, as alerts to raise (raising is idempotent, so
    one already raised is simply found again)."""
    entered = _entered_current_status()
    due: list[AlertSpec] = []

    late_picks = (await session.execute(
        select(Order.id, Order.status_sequence, entered.label("since"))
        .where(Order.status == OrderStatus.PICKING.value, entered < now - rules.pick_sla))).all()
    for order_id, sequence, since in late_picks:
        due.append(AlertSpec(
            AlertKind.LATE_PICK, order_id=order_id, dedupe_key=f"late_pick:{order_id}:{sequence}",
            message=f"Order {order_id} is not picked {_age(now - since)} after it was released to the warehouse "
                    f"(pick SLA {_age(rules.pick_sla)}); it keeps waiting for the pick."))

    silent = (await session.execute(
        select(Order.id, Order.status, Order.status_sequence, entered.label("since"))
        .where(Order.status.in_(WITH_CARRIER), entered < now - rules.tracking_silence))).all()
    for order_id, status, sequence, since in silent:
        due.append(AlertSpec(
            AlertKind.TRACKING_SILENCE, order_id=order_id, dedupe_key=f"tracking_silence:{order_id}:{sequence}",
            message=f"No tracking event for order {order_id} for {_age(now - since)} (status {status}); "
                    f"ask the carrier where the parcel is."))

    answered = exists().where(CaseNote.case_id == ServiceCase.id, CaseNote.author != ServiceCase.opened_by)
    cases = (await session.execute(
        select(ServiceCase.id, ServiceCase.order_id, ServiceCase.subject, ServiceCase.created_at)
        .where(ServiceCase.status == CaseStatus.OPEN.value, ServiceCase.created_at < now - rules.case_sla,
               ~answered))).all()
    for case_id, order_id, subject, created_at in cases:
        due.append(AlertSpec(
            AlertKind.UNANSWERED_CASE, order_id=order_id, reference=case_id, dedupe_key=f"unanswered_case:{case_id}",
            message=f"Case {case_id} ('{subject[:120]}') has had no answer for {_age(now - created_at)} "
                    f"(case SLA {_age(rules.case_sla)}); assign it or add a note."))

    overdue_by = (now - rules.supplier_grace).date()
    late = (await session.execute(
        select(PurchaseOrder.id, PurchaseOrder.sku, PurchaseOrder.supplier, PurchaseOrder.expected_date,
               PurchaseOrder.quantity, PurchaseOrder.received)
        .where(PurchaseOrder.status.in_(OPEN_PURCHASE_ORDER), PurchaseOrder.expected_date.is_not(None),
               PurchaseOrder.expected_date < overdue_by))).all()
    for po_id, sku, supplier, expected, quantity, received in late:
        due.append(AlertSpec(
            AlertKind.LATE_SUPPLIER, reference=po_id, dedupe_key=f"late_supplier:{po_id}:{expected.isoformat()}",
            message=f"Purchase order {po_id} ({quantity - received} × {sku} from {supplier}) was expected on "
                    f"{expected.isoformat()} and has not fully arrived; pre-orders for {sku} are waiting."))
    return due


async def resolved_causes(session: AsyncSession) -> list[tuple[Alert, str]]:
    """Open alerts whose cause is gone, each with the reason: they resolve themselves."""
    gone: list[tuple[Alert, str]] = []
    rows = (await session.execute(
        select(Alert, Order.status, Order.status_sequence)
        .join(Order, Order.id == Alert.order_id)
        .where(Alert.resolved_at.is_(None),
               Alert.kind.in_([AlertKind.LATE_PICK.value, AlertKind.TRACKING_SILENCE.value,
                               AlertKind.DELIVERY_EXCEPTION.value, AlertKind.SHORT_PICK.value])))).all()
    for alert, status, sequence in rows:
        raised_for = _sequence_of(alert.dedupe_key)
        # A short pick is dealt with once the order's status changed (its out-of-stock path ran).
        if (alert.kind in (AlertKind.LATE_PICK, AlertKind.SHORT_PICK)
                and (status != OrderStatus.PICKING or sequence != raised_for)):
            gone.append((alert, f"order moved on to {status}"))
        elif alert.kind == AlertKind.TRACKING_SILENCE and (status not in WITH_CARRIER or sequence != raised_for):
            gone.append((alert, f"carrier reported again (order {status})"))
        elif alert.kind == AlertKind.DELIVERY_EXCEPTION and status in CLOSED_ORDER:
            gone.append((alert, f"order {status}"))

    cases = (await session.execute(
        select(Alert, ServiceCase.status).join(ServiceCase, ServiceCase.id == Alert.reference)
        .where(Alert.resolved_at.is_(None), Alert.kind == AlertKind.UNANSWERED_CASE.value))).all()
    answered_ids = set((await session.execute(
        select(CaseNote.case_id).join(ServiceCase, ServiceCase.id == CaseNote.case_id)
        .where(CaseNote.author != ServiceCase.opened_by,
               CaseNote.case_id.in_([a.reference for a, _ in cases])))).scalars())
    for alert, case_status in cases:
        if case_status != CaseStatus.OPEN or alert.reference in answered_ids:
            gone.append((alert, "case answered" if case_status == CaseStatus.OPEN else f"case {case_status}"))

    pos = (await session.execute(
        select(Alert, PurchaseOrder.status).join(PurchaseOrder, PurchaseOrder.id == Alert.reference)
        .where(Alert.resolved_at.is_(None), Alert.kind == AlertKind.LATE_SUPPLIER.value))).all()
    for alert, po_status in pos:
        if po_status not in OPEN_PURCHASE_ORDER:
            gone.append((alert, f"purchase order {po_status}"))
    return gone


def _sequence_of(dedupe_key: str) -> int | None:
    tail = dedupe_key.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 72 else f"{hours // 24} days"


__all__ = [
    "AlertFilters", "AlertNotFound", "AlertSpec", "EscalationRules", "alerts_of_order", "due_escalations",
    "list_alerts", "open_alert_count", "raise_alert", "refresh_needs_attention", "resolve_alert",
    "resolved_causes", "unnotified",
]
