"""What must hold after any crash, read from the records: each order at the final status its
scenario expects, payments authorized and captured (or voided) once, one stock movement per
change with the SKU's stock adding up, each status change once in the read model, the PIM and
the customer messages, and every history replaying."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable

import httpx
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

import temporal_client

from scripts.bench_driver import BENCH_SKU, bounded, order_body
from scripts.stack import CHANNEL_KEY, OPS_KEY, Stack
from storage.db import create_engine, create_session_factory
from storage.models import (
    CustomerMessage, IdempotencyRecord, Order, OrderEvent, PimUpdate, SandboxPaymentIntent, StockLevel, StockMovement,
)
from workflows.order import OrderWorkflow
from workflows.replenishment import ReplenishmentWorkflow
from workflows.returns import ReturnWorkflow

COMPLETED, CANCELLED, PAYMENT_FAILED = "COMPLETED", "CANCELLED", "PAYMENT_FAILED"


async def on_hand(stack: Stack) -> int:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        return int((await http.get(f"/stock/{BENCH_SKU}", headers=OPS_KEY)).json()["on_hand"])


async def place_orders(stack: Stack, references: Iterable[str], token: str = "tok_visa") -> list[str]:
    """POST /orders for each reference (10 at a time, retrying while the API answers 503)."""
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        async def place(reference: str) -> str:
            deadline = time.monotonic() + 60
            while True:
                response = await http.post("/orders", json=order_body(reference, token=token), headers=CHANNEL_KEY)
                if response.status_code in (200, 201):
                    return str(response.json()["order_id"])
                assert response.status_code == 503 and time.monotonic() < deadline, response.text
                await asyncio.sleep(1)

        return await bounded((place(r) for r in references), 10)


async def check(stack: Stack, expected: dict[str, str], on_hand_before: int) -> None:
    order_ids = list(expected)

    for oid in order_ids:
        handle = stack.temporal.get_workflow_handle_for(OrderWorkflow.run, f"order-{oid}")
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED, oid
        assert (await handle.result()).status == expected[oid], oid

    sessions = create_session_factory(create_engine(stack.database_url))
    async with sessions() as s:
        statuses = dict((await s.execute(select(Order.id, Order.status).where(Order.id.in_(order_ids)))).all())
        assert statuses == expected

        # Payments: one provider intent per order, captured exactly once, voided, or declined.
        intents = (await s.execute(select(SandboxPaymentIntent).where(
            SandboxPaymentIntent.reference.in_(order_ids)))).scalars().all()
        assert Counter(i.reference for i in intents) == Counter({oid: 1 for oid in order_ids})
        for intent in intents:
            match expected[intent.reference]:
                case "COMPLETED":
                    assert intent.captured == intent.authorized > 0, intent.reference
                case "CANCELLED":
                    assert intent.captured == 0 and intent.authorized > 0, intent.reference
                case "PAYMENT_FAILED":
                    assert intent.captured == intent.authorized == 0, intent.reference
        # Keys are primary keys, so "once" is the database's guarantee; each must be there.
        keys = set((await s.execute(select(IdempotencyRecord.key))).scalars().all())
        for oid, status in expected.items():
            assert f"psp:authorize:order-{oid}:authorize" in keys, oid
            assert (f"psp:capture:order-{oid}:capture" in keys) == (status == COMPLETED), oid
            assert (f"psp:void:order-{oid}:cancel-payment" in keys) == (status == CANCELLED), oid

        # Stock: one movement per change (none for a declined card), and the ledger adds up.
        movements = Counter((await s.execute(select(StockMovement.order_id, StockMovement.reason).where(
            StockMovement.order_id.in_(order_ids)))).all())
        wanted_movements: Counter[tuple[str, str]] = Counter()
        for oid, status in expected.items():
            if status != PAYMENT_FAILED:
                wanted_movements[(oid, "reserve")] = 1
                wanted_movements[(oid, "ship" if status == COMPLETED else "release")] = 1
        assert movements == wanted_movements
        level = await s.get(StockLevel, BENCH_SKU)
        shipped = sum(1 for v in expected.values() if v == COMPLETED)
        assert level is not None
        assert (level.on_hand, level.reserved) == (on_hand_before - shipped, 0)

        # Read model and PIM: each status change once, in sequence; customer messages once.
        sequences = dict((await s.execute(select(Order.id, Order.status_sequence).where(Order.id.in_(order_ids)))).all())
        for model in (OrderEvent, PimUpdate):
            rows = Counter((await s.execute(select(model.order_id, model.sequence).where(
                model.order_id.in_(order_ids)))).all())
            assert rows == Counter({(oid, n): 1 for oid in order_ids for n in range(1, sequences[oid] + 1)}), model
        duplicates = (await s.execute(
            select(CustomerMessage.order_id, CustomerMessage.sequence, CustomerMessage.channel)
            .where(CustomerMessage.order_id.in_(order_ids))
            .group_by(CustomerMessage.order_id, CustomerMessage.sequence, CustomerMessage.channel)
            .having(func.count() > 1))).all()
        assert duplicates == []
        assert await s.scalar(select(func.count()).select_from(CustomerMessage).where(
            CustomerMessage.order_id.in_(order_ids))) > 0

    # No history fails the replayer.
    client = await temporal_client.connect(stack.settings, stack.temporal_address)

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for oid in order_ids:
            yield await client.get_workflow_handle(f"order-{oid}").fetch_history()

    replayer = Replayer(workflows=[OrderWorkflow, ReplenishmentWorkflow, ReturnWorkflow],
                        data_converter=temporal_client.data_converter(stack.settings))
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    assert {run_id: str(err) for run_id, err in results.replay_failures.items()} == {}
