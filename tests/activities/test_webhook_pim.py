"""The PIM webhook: signed JSON to a real HTTP server started by the test; a 503 is retried
(the activity raises), and a retried activity after success sends nothing twice."""

import asyncio
import socket
from datetime import UTC, datetime

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_outbound import SandboxNotifier
from activities.adapters.webhook_pim import WebhookPim
from activities.order_status import OrderStatusActivities
from domain.enums import NotificationChannel, OrderStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import StatusChange
from domain.signing import verify
from tests.factories import place_order, seed

env = ActivityEnvironment()
SECRET = "pim-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def pim_server():
    received: list[tuple[dict, dict]] = []
    failures = {"left": 1}  # the first request fails, as a PIM under load does

    async def order_status(request: Request) -> JSONResponse:
        body = await request.body()
        if not verify(SECRET, body, request.headers.get("X-Signature", "")):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        if failures["left"]:
            failures["left"] -= 1
            return JSONResponse({"detail": "busy"}, status_code=503)
        received.append((dict(request.headers), await request.json()))
        return JSONResponse({"ok": True})

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/order-status", order_status, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield received, f"http://127.0.0.1:{port}/order-status"
    server.should_exit = True
    await task


async def test_status_reaches_the_pim_signed_once_after_a_retry(sessions, pim_server) -> None:
    received, url = pim_server
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-PIM-1")
    acts = OrderStatusActivities(sessions, WebhookPim(sessions, url=url, secret=SECRET),
                                 {NotificationChannel.EMAIL: SandboxNotifier(sessions)}, CUSTOMER_STATUSES_DEFAULT)
    change = StatusChange(order_id=order_id, sequence=4, status=OrderStatus.PICKING, occurred_at=datetime.now(UTC),
                          reason="released to the warehouse")
    with pytest.raises(Exception, match="503"):
        await env.run(acts.publish_status_change, change)  # Temporal would retry this
    for _ in range(2):  # the retry, and a retry after success
        await env.run(acts.publish_status_change, change)
    assert len(received) == 1
    headers, payload = received[0]
    assert headers["idempotency-key"] == f"{order_id}:4"
    assert payload == {"order_id": order_id, "sequence": 4, "status": "PICKING", "skus": ["MUG-001", "BOOK-042"]}


async def test_a_wrong_secret_is_refused_by_the_pim_and_retried(sessions, pim_server) -> None:
    received, url = pim_server
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-PIM-2")
    pim = WebhookPim(sessions, url=url, secret="wrong")
    acts = OrderStatusActivities(sessions, pim, {}, CUSTOMER_STATUSES_DEFAULT)
    with pytest.raises(Exception, match="401"):
        await env.run(acts.publish_status_change, StatusChange(
            order_id=order_id, sequence=1, status=OrderStatus.PICKING, occurred_at=datetime.now(UTC), reason="x"))
    assert received == []
