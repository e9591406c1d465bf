"""Telling everyone about a status change, in one idempotent activity per change: the read
model (orders, timeline, shipment), the PIM, and the customer through their channels. A
feedback request carries the order's feedback link; a change that earns the customer a loyalty
code (good feedback, a low rating, a late delivery: ``domain.loyalty``) issues it and tells them.

Keyed by (order, sequence): the read model only moves forward, the PIM and each channel
receive a change once, and each loyalty code is issued once, however often the activity is
retried.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload
from temporalio import activity

from activities.customer_messages import tell_customer
from activities.metrics import record_status_change
from activities.ports import Notifier, PimStatusUpdate, ProductInformationSystem
from domain.cases import CaseKind, low_rating_subject, opens_case
from domain.enums import NotificationChannel, OrderStatus, ShipmentStatus
from domain.loyalty import (
    LoyaltyGrant,
    LoyaltyReason,
    LoyaltyRules,
    after_delivery,
    after_feedback,
    dedupe_key,
    message_sequence,
    render_loyalty_message,
)
from domain.shipping import tracking_url
from domain.messages import render_status_message
from domain.models import StatusChange, StatusChanges, StatusPublished
from storage.models import Customer, DiscountCode, Order, OrderEvent, OrderFeedback, Shipment
from storage.cases import open_case
from storage.discounts import give_back, issue_once
from storage.db import transaction

@dataclass(frozen=True)
class _Recorded:
    """One change as the read model took it."""

    applied: bool
    order: Order
    customer: Customer | None
    skus: list[str]
    stage: tuple[str, datetime] | None  # the status left and since when; None if not applied now
    codes: list[tuple[LoyaltyGrant, DiscountCode]]
    carrier: str | None


# The prefix of a code Orderflow issues by itself, by why it was earned.
CODE_PREFIX = {LoyaltyReason.THANKS: "THANKS", LoyaltyReason.MAKE_UP: "SORRY"}

SHIPMENT_STATUS_FOR = {
    OrderStatus.PARTIALLY_SHIPPED: ShipmentStatus.SHIPPED,
    OrderStatus.SHIPPED: ShipmentStatus.SHIPPED,
    OrderStatus.IN_TRANSIT: ShipmentStatus.IN_TRANSIT,
    OrderStatus.DELIVERED: ShipmentStatus.DELIVERED,
}


class OrderStatusActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pim: ProductInformationSystem,
        notifiers: Mapping[NotificationChannel, Notifier],
        customer_statuses: frozenset[OrderStatus],
        feedback_link: Callable[[str], str] | None = None,
        loyalty: LoyaltyRules | None = None,
    ) -> None:
        """``feedback_link`` gives an order's feedback link (``domain.feedback_links``); without
        it the request has no link. Without ``loyalty`` no code is issued by itself."""
        self._sessions = sessions
        self._pim = pim
        self._notifiers = notifiers
        self._customer_statuses = customer_statuses
        self._feedback_link = feedback_link
        self._loyalty = loyalty

    @activity.defn
    async def publish_status_changes(self, batch: StatusChanges) -> list[StatusPublished]:
        """Changes that happened back to back, each published as ``publish_status_change``
        would (in sequence order; each once, however often this is retried): one activity
        instead of one per change. Each change is told to everyone before the read model moves
        on to the next (a transaction each), so whoever sees a status finds the messages of
        the ones before it sent."""
        return [await self.publish_status_change(change) for change in sorted(batch.changes, key=lambda c: c.sequence)]

    @activity.defn
    async def publish_status_change(self, change: StatusChange) -> StatusPublished:
        async with transaction(self._sessions) as session:
            recorded = await self._record(session, change)
        return await self._tell(change, recorded)

    async def _record(self, session: AsyncSession, change: StatusChange) -> _Recorded:
        """The read model's part of a change, and what telling everyone about it needs."""
        applied = await self._apply_to_read_model(session, change)
        # The order with its customer (joined) and lines; its discount is not needed here.
        order = await session.get(Order, change.order_id, options=[raiseload(Order.discount)])
        assert order is not None
        customer = order.customer
        # Only the attempt that moved the read model counts, so a retry is not counted twice.
        stage = await self._stage_left(session, change, order) if applied else None
        codes = await self._issue_loyalty_codes(session, change, order, customer)
        carrier = await self._carrier(session, change.tracking_number)
        return _Recorded(applied=applied, order=order, customer=customer, skus=[line.sku for line in order.lines],
                         stage=stage, codes=codes, carrier=carrier)

    async def _tell(self, change: StatusChange, recorded: _Recorded) -> StatusPublished:
        """After the read model committed: metrics, the PIM, and the customer."""
        order, customer = recorded.order, recorded.customer
        if recorded.stage is not None:  # after the commit: a rolled-back change is not counted
            record_status_change(change.status, *recorded.stage, at=change.occurred_at)

        await self._pim.publish_order_status(PimStatusUpdate(
            order_id=change.order_id, sequence=change.sequence, status=change.status, skus=recorded.skus))

        sent: list[NotificationChannel] = []
        if (change.status in self._customer_statuses or change.delivery_exception) and customer is not None:
            link = (self._feedback_link(change.order_id)
                    if self._feedback_link and change.status == OrderStatus.FEEDBACK_REQUESTED else None)
            subject, body = render_status_message(
                locale=customer.locale, order_id=change.order_id, status=change.status,
                tracking_number=change.tracking_number, reason=change.reason, feedback_link=link,
                tracking_url=(tracking_url(recorded.carrier, change.tracking_number, order.ship_country,
                                           order.ship_postcode) if recorded.carrier and change.tracking_number else None),
                delivery_exception=change.delivery_exception)
            sent = await tell_customer(self._notifiers, customer, order_id=change.order_id,
                                       sequence=change.sequence, subject=subject, body=body)
        if customer is not None:
            for grant, code in recorded.codes:
                # Sent on every attempt: the notifier keeps it to once per (order, sequence, channel).
                assert code.expires_at is not None
                subject, body = render_loyalty_message(locale=customer.locale, order_id=change.order_id,
                                                       code=code.code, grant=grant, expires_at=code.expires_at)
                await tell_customer(self._notifiers, customer, order_id=change.order_id,
                                    sequence=message_sequence(grant.reason), subject=subject, body=body)
        return StatusPublished(applied_to_read_model=recorded.applied, messages=sent, pim_updated=True)

    async def _issue_loyalty_codes(
        self, session: AsyncSession, change: StatusChange, order: Order, customer: Customer | None,
    ) -> list[tuple[LoyaltyGrant, DiscountCode]]:
        """The codes this change earns, issued once per order and kind (a retry gets the same
        codes back, so it can still tell the customer). None for an erased customer."""
        if self._loyalty is None or customer is None or customer.erased_at is not None:
            return []
        grants: list[LoyaltyGrant | None] = []
        if change.status == OrderStatus.COMPLETED and change.feedback is not None:
            grants.append(after_feedback(self._loyalty, change.feedback.rating))
        elif change.status == OrderStatus.DELIVERED:
            shipped_at = (await session.execute(
                select(OrderEvent.occurred_at).where(OrderEvent.order_id == order.id,
                                                     OrderEvent.status == OrderStatus.SHIPPED.value)
                .order_by(OrderEvent.sequence).limit(1))).scalar_one_or_none()
            transit_days = (await session.execute(
                select(Shipment.transit_days).where(Shipment.order_id == order.id,
                                                    Shipment.status != ShipmentStatus.CANCELLED.value)
                # The last shipment: SHIPPED is its handover (an order shipped in parts).
                .order_by(Shipment.created_at.desc()).limit(1))).scalar_one_or_none()
            grants.append(after_delivery(self._loyalty, shipped_at=shipped_at, delivered_at=change.occurred_at,
                                         transit_days=transit_days))
        issued = []
        for grant in (g for g in grants if g is not None):
            code = await issue_once(
                session, dedupe_key=dedupe_key(order.id, grant.reason), prefix=CODE_PREFIX[grant.reason],
                kind=grant.kind, value=grant.value, issued_by=f"orderflow ({grant.because})",
                expires_at=change.occurred_at + timedelta(days=self._loyalty.valid_days),
                customer_id=customer.id, order_id=order.id)
            issued.append((grant, code))
        return issued

    @staticmethod
    async def _stage_left(session: AsyncSession, change: StatusChange, order: Order) -> tuple[str, datetime]:
        """The status the order leaves with this change and when it entered it: the previous
        change on the timeline, or the order's creation (RECEIVED) before the first."""
        previous = (await session.execute(
            select(OrderEvent.status, OrderEvent.occurred_at)
            .where(OrderEvent.order_id == change.order_id, OrderEvent.sequence < change.sequence)
            .order_by(OrderEvent.sequence.desc()).limit(1))).first()
        if previous is None:
            return OrderStatus.RECEIVED.value, order.created_at
        return previous.status, previous.occurred_at

    @staticmethod
    async def _carrier(session: AsyncSession, tracking_number: str | None) -> str | None:
        """The carrier of the shipment a tracking number belongs to (for its track-and-trace link)."""
        if tracking_number is None:
            return None
        return await session.scalar(select(Shipment.carrier).where(Shipment.tracking_number == tracking_number))

    async def _apply_to_read_model(self, session: AsyncSession, change: StatusChange) -> bool:
        # Conditional on the sequence: a late retry of an older change never moves it back.
        result = await session.execute(
            update(Order)
            .where(Order.id == change.order_id, Order.status_sequence < change.sequence)
            .values(status=change.status, status_sequence=change.sequence, status_reason=change.reason,
                    needs_attention=change.needs_attention)
        )
        applied = result.rowcount == 1
        # Recorded by an earlier attempt: nothing to do (one statement, not a savepoint around it).
        await session.execute(_insert_ignoring_duplicates(session, OrderEvent, ("order_id", "sequence")).values(
            order_id=change.order_id, sequence=change.sequence, status=change.status, reason=change.reason,
            occurred_at=change.occurred_at))
        if change.status in (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED):
            # Cancelled before shipping (or never paid): the discount code may be used again.
            await give_back(session, change.order_id)
        shipment_status = SHIPMENT_STATUS_FOR.get(change.status)
        if applied and shipment_status and change.status == OrderStatus.DELIVERED:
            # Delivered when every shipment is: an order shipped in parts has them all delivered.
            await session.execute(update(Shipment).where(
                Shipment.order_id == change.order_id, Shipment.status != ShipmentStatus.CANCELLED)
                .values(status=shipment_status))
        elif applied and shipment_status and change.tracking_number:
            await session.execute(update(Shipment).where(Shipment.tracking_number == change.tracking_number)
                                  .values(status=shipment_status))
        if change.feedback is not None and await session.get(OrderFeedback, change.order_id) is None:
            session.add(OrderFeedback(order_id=change.order_id, rating=change.feedback.rating,
                                      comment=change.feedback.comment))
            if opens_case(change.feedback.rating):
                # Customer service calls back after a low rating: one case per order.
                await open_case(session, kind=CaseKind.COMPLAINT, order_id=change.order_id, opened_by="feedback",
                                subject=low_rating_subject(change.feedback.rating, change.feedback.comment),
                                dedupe_key=f"feedback:{change.order_id}")
        return applied


def _insert_ignoring_duplicates(session: AsyncSession, model: type, unique: tuple[str, ...]) -> Insert:
    """``INSERT ... ON CONFLICT (unique) DO NOTHING`` in the session's dialect (SQLite or PostgreSQL)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing(index_elements=list(unique))
