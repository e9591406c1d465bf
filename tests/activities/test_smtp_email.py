"""Customer e-mail over real SMTP (an aiosmtpd server started by the test): the mail arrives
once, in the customer's language, with a deterministic Message-ID, however often the activity
is retried; a server that is down leaves the outbox row pending for the retry."""

import email
import socket
from datetime import UTC, datetime
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_outbound import SandboxPim
from activities.adapters.smtp_email import SmtpEmailNotifier
from activities.order_status import OrderStatusActivities
from domain.enums import NotificationChannel, OrderStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import StatusChange
from storage.models import CustomerMessage
from tests.factories import place_order, seed

env = ActivityEnvironment()


class Inbox:
    def __init__(self) -> None:
        self.mails: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.mails.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _activities(sessions, port: int) -> OrderStatusActivities:
    smtp = SmtpEmailNotifier(sessions, host="127.0.0.1", port=port, sender="orders@orderflow.example",
                             sender_name="Orderflow Demo B.V.")
    return OrderStatusActivities(sessions, SandboxPim(sessions), {NotificationChannel.EMAIL: smtp},
                                 CUSTOMER_STATUSES_DEFAULT)


def _change(order_id: str, sequence: int, status: OrderStatus = OrderStatus.SHIPPED) -> StatusChange:
    return StatusChange(order_id=order_id, sequence=sequence, status=status, occurred_at=datetime.now(UTC),
                        reason="handed to the carrier", tracking_number="3SABC123")


async def test_a_mail_arrives_once_in_the_customers_language(sessions, smtp_server) -> None:
    inbox, port = smtp_server
    await seed(sessions)
    dutch = await place_order(sessions, external_reference="WEB-MAIL-NL")  # the factory's customer: locale nl
    english = await place_order(sessions, external_reference="WEB-MAIL-EN", customer={
        "id": "c-99", "name": "Ann Smith", "email": "ann@example.com", "locale": "en",
        "notification_channels": ["email"]})
    acts = _activities(sessions, port)
    for _ in range(3):  # the activity retried: still one mail
        await env.run(acts.publish_status_change, _change(dutch, 5))
    await env.run(acts.publish_status_change, _change(english, 5))

    assert len(inbox.mails) == 2
    nl, en = inbox.mails
    assert nl["To"] == "anna@example.nl" and nl["Message-ID"] == f"<{dutch}.5.email@orderflow.example>"
    assert "onderweg" in nl.get_content() and "3SABC123" in nl.get_content()
    assert en["To"] == "ann@example.com" and "on its way" in en.get_content()
    assert "Orderflow Demo B.V." in nl["From"]
    async with sessions() as s:
        rows = (await s.execute(select(CustomerMessage).where(CustomerMessage.order_id == dutch))).scalars().all()
    assert len(rows) == 1 and rows[0].delivered_at is not None and rows[0].message_id == nl["Message-ID"]


async def test_a_server_that_is_down_leaves_the_message_pending_for_the_retry(sessions, smtp_server) -> None:
    inbox, port = smtp_server
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-MAIL-DOWN")
    down = _activities(sessions, _free_port())  # nothing listens there
    with pytest.raises(Exception):
        await env.run(down.publish_status_change, _change(order_id, 7))
    async with sessions() as s:
        row = (await s.execute(select(CustomerMessage).where(CustomerMessage.order_id == order_id))).scalar_one()
    assert row.delivered_at is None
    await env.run(_activities(sessions, port).publish_status_change, _change(order_id, 7))  # the retry
    assert [m["Message-ID"] for m in inbox.mails] == [f"<{order_id}.7.email@orderflow.example>"]


async def test_make_runs_mail_sink_stores_the_mail_in_an_mbox(sessions, tmp_path) -> None:
    import asyncio
    import mailbox

    from scripts.mail_sink import MboxHandler

    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-MAIL-SINK")
    path = tmp_path / "var" / "mail.mbox"
    path.parent.mkdir()
    controller = Controller(MboxHandler(path), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        await env.run(_activities(sessions, controller.port).publish_status_change, _change(order_id, 3))
    finally:
        controller.stop()
    mails = list(mailbox.mbox(path))
    assert len(mails) == 1 and mails[0]["Message-ID"] == f"<{order_id}.3.email@orderflow.example>"
    assert "onderweg" in mails[0].get_payload(decode=True).decode()
