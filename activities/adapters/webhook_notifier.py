"""SMS and app push through the provider's HTTP webhook: one signed JSON POST per message
(``activities.adapters.signed_webhook``), sent through the customer-message outbox.

The outbox row (unique per order, status change and channel) is written first with a
deterministic message id, which is also the request's ``Idempotency-Key``; the POST is made
only while the row is not yet delivered, and the row is marked delivered once the gateway
answered 2xx. A non-2xx answer or an unreachable gateway raises, so Temporal retries with
back-off; a retry after delivery sends nothing; the one gap (a crash between the gateway's
acceptance and our commit) resends the same Idempotency-Key, which the gateway drops.

Body: ``{"message_id", "order_id", "sequence", "channel": "sms"|"app", "recipient",
"subject", "body"}`` (UTF-8 JSON).
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.adapters import outbox
from activities.adapters.signed_webhook import SignedWebhook
from activities.ports import OutgoingMessage
from domain.enums import NotificationChannel


class WebhookNotifier:
    """One notification channel (SMS or app push) over a signed webhook."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], channel: NotificationChannel, *, url: str,
                 secret: str, domain: str, timeout: float = 10.0) -> None:
        self._sessions = sessions
        self._channel = channel
        self._webhook = SignedWebhook(url=url, secret=secret, timeout=timeout)
        # The message id's domain part, as in the e-mails' Message-IDs (the sender's domain).
        self._domain = domain

    async def send(self, message: OutgoingMessage) -> None:
        if message.channel != self._channel:
            raise ValueError(f"the {self._channel} notifier was given a {message.channel} message")
        row = await outbox.claim(self._sessions, message, self._domain)
        if row.delivered_at is not None:
            return  # delivered by an earlier attempt
        assert row.message_id is not None
        await self._webhook.post({
            "message_id": row.message_id, "order_id": row.order_id, "sequence": row.sequence,
            "channel": str(self._channel), "recipient": row.recipient, "subject": row.subject, "body": row.body,
        }, idempotency_key=row.message_id)
        await outbox.mark_delivered(self._sessions, row.id)
