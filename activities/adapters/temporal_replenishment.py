"""Tells a SKU's replenishment workflow that its demand changed, starting the workflow if it
is not running (signal-with-start, so the first demand never races the start)."""

from temporalio.client import Client

from domain.stock import DemandSignal, ReplenishmentInput


def replenishment_workflow_id(sku: str) -> str:
    return f"replenish-{sku}"


class TemporalReplenishment:
    def __init__(self, client: Client, task_queue: str, confirm_delay_seconds: float) -> None:
        self._client = client
        self._task_queue = task_queue
        self._confirm_delay_seconds = confirm_delay_seconds

    async def demand_changed(self, sku: str, reason: str, order_id: str | None) -> None:
        from workflows.replenishment import ReplenishmentWorkflow

        await self._client.start_workflow(
            ReplenishmentWorkflow.run, ReplenishmentInput(sku=sku, confirm_delay_seconds=self._confirm_delay_seconds), id=replenishment_workflow_id(sku),
            task_queue=self._task_queue, start_signal="demand_changed",
            start_signal_args=[DemandSignal(reason=reason, order_id=order_id)])
