"""End to end over HTTP, with the dev server, the worker and the API as real processes: an order
from placement to COMPLETED and found through Temporal's visibility API, a declined card, a
step out of order, and a key with the wrong role."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from domain.enums import OrderStatus
from tests.factories import order_payload, signed_carrier_event
from tests.integration.conftest import CARRIER_KEY, CHANNEL_KEY, OPS_KEY, WAREHOUSE_KEY, Stack
from workflows.order import OrderWorkflow

pytestmark = pytest.mark.integration

STATUS_TIMEOUT = 20.0


def new_order(**overrides: Any) -> dict[str, Any]:
    return order_payload(external_reference=f"IT-{uuid.uuid4().hex[:12]}", **overrides)


async def place(api: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await api.post("/orders", json=body, headers={**CHANNEL_KEY, **headers})
    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["Location"].endswith(f"/orders/{order['order_id']}")
    return order


async def wait_for_status(api: httpx.AsyncClient, order_id: str, *statuses: str) -> dict[str, Any]:
    """Poll GET /orders/{id} (as a client of the API would) until the order reaches a status."""
    deadline = asyncio.get_running_loop().time() + STATUS_TIMEOUT
    while True:
        response = await api.get(f"/orders/{order_id}", headers=CHANNEL_KEY)
        assert response.status_code == 200, response.text
        order = response.json()
        if order["status"] in statuses:
            return order
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order {order_id} stayed {order['status']}, expected one of {statuses}")
        await asyncio.sleep(0.1)


async def confirm(api: httpx.AsyncClient, order_id: str, step: str) -> None:
    response = await api.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE_KEY)
    assert response.status_code == 200, f"{step}: {response.status_code} {response.text}"


async def carrier_event(api: httpx.AsyncClient, tracking_number: str, event: str) -> None:
    response = await api.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": tracking_number, "event": event}, CARRIER_KEY))
    assert response.status_code in (200, 202), f"{event}: {response.status_code} {response.text}"


async def test_an_order_goes_from_placement_to_completed(stack: Stack, api: httpx.AsyncClient) -> None:
    body = new_order()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    order = await place(api, body, **key)
    order_id = order["order_id"]

    repeat = await api.post("/orders", json=body, headers={**CHANNEL_KEY, **key})
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["order_id"] == order_id

    await wait_for_status(api, order_id, "PICKING")
    await confirm(api, order_id, "pick")
    await wait_for_status(api, order_id, "PACKING")
    await confirm(api, order_id, "pack")
    ready = await wait_for_status(api, order_id, "READY_TO_SHIP")
    tracking_number = ready["shipments"][0]["tracking_number"]
    assert tracking_number

    await confirm(api, order_id, "handover")
    await wait_for_status(api, order_id, "SHIPPED")
    await carrier_event(api, tracking_number, "IN_TRANSIT")
    await wait_for_status(api, order_id, "IN_TRANSIT")
    await carrier_event(api, tracking_number, "DELIVERED")
    # A second after delivery the follow-up timer asks for feedback.
    await wait_for_status(api, order_id, "FEEDBACK_REQUESTED")
    feedback = await api.post(f"/orders/{order_id}/feedback", headers=CHANNEL_KEY,
                              json={"rating": 5, "comment": "Quick and well packed"})
    assert feedback.status_code in (200, 202), feedback.text
    await wait_for_status(api, order_id, "COMPLETED")

    # Operations find it in the Temporal UI by the search attribute (visibility is eventually
    # consistent, so it may take a moment to show up).
    deadline = asyncio.get_running_loop().time() + STATUS_TIMEOUT
    while True:
        found = [wf async for wf in stack.temporal.list_workflows(query='OrderStatus="COMPLETED"')
                 if order_id in wf.id]
        if found or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert len(found) == 1, "the completed order is not listed under OrderStatus=\"COMPLETED\""
    workflow = found[0]

    # Once the workflow has closed, the order is still there, from the read model.
    handle = stack.temporal.get_workflow_handle_for(OrderWorkflow.run, workflow.id)
    result = await asyncio.wait_for(handle.result(), STATUS_TIMEOUT)
    assert result.status == OrderStatus.COMPLETED
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    after = await api.get(f"/orders/{order_id}", headers=CHANNEL_KEY)
    assert after.status_code == 200, after.text
    closed = after.json()
    assert (closed["status"], closed["source"]) == ("COMPLETED", "read_model")
    assert closed["feedback"]["rating"] == 5


async def reserved(api: httpx.AsyncClient, sku: str) -> int:
    response = await api.get(f"/products/{sku}", headers=OPS_KEY)
    assert response.status_code == 200, response.text
    return int(response.json()["stock"]["reserved"])


async def test_a_declined_card_ends_payment_failed_with_no_stock_held(api: httpx.AsyncClient) -> None:
    lines = [{"sku": "LAMP-200", "quantity": 1}, {"sku": "TEA-100", "quantity": 3}]
    before = {line["sku"]: await reserved(api, line["sku"]) for line in lines}

    order = await place(api, new_order(lines=lines, payment={"method": "card", "token": "tok_chargeDeclined"}))
    await wait_for_status(api, order["order_id"], "PAYMENT_FAILED")

    assert {sku: await reserved(api, sku) for sku in before} == before


async def test_pack_before_pick_answers_409_with_the_current_status(api: httpx.AsyncClient) -> None:
    order = await place(api, new_order())
    order_id = order["order_id"]

    response = await api.post(f"/orders/{order_id}/pack", headers=WAREHOUSE_KEY)

    assert response.status_code == 409, response.text
    body = response.json()
    assert body["detail"]
    assert body["status"] in ("RECEIVED", "PAYMENT_AUTHORIZED", "RESERVED", "PICKING")
    cancel = await api.post(f"/orders/{order_id}/cancel", headers=CHANNEL_KEY, json={"reason": "test over"})
    assert cancel.status_code == 200, cancel.text
    await wait_for_status(api, order_id, "CANCELLED")


async def test_a_warehouse_key_cannot_place_an_order(api: httpx.AsyncClient) -> None:
    response = await api.post("/orders", json=new_order(), headers=WAREHOUSE_KEY)

    assert response.status_code == 403, response.text
    assert response.json()["detail"]
