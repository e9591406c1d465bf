"""Sending one message to a customer on each of their preferred channels."""

from collections.abc import Mapping

from activities.ports import Notifier, OutgoingMessage
from domain.enums import NotificationChannel
from storage.models import Customer


async def tell_customer(
    notifiers: Mapping[NotificationChannel, Notifier], customer: Customer, *, order_id: str, sequence: int,
    subject: str, body: str,
) -> list[NotificationChannel]:
    """Send on every channel the customer chose (e-mail when none) that has a notifier and an
    address; each notifier is idempotent per (order, sequence, channel). Returns where it went.

    Nothing goes to a customer whose personal data was erased (``storage.erasure``), also not
    a retry of a message that was pending when they were erased."""
    sent: list[NotificationChannel] = []
    if customer.erased_at is not None:
        return sent
    for name in customer.notification_channels or ["email"]:
        channel = NotificationChannel(name)
        recipient = customer.email if channel == NotificationChannel.EMAIL else customer.phone
        notifier = notifiers.get(channel)
        if notifier is None or not recipient:
            continue
        await notifier.send(OutgoingMessage(order_id=order_id, sequence=sequence, channel=channel,
                                            recipient=recipient, subject=subject, body=body))
        sent.append(channel)
    return sent
