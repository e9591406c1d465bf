"""The customer-message outbox (``customer_messages``): one row per (order, status change,
channel), claimed before a message goes out and marked delivered once the receiving server
accepted it. Every real notifier (SMTP, the SMS and app-push webhooks) sends through it, so a
retried activity sends nothing twice."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.ports import OutgoingMessage
from storage.db import transaction
from storage.models import CustomerMessage, utcnow


def message_id(message: OutgoingMessage, domain: str) -> str:
    """Deterministic per (order, sequence, channel): a resend carries the same id."""
    return f"<{message.order_id}.{message.sequence}.{message.channel}@{domain}>"


async def claim(sessions: async_sessionmaker[AsyncSession], message: OutgoingMessage, domain: str) -> CustomerMessage:
    """The outbox row of this message: created once (unique per order, sequence, channel)."""
    try:
        async with transaction(sessions) as session:
            row = CustomerMessage(order_id=message.order_id, sequence=message.sequence, channel=message.channel,
                                  recipient=message.recipient, subject=message.subject, body=message.body,
                                  message_id=message_id(message, domain), sent_at=utcnow())
            session.add(row)
        return row
    except IntegrityError:
        async with sessions() as session:
            return (await session.execute(select(CustomerMessage).where(
                CustomerMessage.order_id == message.order_id, CustomerMessage.sequence == message.sequence,
                CustomerMessage.channel == message.channel))).scalar_one()


async def mark_delivered(sessions: async_sessionmaker[AsyncSession], row_id: int) -> None:
    async with transaction(sessions) as session:
        stored = await session.get(CustomerMessage, row_id)
        if stored is not None and stored.delivered_at is None:
            stored.delivered_at = utcnow()
