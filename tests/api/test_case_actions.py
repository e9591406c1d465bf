"""Resolving a case with an action: a reshipment (a new linked order at no charge that runs the
normal pipeline) or a refund (through the provider, with a credit note, never more than is
left); each happens once however often the request is repeated; bad input writes nothing."""

import asyncio
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from temporalio.service import RPCError, RPCStatusCode

import temporal_client
from activities.adapters.sandbox_outbound import RecordOnlyOpsNotifier
from activities.alerts import AlertActivities
from api.main import create_app
from domain.models import EscalationSweep
from storage.models import Order, Payment, Refund, SandboxPaymentIntent, ServiceCase, utcnow
from tests.api.conftest import OPS, WAREHOUSE, Api
from tests.factories import place_order
from tests.returns_helpers import delivered_order
from worker import escalation_rules
from workflows.escalations import EscalationSweepWorkflow


async def _case(api: Api, order_id: str | None, kind: str = "damaged") -> str:
    body = {"kind": kind, "subject": "mug arrived broken", **({"order_id": order_id} if order_id else {})}
    response = await api.http.post("/cases", headers=OPS, json=body)
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


async def _count(api: Api, model) -> int:
    async with api.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_reshipment_is_a_new_linked_order_at_no_charge_made_once(api: Api) -> None:
    original = await delivered_order(api.sessions, external_reference="WEB-RESHIP")
    case_id = await _case(api, original)
    body = {"resolution": "new mug sent", "action": {"kind": "reshipment", "lines": [{"sku": "MUG-001", "quantity": 1}]}}
    resolved = await api.http.post(f"/cases/{case_id}/resolve", headers=OPS, json=body)
    assert resolved.status_code == 200, resolved.text
    case = resolved.json()
    assert case["status"] == "resolved" and case["action"]["kind"] == "reshipment"
    new_id = case["action"]["reshipment_order_id"]
    assert new_id and new_id != original

    # A retried request, also concurrently: 409, and no second order.
    again = await asyncio.gather(*(api.http.post(f"/cases/{case_id}/resolve", headers=OPS, json=body)
                                   for _ in range(3)))
    assert [r.status_code for r in again] == [409, 409, 409]
    async with api.sessions() as session:
        reshipments = (await session.execute(select(Order).where(Order.case_id == case_id))).unique().scalars().all()
        source = await session.get(Order, original)
    assert [o.id for o in reshipments] == [new_id]
    new = reshipments[0]
    assert (new.reshipment_of, new.customer_id, new.ship_street, new.ship_postcode, new.channel) == (
        original, source.customer_id, source.ship_street, source.ship_postcode, source.channel)
    assert new.payment_method == "no_charge" and new.total_amount == 0
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in new.lines] == [("MUG-001", 1, Decimal("0.00"))]

    # Its workflow runs the normal pipeline, and nothing is asked of the payment provider.
    picking = await api.wait_for_status(new_id, "PICKING")
    assert picking["payment"]["method"] == "no_charge" and picking["payment"]["amount"] == "0.00"
    assert (await api.http.post(f"/orders/{new_id}/pick", headers=WAREHOUSE)).status_code == 200
    async with api.sessions() as session:
        intents = (await session.execute(select(SandboxPaymentIntent.reference))).scalars().all()
        payment = (await session.execute(select(Payment).where(Payment.order_id == new_id))).scalar_one()
    assert new_id not in intents
    assert (payment.status, payment.captured) == ("captured", Decimal("0.00"))


async def test_a_refund_goes_through_the_provider_once_with_a_credit_note(api: Api) -> None:
    order_id = await delivered_order(api.sessions, external_reference="WEB-CASE-REFUND")
    case_id = await _case(api, order_id)
    body = {"resolution": "refunded the broken mug", "action": {"kind": "refund", "amount": "12.50"}}
    resolved = await api.http.post(f"/cases/{case_id}/resolve", headers=OPS, json=body)
    assert resolved.status_code == 200, resolved.text
    action = resolved.json()["action"]
    assert action["kind"] == "refund" and action["amount"] == "12.50"
    assert action["status"] == "done" and action["credit_note_number"] is not None
    assert any("EUR 12.50 refunded" in n["text"] for n in resolved.json()["notes"])

    again = await api.http.post(f"/cases/{case_id}/resolve", headers=OPS, json=body)
    assert again.status_code == 409
    # The workflow id makes a second start a no-op as well.
    await api.temporal.get_workflow_handle(f"case-refund-{case_id}").result()
    async with api.sessions() as session:
        refunds = (await session.execute(select(Refund))).scalars().all()
        payment = (await session.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one()
        intent = await session.get(SandboxPaymentIntent, payment.id)
    assert [(r.amount, r.case_id, r.return_id) for r in refunds] == [(Decimal("12.50"), case_id, None)]
    assert payment.refunded == intent.refunded == Decimal("12.50")
    assert refunds[0].actor == "ops dev key"

    # What is left: the second case may refund at most captured less refunded, named.
    second = await _case(api, order_id, kind="complaint")
    left = payment.captured - payment.refunded
    too_much = await api.http.post(f"/cases/{second}/resolve", headers=OPS, json={
        "resolution": "x", "action": {"kind": "refund", "amount": str(left + Decimal("0.01"))}})
    assert too_much.status_code == 422, too_much.text
    assert f"EUR {left}" in too_much.json()["message"]
    assert (await api.http.get(f"/cases/{second}", headers=OPS)).json()["status"] == "open"  # nothing written


async def test_bad_actions_are_refused_clearly_and_write_nothing(api: Api) -> None:
    order_id = await place_order(api.sessions, external_reference="WEB-CASE-BAD")
    case_id = await _case(api, order_id)
    no_order = await _case(api, None, kind="other")
    refusals = [
        (no_order, {"kind": "refund", "amount": "1.00"}, 409, "about no order"),
        (no_order, {"kind": "reshipment", "lines": [{"sku": "MUG-001", "quantity": 1}]}, 409, "about no order"),
        (case_id, {"kind": "reshipment", "lines": [{"sku": "NOPE-1", "quantity": 1}]}, 422, "not on order"),
        (case_id, {"kind": "reshipment", "lines": [{"sku": "MUG-001", "quantity": 3}]}, 422, "had 2"),
        (case_id, {"kind": "reshipment", "lines": [{"sku": "MUG-001", "quantity": 1},
                                                   {"sku": "MUG-001", "quantity": 1}]}, 422, "named twice"),
        (case_id, {"kind": "reshipment", "lines": []}, 422, "lines"),
        (case_id, {"kind": "reshipment", "lines": [{"sku": "MUG-001", "quantity": 0}]}, 422, "quantity"),
        # the order was never paid: nothing can be refunded
        (case_id, {"kind": "refund", "amount": "5.00"}, 422, "EUR 0.00"),
        (case_id, {"kind": "refund", "amount": "-1"}, 422, "amount"),
        (case_id, {"kind": "refund", "amount": "1.001"}, 422, "amount"),
        (case_id, {"kind": "refund"}, 422, "amount"),
        (case_id, {"kind": "voucher"}, 422, "action"),
    ]
    for target, action, status, words in refusals:
        response = await api.http.post(f"/cases/{target}/resolve", headers=OPS,
                                       json={"resolution": "tried", "action": action})
        assert response.status_code == status, (action, response.text)
        text = response.json().get("message") or response.json()["detail"]
        assert words in text, (action, text)
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1
        statuses = (await session.execute(select(ServiceCase.status, ServiceCase.action_kind))).all()
    assert sorted(statuses) == [("open", None), ("open", None)]
    assert await _count(api, Refund) == 0


async def _resolve_while_temporal_is_down(api: Api, order_id: str) -> str:
    """A case resolved with a refund through an API whose Temporal is unreachable: the answer
    is 200 with the refund pending, and no workflow was started."""
    case_id = await _case(api, order_id)
    down = await temporal_client.connect(api.settings, "127.0.0.1:1", lazy=True)
    app = create_app(api.settings, temporal=down, configure_logs=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test") as http:
        app.state.startup_sweep.cancel()
        resolved = await http.post(f"/cases/{case_id}/resolve", headers=OPS, json={
            "resolution": "refunded the broken mug", "action": {"kind": "refund", "amount": "12.50"}})
    assert resolved.status_code == 200, resolved.text
    action = resolved.json()["action"]
    assert (action["status"], action["credit_note_number"]) == ("pending", None)
    try:
        await api.temporal.get_workflow_handle(f"case-refund-{case_id}").describe()
        raise AssertionError(f"the refund of {case_id} was started while Temporal was down")
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
    return case_id


async def _refunded(api: Api, case_id: str) -> dict:
    await api.temporal.get_workflow_handle(f"case-refund-{case_id}").result()
    case = (await api.http.get(f"/cases/{case_id}", headers=OPS)).json()
    assert case["action"]["status"] == "done" and case["action"]["credit_note_number"] is not None, case
    return case


async def _startup_sweep(api: Api) -> int:
    app = create_app(api.settings, temporal=api.temporal, configure_logs=False)
    async with app.router.lifespan_context(app):
        return await app.state.startup_sweep


async def test_a_refund_left_pending_while_temporal_was_down_is_started_by_the_sweeps_once(api: Api) -> None:
    first = await _resolve_while_temporal_is_down(
        api, await delivered_order(api.sessions, external_reference="WEB-CASE-DOWN-1"))
    second = await _resolve_while_temporal_is_down(
        api, await delivered_order(api.sessions, external_reference="WEB-CASE-DOWN-2"))
    assert await _count(api, Refund) == 0

    # The startup sweep of the next API start starts both; each is made with its credit note.
    assert await _startup_sweep(api) == 2
    for case_id in (first, second):
        await _refunded(api, case_id)

    # The escalation sweep (the scheduled workflow, on the worker's task queue) finds a third
    # one; a refund that was started, under way or made, is never started again.
    third = await _resolve_while_temporal_is_down(
        api, await delivered_order(api.sessions, external_reference="WEB-CASE-DOWN-3"))
    swept = await api.temporal.execute_workflow(EscalationSweepWorkflow.run, id=f"sweep-{uuid.uuid4().hex[:8]}",
                                                task_queue=api.settings.task_queue)
    assert swept.refunds_started == 1
    case = await _refunded(api, third)
    assert case["notes"][-1]["text"].startswith("EUR 12.50 refunded; credit note")
    sweep = AlertActivities(api.sessions, RecordOnlyOpsNotifier(), escalation_rules(api.settings), api.temporal)
    again = await sweep.run_escalation_sweep(EscalationSweep(now=utcnow(), task_queue=api.settings.task_queue))
    assert again.refunds_started == 0
    assert await _startup_sweep(api) == 0

    async with api.sessions() as session:
        refunds = (await session.execute(select(Refund).order_by(Refund.credit_note_number))).scalars().all()
    assert sorted((r.case_id, r.amount) for r in refunds) == sorted(
        (case_id, Decimal("12.50")) for case_id in (first, second, third))
    assert len({r.credit_note_number for r in refunds}) == 3
    # The refund names who resolved the case, as when the resolve started it itself.
    assert {r.actor for r in refunds} == {"ops dev key"}
