"""E-mail to customers over SMTP, through an outbox row per (order, status change, channel).

The row in ``customer_messages`` is written first with a deterministic Message-ID; the mail
is sent only while the row has no ``delivered_at``, which is set once the SMTP server has
accepted it. A retried activity therefore sends nothing twice; the one gap, a crash between
the server's acceptance and our commit, resends the same Message-ID, which a receiving system
can drop as a duplicate.
"""

from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, format_datetime

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.adapters import outbox
from activities.ports import AlertNotice, OutgoingMessage


class SmtpSender:
    """One plain-text mail to one recipient over SMTP, with the caller's Message-ID and date
    (the callers make both deterministic, so a resend is recognisable as a duplicate)."""

    def __init__(self, *, host: str, port: int, sender: str, sender_name: str, timeout: float = 10.0) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._sender, self._sender_name = sender, sender_name
        self.domain = sender.rsplit("@", 1)[-1]

    async def send(self, *, to: str, subject: str, body: str, message_id: str, date: datetime) -> None:
        mail = EmailMessage()
        mail["From"] = formataddr((self._sender_name, self._sender))
        mail["To"] = to
        mail["Subject"] = subject
        mail["Message-ID"] = message_id
        mail["Date"] = format_datetime(date)
        mail.set_content(body)
        await aiosmtplib.send(mail, hostname=self._host, port=self._port, timeout=self._timeout,
                              start_tls=False, use_tls=False)


class SmtpEmailNotifier:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, host: str, port: int, sender: str,
                 sender_name: str, timeout: float = 10.0) -> None:
        self._sessions = sessions
        self._smtp = SmtpSender(host=host, port=port, sender=sender, sender_name=sender_name, timeout=timeout)
        self._domain = self._smtp.domain

    async def send(self, message: OutgoingMessage) -> None:
        row = await outbox.claim(self._sessions, message, self._domain)
        if row.delivered_at is not None:
            return  # sent by an earlier attempt
        assert row.message_id is not None
        # Transient SMTP failures raise: the activity is retried and the row is still pending.
        await self._smtp.send(to=row.recipient, subject=row.subject, body=row.body, message_id=row.message_id,
                              date=row.sent_at)
        await outbox.mark_delivered(self._sessions, row.id)


class SmtpOpsNotifier:
    """Each alert as one mail to the operations address; the Message-ID is the alert's, so a
    retried notification is recognisable as the same mail."""

    def __init__(self, smtp: SmtpSender, ops_address: str) -> None:
        self._smtp, self._to = smtp, ops_address

    async def notify(self, alert: AlertNotice) -> None:
        about = f" — order {alert.order_id}" if alert.order_id else (f" — {alert.reference}" if alert.reference else "")
        await self._smtp.send(
            to=self._to, subject=f"[Orderflow alert] {alert.kind.value.replace('_', ' ')}{about}",
            body=f"{alert.message}\n\nAlert {alert.alert_id}, raised {alert.raised_at.isoformat()}.\n"
                 f"Open alerts: GET /alerts. Resolve: POST /alerts/{alert.alert_id}/resolve.\n",
            message_id=f"<alert-{alert.alert_id}@{self._smtp.domain}>", date=alert.raised_at)
