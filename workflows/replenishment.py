"""Replenishment: one long-lived workflow per SKU that buys from the supplier the moment demand
appears (a pre-order, stock below the reorder point), books goods receipts, hands received
stock to waiting pre-orders in order of arrival, and tells them when the supplier is late.

Started with signal-with-start (``demand_changed``); continues as new when Temporal suggests
it, once every handler has finished. The purchase orders themselves live in the database:
the workflow keeps only the deadlines it waits for.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, timezone
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_options import ACTIVITY_TIMEOUT, RETRY
    from activities.inventory import InventoryActivities
    from activities.purchasing import PurchasingActivities
    from domain.enums import ErrorType
    from domain.stock import (
        ConfirmRequest,
        DelayNotice,
        DemandSignal,
        GoodsReceipt,
        PlanPurchaseRequest,
        ReceiptResult,
        ReplenishmentInput,
        StockAllocated,
        StockDelayed,
    )


# Receipts before this change told the served orders one after the other.
SIGNALS_TOGETHER_PATCH = "signals-together"


def _end_of(day: Any) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=timezone.utc)


@workflow.defn
class ReplenishmentWorkflow:
    def __init__(self) -> None:
        self._sku = ""
        self._demand = False
        self._plans = 0
        self._awaiting_confirmation: dict[str, datetime] = {}
        self._expected: dict[str, datetime] = {}
        self._confirm_delay = timedelta(seconds=30)

    @workflow.run
    async def run(self, input: ReplenishmentInput) -> None:
        self._sku = input.sku
        self._awaiting_confirmation = dict(input.awaiting_confirmation)
        self._expected = dict(input.expected)
        self._confirm_delay = timedelta(seconds=input.confirm_delay_seconds)
        while True:
            await self._wait_for_work()
            await self._confirm_due()
            await self._tell_about_late_deliveries()
            if self._demand:
                self._demand = False
                await self._plan_purchase()
            if workflow.info().is_continue_as_new_suggested() and not self._demand:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(ReplenishmentInput(
                    sku=self._sku, awaiting_confirmation=self._awaiting_confirmation, expected=self._expected,
                    confirm_delay_seconds=input.confirm_delay_seconds))

    async def _wait_for_work(self) -> None:
        deadlines = [*self._awaiting_confirmation.values(), *self._expected.values()]
        timeout = None
        if deadlines:
            timeout = max(min(deadlines) - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(lambda: self._demand, timeout=timeout)
        except TimeoutError:
            pass

    async def _plan_purchase(self) -> None:
        self._plans += 1
        key = f"{workflow.info().workflow_id}:{workflow.info().run_id}:plan:{self._plans}"
        plan = await self._activity(PurchasingActivities.plan_purchase, PlanPurchaseRequest(sku=self._sku, idempotency_key=key))
        if plan.action == "placed" and plan.purchase_order is not None:
            self._awaiting_confirmation[plan.purchase_order.id] = workflow.now() + self._confirm_delay

    async def _confirm_due(self) -> None:
        now = workflow.now()
        for po_id, due in sorted(self._awaiting_confirmation.items()):
            if due > now:
                continue
            po = await self._activity(PurchasingActivities.confirm_purchase_order,
                                      ConfirmRequest(purchase_order_id=po_id, idempotency_key=f"confirm:{po_id}",
                                                     today=workflow.now().date()))
            del self._awaiting_confirmation[po_id]
            if po.expected_date is not None and po.received < po.quantity:
                self._expected[po_id] = _end_of(po.expected_date)

    async def _tell_about_late_deliveries(self) -> None:
        now = workflow.now()
        for po_id, due in sorted(self._expected.items()):
            if due > now:
                continue
            delay = await self._activity(PurchasingActivities.record_supplier_delay,
                                         DelayNotice(purchase_order_id=po_id, idempotency_key=f"delay:{po_id}:{due.isoformat()}",
                                                     today=workflow.now().date()))
            self._expected[po_id] = _end_of(delay.new_expected_date)
            for order_id in delay.order_ids:
                await self._tell_order(order_id, "stock_delayed",
                                       StockDelayed(sku=self._sku, expected_date=delay.new_expected_date))

    async def _activity(self, fn: Callable[..., Awaitable[Any]], arg: Any) -> Any:
        return await workflow.execute_activity_method(fn, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)

    @workflow.signal(name="demand_changed")
    def demand_changed(self, signal: DemandSignal) -> None:
        # The quantities are read from the database when planning, so a repeated or late
        # signal only causes one more (harmless) look.
        self._demand = True

    @workflow.update(name="receive_goods")
    async def receive_goods(self, receipt: GoodsReceipt) -> ReceiptResult:
        result = await self._activity(InventoryActivities.book_goods_receipt, receipt)
        if result.purchase_order.received >= result.purchase_order.quantity:
            self._expected.pop(result.purchase_order.id, None)
            self._awaiting_confirmation.pop(result.purchase_order.id, None)
        # The order is told the whole claim, which may have filled over several receipts.
        served = [self._tell_order(a.order_id, "stock_allocated", StockAllocated(
            sku=a.sku, quantity=a.claim_allocated or a.quantity, purchase_order_id=result.purchase_order.id))
            for a in result.allocations if a.complete]
        if workflow.patched(SIGNALS_TOGETHER_PATCH):
            # Every served pre-order at once: a receipt that serves hundreds answers in one
            # round trip to the server, not hundreds in a row.
            await asyncio.gather(*served)
        else:
            for tell in served:
                await tell
        return result

    async def _tell_order(self, order_id: str, signal: str, arg: Any) -> None:
        try:
            await workflow.get_external_workflow_handle(f"order-{order_id}").signal(signal, arg)
        except Exception as err:  # the order closed meanwhile (cancelled): its stock was released
            workflow.logger.warning("could not signal order %s (%s): %s", order_id, signal, err)
