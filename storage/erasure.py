"""Erasing a customer's personal data (the GDPR's right to erasure), in one transaction.

Erased: the customer record's name, e-mail, phone and the channel's customer id; on each of
their orders the shipping address, the payment token and the request fingerprint (a hash of
the body); the subject, body and recipient of every message sent to them; feedback comments;
return reasons; the free text of customer-service cases about their orders; a cancellation's
reason; the shipping labels and packing slips (which print the address). Nothing is sent to
them afterwards (``Customer.erased_at``).

Kept, because Dutch bookkeeping law (art. 2:10 BW, art. 52 AWR) requires the records behind
the accounts for seven years: the orders with their lines, amounts and VAT, payments, refunds
and credit notes, invoice numbers and the invoice documents already issued (which show the
name and address as they were on the day of issue).

Refused while the customer has an order that is not yet delivered or cancelled: the carrier
still needs the address, and the label has yet to be printed.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accountability import Actor
from domain.enums import OrderStatus
from storage.db import transaction
from storage.models import (
    CaseNote,
    Customer,
    CustomerErasure,
    CustomerMessage,
    Order,
    OrderDocument,
    OrderEvent,
    OrderFeedback,
    Return,
    ServiceCase,
    utcnow,
)

ERASED = "[erased]"
ERASED_REASON = "(not kept: the customer's personal data was erased)"
# An order in one of these is past the carrier: its address is no longer needed.
ERASABLE_STATUSES = frozenset({OrderStatus.DELIVERED, OrderStatus.FEEDBACK_REQUESTED, OrderStatus.COMPLETED,
                               OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED})
# Documents that print the customer's address and are not bookkeeping records.
DELETED_DOCUMENT_KINDS = ("label", "packing_slip")


class UnknownCustomer(Exception):
    pass


class OrdersInFlight(Exception):
    """The customer has orders the carrier still needs the address for."""

    def __init__(self, orders: list[tuple[str, str]]) -> None:
        super().__init__(", ".join(f"{o} ({s})" for o, s in orders))
        self.orders = orders


@dataclass
class Erasure:
    record: CustomerErasure
    erased_now: bool  # False: erased by an earlier call, whose record this is


async def erase_customer(sessions: async_sessionmaker[AsyncSession], customer_id: str, actor: Actor,
                         *, now: datetime | None = None) -> Erasure:
    """Erase, or answer the earlier erasure. Raises ``UnknownCustomer`` or ``OrdersInFlight``
    (nothing written). The customer row is locked first: an order being placed for the same
    customer waits (``storage.orders.upsert_customer`` locks it too), then finds the erased
    record no longer matches the channel's customer id and makes a new customer."""
    async with transaction(sessions) as session:
        customer = await session.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise UnknownCustomer(customer_id)
        done = await session.get(CustomerErasure, customer_id)
        if done is not None:
            return Erasure(done, erased_now=False)
        orders = (await session.execute(select(Order.id, Order.status).where(Order.customer_id == customer_id)
                                        .order_by(Order.created_at).with_for_update())).all()
        in_flight = [(o, s) for o, s in orders if s not in ERASABLE_STATUSES]
        if in_flight:
            raise OrdersInFlight(in_flight)
        summary = await _erase(session, customer, [o for o, _ in orders])
        record = CustomerErasure(customer_id=customer_id, erased_at=now or utcnow(), erased_by=actor.key_name,
                                 erased_by_role=actor.role, summary=summary)
        customer.erased_at = record.erased_at
        session.add(record)
    return Erasure(record, erased_now=True)


async def _erase(session: AsyncSession, customer: Customer, order_ids: list[str]) -> dict[str, Any]:
    # The channel's customer id goes too: a new order under it makes a new customer record.
    customer.name = customer.email = customer.phone = None
    customer.external_id = f"erased:{customer.id}"
    customer.notification_channels = []
    summary: dict[str, Any] = {"customers": 1, "orders": len(order_ids)}
    if not order_ids:
        return summary

    async def count(result: Any) -> int:
        return int(result.rowcount or 0)

    await session.execute(update(Order).where(Order.id.in_(order_ids)).values(
        ship_street=None, ship_house_number=None, ship_house_number_addition=None, ship_postcode=None,
        ship_city=None, ship_country=None, payment_token=ERASED, request_fingerprint=None))
    # A cancellation's reason is the caller's free text.
    await session.execute(update(Order).where(Order.id.in_(order_ids), Order.status == OrderStatus.CANCELLED.value)
                          .values(status_reason=ERASED_REASON))
    summary["order_events"] = await count(await session.execute(
        update(OrderEvent).where(OrderEvent.order_id.in_(order_ids), OrderEvent.status == OrderStatus.CANCELLED.value)
        .values(reason=ERASED_REASON)))
    summary["customer_messages"] = await count(await session.execute(
        update(CustomerMessage).where(CustomerMessage.order_id.in_(order_ids))
        .values(recipient=ERASED, subject=ERASED, body="")))
    summary["order_feedback"] = await count(await session.execute(
        update(OrderFeedback).where(OrderFeedback.order_id.in_(order_ids), OrderFeedback.comment.is_not(None))
        .values(comment=None)))
    summary["returns"] = await count(await session.execute(
        update(Return).where(Return.order_id.in_(order_ids)).values(reason=ERASED_REASON)))
    case_ids = list((await session.execute(
        select(ServiceCase.id).where(ServiceCase.order_id.in_(order_ids)))).scalars())
    if case_ids:
        await session.execute(update(ServiceCase).where(ServiceCase.id.in_(case_ids)).values(subject=ERASED))
        await session.execute(update(ServiceCase).where(ServiceCase.id.in_(case_ids),
                                                        ServiceCase.resolution.is_not(None)).values(resolution=ERASED))
        await session.execute(update(CaseNote).where(CaseNote.case_id.in_(case_ids)).values(text=ERASED))
    summary["service_cases"] = len(case_ids)
    summary["order_documents_deleted"] = await count(await session.execute(
        delete(OrderDocument).where(OrderDocument.order_id.in_(order_ids),
                                    OrderDocument.kind.in_(DELETED_DOCUMENT_KINDS))))
    return summary


async def erasure_of(session: AsyncSession, customer_id: str) -> CustomerErasure | None:
    return await session.get(CustomerErasure, customer_id)
