"""Alerts over HTTP: an escalation shows at GET /alerts and on the order (needs_attention, and
the NeedsAttention search attribute of its running workflow), and an ops key resolves it;
every bad request is a clear 4xx."""

import asyncio
from datetime import timedelta

from temporalio.client import WorkflowHandle

from sqlalchemy import select

from activities.adapters.sandbox_outbound import RecordOnlyOpsNotifier
from activities.alerts import AlertActivities
from domain.models import EscalationSweep
from storage.models import CustomerMessage, utcnow
from tests.api.conftest import CARRIER, OPS, WAREHOUSE, Api
from tests.factories import signed_carrier_event
from worker import escalation_rules
from workflows import search_attributes as sa


async def _needs_attention_attribute(handle: WorkflowHandle, want: bool) -> None:
    for _ in range(200):
        if (await handle.describe()).typed_search_attributes.get(sa.NEEDS_ATTENTION) is want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"NeedsAttention never became {want}")


async def test_a_late_pick_is_listed_shown_on_the_order_and_resolved_by_ops(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-ALERT-1")
    await api.wait_for_status(order_id, "PICKING")
    sweep = AlertActivities(api.sessions, RecordOnlyOpsNotifier(), escalation_rules(api.settings), api.temporal)
    # The sweep as the schedule would run it three hours on (the pick SLA is two), once the
    # read model it reads has the order at PICKING (published as the order starts to wait).
    for _ in range(200):
        result = await sweep.run_escalation_sweep(EscalationSweep(now=utcnow() + timedelta(hours=3)))
        if result.raised:
            break
        await asyncio.sleep(0.05)
    assert result.raised == 1

    listed = await api.http.get("/alerts", headers=OPS)
    assert listed.status_code == 200, listed.text
    [alert] = listed.json()["alerts"]
    assert (alert["kind"], alert["order_id"], alert["resolved_at"]) == ("late_pick", order_id, None)
    assert listed.json()["total"] == 1
    assert (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["needs_attention"] is True
    filtered = await api.http.get("/orders", headers=OPS, params={"needs_attention": "true"})
    assert [o["order_id"] for o in filtered.json()["items"]] == [order_id]
    handle = api.temporal.get_workflow_handle(f"order-{order_id}")
    await _needs_attention_attribute(handle, True)

    resolved = await api.http.post(f"/alerts/{alert['alert_id']}/resolve", headers=OPS,
                                   json={"resolution": "called Jan in the warehouse, picking now"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_by"] == "ops dev key"
    assert (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["needs_attention"] is False
    await _needs_attention_attribute(handle, False)
    timeline = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["timeline"]
    assert any("resolved by ops dev key" in (e["message"] or "") for e in timeline)

    # Resolving again changes nothing and says who resolved it first.
    again = await api.http.post(f"/alerts/{alert['alert_id']}/resolve", headers=OPS, json={"resolution": "me too"})
    assert again.status_code == 200
    assert again.json()["resolution"] == "called Jan in the warehouse, picking now"
    assert (await api.http.get("/alerts", headers=OPS)).json() == {"alerts": [], "total": 0}
    assert [a["alert_id"] for a in (await api.http.get(
        "/alerts", headers=OPS, params={"state": "resolved", "kind": "late_pick", "order_id": order_id})).json()[
        "alerts"]] == [alert["alert_id"]]


async def test_bad_alert_requests_are_clear_4xx(api: Api) -> None:
    for key in (WAREHOUSE, CARRIER):
        assert (await api.http.get("/alerts", headers=key)).status_code == 403
    assert (await api.http.get("/alerts")).status_code == 401
    for params in ({"state": "closed"}, {"kind": "fire"}, {"limit": "0"}, {"offset": "-1"}, {"order_id": "x; drop"}):
        response = await api.http.get("/alerts", headers=OPS, params=params)
        assert response.status_code == 422, (params, response.text)
    missing = await api.http.get("/alerts/999999", headers=OPS)
    assert missing.status_code == 404 and "GET /alerts" in missing.json()["detail"]
    assert (await api.http.get("/alerts/not-a-number", headers=OPS)).status_code == 422
    assert (await api.http.post("/alerts/999999/resolve", headers=OPS, json={"resolution": "x"})).status_code == 404
    for body in ({}, {"resolution": ""}, {"resolution": "x" * 501}):
        assert (await api.http.post("/alerts/1/resolve", headers=OPS, json=body)).status_code == 422


async def test_a_delivery_exception_raises_an_alert_that_delivery_resolves(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-ALERT-2")
    await api.wait_for_status(order_id, "PICKING")
    for step, key in (("pick", WAREHOUSE), ("pack", WAREHOUSE)):
        assert (await api.http.post(f"/orders/{order_id}/{step}", headers=key)).status_code == 200
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert (await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)).status_code == 200
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    tracking_number = shipped["shipments"][0]["tracking_number"]

    async def carrier(event: str, description: str | None = None) -> None:
        response = await api.http.post("/carrier/events", **signed_carrier_event(
            {"tracking_number": tracking_number, "event": event, "description": description}, CARRIER))
        assert response.status_code == 200, response.text

    await carrier("EXCEPTION", "address not found")
    for _ in range(200):
        alerts = (await api.http.get("/alerts", headers=OPS, params={"order_id": order_id})).json()["alerts"]
        if alerts:
            break
        await asyncio.sleep(0.05)
    [alert] = alerts
    assert alert["kind"] == "delivery_exception" and "address not found" in alert["message"]
    assert tracking_number in alert["message"]
    assert (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["needs_attention"] is True
    # The customer is told too (whatever the customer-statuses setting), with the carrier's words.
    async with api.sessions() as session:
        bodies = (await session.execute(select(CustomerMessage.body).where(
            CustomerMessage.order_id == order_id, CustomerMessage.channel == "email")
            .order_by(CustomerMessage.sequence))).scalars().all()
    assert "probleem met de bezorging" in bodies[-1] and "address not found" in bodies[-1]
    shipped_with = shipped["shipments"][0]["carrier"]
    if shipped_with in ("postnl", "dhl", "dpd"):  # carriers with a public tracking page
        assert any(f"https://" in b and tracking_number in b for b in bodies)

    await carrier("DELIVERED")
    await api.wait_for_status(order_id, "DELIVERED")
    sweep = AlertActivities(api.sessions, RecordOnlyOpsNotifier(), escalation_rules(api.settings), api.temporal)
    assert (await sweep.run_escalation_sweep(EscalationSweep(now=utcnow()))).resolved == 1
    assert (await api.http.get(f"/alerts/{alert['alert_id']}", headers=OPS)).json()["resolution"] == (
        "resolved itself: order DELIVERED")
    assert (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["needs_attention"] is False
