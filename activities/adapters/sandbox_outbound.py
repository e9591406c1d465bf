"""Sandbox PIM and notification channels: they record what they received, once per
(order, status change[, channel]), which is what the real systems are asked to honour."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.ports import AlertNotice, OutgoingMessage, PimStatusUpdate
from storage.models import CustomerMessage, PimUpdate
from storage.db import transaction


async def _insert_once(sessions: async_sessionmaker[AsyncSession], row: object) -> None:
    try:
        async with transaction(sessions) as session:
            session.add(row)
    except IntegrityError:
        pass  # already delivered for this (order, sequence): a retried activity


class SandboxPim:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def publish_order_status(self, update: PimStatusUpdate) -> None:
        await _insert_once(self._sessions, PimUpdate(order_id=update.order_id, sequence=update.sequence,
                                                     status=update.status, payload=update.model_dump(mode="json")))


class SandboxNotifier:
    """One notification channel (e-mail, SMS, app) that records the message it would send."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def send(self, message: OutgoingMessage) -> None:
        await _insert_once(self._sessions, CustomerMessage(
            order_id=message.order_id, sequence=message.sequence, channel=message.channel,
            recipient=message.recipient, subject=message.subject, body=message.body))


class RecordOnlyOpsNotifier:
    """Operations are told through the alert records alone (``GET /alerts``): for tests and
    set-ups without an operations mailbox."""

    async def notify(self, alert: AlertNotice) -> None:
        return None
