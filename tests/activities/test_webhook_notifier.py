"""SMS and app push over signed webhooks, against a real HTTP server started by the test: each
channel signs with its own secret, a 503 is retried (the activity raises), a retry after
success sends nothing, concurrent twins share one outbox row and one Idempotency-Key; which
statuses reach the customer follows the ``customer_statuses`` setting."""

import asyncio
import base64
import os
import socket
from collections import defaultdict
from datetime import UTC, datetime

import pytest
import uvicorn
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_outbound import SandboxPim
from activities.order_status import OrderStatusActivities
from domain.enums import NotificationChannel, OrderStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import StatusChange
from domain.signing import verify
from settings import Profile, Settings
from storage.models import CustomerMessage
from tests.factories import place_order, seed
from worker import build_activities, customer_notifiers

env = ActivityEnvironment()
SECRETS = {"sms": "sms-test-secret", "app": "app-test-secret"}
CUSTOMER = {"id": "c-sms", "name": "Anna de Vries", "email": "anna@example.nl", "phone": "+31612345678",
            "locale": "en", "notification_channels": ["email", "sms", "app"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """An SMS/push gateway: checks each channel's signature, fails the first request of each
    channel with 503 (as a gateway under load does), records what it accepted."""

    def __init__(self) -> None:
        self.accepted: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
        self.fail_first = {"sms": True, "app": True}

    async def receive(self, request: Request) -> JSONResponse:
        channel = request.path_params["channel"]
        body = await request.body()
        if not verify(SECRETS[channel], body, request.headers.get("X-Signature", "")):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        if self.fail_first[channel]:
            self.fail_first[channel] = False
            return JSONResponse({"detail": "busy"}, status_code=503)
        self.accepted[channel].append((dict(request.headers), await request.json()))
        return JSONResponse({"ok": True})


@pytest.fixture
async def gateway():
    gw = Gateway()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/{channel}", gw.receive, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield gw, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def _settings(settings: Settings, base: str, **overrides) -> Settings:
    return settings.model_copy(update={
        "sms_backend": "webhook", "sms_webhook_url": f"{base}/sms", "sms_webhook_secret": SecretStr(SECRETS["sms"]),
        "app_backend": "webhook", "app_webhook_url": f"{base}/app", "app_webhook_secret": SecretStr(SECRETS["app"]),
        **overrides})


def _publisher(settings: Settings, sessions) -> OrderStatusActivities:
    notifiers = customer_notifiers(settings, sessions)
    return OrderStatusActivities(sessions, SandboxPim(sessions), notifiers, CUSTOMER_STATUSES_DEFAULT)


async def _rows(sessions, order_id: str) -> dict[str, CustomerMessage]:
    async with sessions() as s:
        return {r.channel: r for r in (await s.execute(
            select(CustomerMessage).where(CustomerMessage.order_id == order_id))).scalars()}


async def test_sms_and_app_go_out_signed_once_after_a_retry(sessions, settings, gateway) -> None:
    gw, base = gateway
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-SMS-1", customer=CUSTOMER)
    acts = _publisher(_settings(settings, base), sessions)
    change = StatusChange(order_id=order_id, sequence=5, status=OrderStatus.SHIPPED, occurred_at=datetime.now(UTC),
                          tracking_number="3S1234567890123")
    with pytest.raises(Exception, match="sms answered 503"):
        await env.run(acts.publish_status_change, change)  # Temporal retries this
    pending = await _rows(sessions, order_id)
    assert pending["sms"].delivered_at is None  # claimed, not yet accepted
    with pytest.raises(Exception, match="app answered 503"):
        await env.run(acts.publish_status_change, change)  # the retry: SMS goes out, the app gateway is busy
    results = [await env.run(acts.publish_status_change, change) for _ in range(2)]  # the last retry, and one more
    assert all(sorted(r.messages) == ["app", "email", "sms"] for r in results)

    for channel in ("sms", "app"):
        assert len(gw.accepted[channel]) == 1, channel
        headers, payload = gw.accepted[channel][0]
        assert payload["message_id"] == headers["idempotency-key"] == f"<{order_id}.5.{channel}@orderflow.example>"
        assert (payload["order_id"], payload["sequence"], payload["channel"]) == (order_id, 5, channel)
        assert payload["recipient"] == "+31612345678" and "3S1234567890123" in payload["body"]
        assert payload["subject"] == f"Your order {order_id}: SHIPPED"
    rows = await _rows(sessions, order_id)
    assert set(rows) == {"email", "sms", "app"}
    assert rows["sms"].delivered_at is not None and rows["app"].delivered_at is not None


async def test_concurrent_twins_share_one_outbox_row_and_idempotency_key(sessions, settings, gateway) -> None:
    gw, base = gateway
    gw.fail_first = {"sms": False, "app": False}
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-SMS-2",
                                 customer={**CUSTOMER, "notification_channels": ["sms"]})
    acts = _publisher(_settings(settings, base), sessions)
    change = StatusChange(order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED,
                          occurred_at=datetime.now(UTC))
    await asyncio.gather(env.run(acts.publish_status_change, change), env.run(acts.publish_status_change, change))
    await env.run(acts.publish_status_change, change)
    # Twins racing past the pending row may both post; they carry one key, which the gateway drops.
    assert 1 <= len(gw.accepted["sms"]) <= 2
    assert {h["idempotency-key"] for h, _ in gw.accepted["sms"]} == {f"<{order_id}.1.sms@orderflow.example>"}
    assert list(await _rows(sessions, order_id)) == ["sms"]


async def test_a_wrong_secret_is_refused_and_nothing_is_marked_delivered(sessions, settings, gateway) -> None:
    gw, base = gateway
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-SMS-3",
                                 customer={**CUSTOMER, "notification_channels": ["app"]})
    acts = _publisher(_settings(settings, base, app_webhook_secret=SecretStr("wrong")), sessions)
    with pytest.raises(Exception, match="401"):
        await env.run(acts.publish_status_change, StatusChange(
            order_id=order_id, sequence=1, status=OrderStatus.PAYMENT_AUTHORIZED, occurred_at=datetime.now(UTC)))
    assert gw.accepted["app"] == [] and (await _rows(sessions, order_id))["app"].delivered_at is None


async def test_the_customer_statuses_setting_decides_what_reaches_the_customer(sessions, settings) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-SMS-4")
    only_delivered = settings.model_copy(update={"customer_statuses": frozenset({OrderStatus.DELIVERED})})
    publish = next(a for a in build_activities(only_delivered, sessions) if a.__name__ == "publish_status_change")
    now = datetime.now(UTC)
    shipped = await env.run(publish, StatusChange(order_id=order_id, sequence=1, status=OrderStatus.SHIPPED,
                                                  occurred_at=now))
    delivered = await env.run(publish, StatusChange(order_id=order_id, sequence=2, status=OrderStatus.DELIVERED,
                                                    occurred_at=now))
    assert shipped.messages == [] and sorted(delivered.messages) == ["email", "sms"]


def test_customer_statuses_are_read_from_the_environment_and_checked(monkeypatch) -> None:
    assert Settings(_env_file=None).customer_statuses == CUSTOMER_STATUSES_DEFAULT  # type: ignore[call-arg]
    monkeypatch.setenv("ORDERFLOW_CUSTOMER_STATUSES", " shipped ,DELIVERED")
    assert Settings(_env_file=None).customer_statuses == {OrderStatus.SHIPPED, OrderStatus.DELIVERED}  # type: ignore[call-arg]
    monkeypatch.setenv("ORDERFLOW_CUSTOMER_STATUSES", '["CANCELLED"]')
    assert Settings(_env_file=None).customer_statuses == {OrderStatus.CANCELLED}  # type: ignore[call-arg]
    monkeypatch.setenv("ORDERFLOW_CUSTOMER_STATUSES", "")
    assert Settings(_env_file=None).customer_statuses == frozenset()  # type: ignore[call-arg]
    for bad, says in (("SHIPED,DELIVERED", "unknown order status 'SHIPED'"), ('["SHIPPED"', "not a JSON list"),
                      ('{"a": 1}', "unknown order status"), ("SHIPPED;DELIVERED", "unknown order status 'SHIPPED;DELIVERED'")):
        monkeypatch.setenv("ORDERFLOW_CUSTOMER_STATUSES", bad)
        with pytest.raises(ValidationError, match=says) as refused:
            Settings(_env_file=None)  # type: ignore[call-arg]
        assert "ORDERFLOW_CUSTOMER_STATUSES" in str(refused.value) and (
            "use names from: RECEIVED" in str(refused.value) or "SHIPPED,DELIVERED" in str(refused.value))


def test_production_refuses_the_dev_webhook_secrets() -> None:
    production = {"profile": Profile.PRODUCTION, "carrier_signing_secret": "a-real-carrier-secret",
                  "_env_file": None}
    for channel in ("sms", "app"):
        with pytest.raises(ValidationError, match=f"ORDERFLOW_{channel.upper()}_WEBHOOK_SECRET"):
            _production(**production, **{f"{channel}_backend": "webhook"})
        _production(**production, **{f"{channel}_backend": "webhook", f"{channel}_webhook_secret": "real-one"})


def _production(**values) -> Settings:
    """A production Settings with non-dev values for the other secrets that profile checks
    (payload keys, other teams' secrets): those checks are not what these tests are about."""
    others: dict = {"payload_keys": {"k1": base64.b64encode(os.urandom(32)).decode()}, "payload_key_id": "k1"}
    if "feedback_link_secret" in Settings.model_fields:
        others["feedback_link_secret"] = "a-real-feedback-link-secret"
    return Settings(**{**others, **values})
