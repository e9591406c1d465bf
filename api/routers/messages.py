"""What an order's customer was told: one entry per (status change, channel), from the
``customer_messages`` outbox, with its Message-ID and when the mail server accepted it."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import OrderReader, Sessions, load_order
from api.routers.orders import AUTH_RESPONSES, OrderId
from api.schemas import ErrorOut
from storage.models import CustomerMessage

router = APIRouter(prefix="/orders", tags=["messages"])


class MessageOut(BaseModel):
    sequence: int
    channel: str
    recipient: str
    subject: str
    body: str
    message_id: str | None
    created_at: datetime
    delivered_at: datetime | None  # e-mail over SMTP: when the server accepted it; None: pending


class MessageList(BaseModel):
    order_id: str
    messages: list[MessageOut]


@router.get("/{order_id}/messages", response_model=MessageList, summary="Messages sent to the customer",
            responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "No such order for this key"}})
async def list_messages(order_id: OrderId, principal: OrderReader, sessions: Sessions) -> MessageList:
    """Each status change the customer hears about, per channel (e-mail, SMS, app), oldest
    first. Roles: channel (own orders), warehouse, ops."""
    order = await load_order(sessions, principal, order_id)
    async with sessions() as session:
        rows = (await session.execute(select(CustomerMessage).where(CustomerMessage.order_id == order.id)
                                      .order_by(CustomerMessage.sequence, CustomerMessage.channel))).scalars().all()
    return MessageList(order_id=order.id, messages=[MessageOut(
        sequence=r.sequence, channel=r.channel, recipient=r.recipient, subject=r.subject, body=r.body,
        message_id=r.message_id, created_at=r.sent_at, delivered_at=r.delivered_at) for r in rows])
