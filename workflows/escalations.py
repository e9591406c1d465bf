"""The escalation sweep: one short workflow run per tick of the ``orderflow-escalations``
Temporal Schedule (worker.py creates it). Each run applies the escalation rules of DESIGN.md
to the read model at the workflow's own time: late picks, tracking silence, unanswered cases
and late suppliers become alerts, and alerts whose cause is gone resolve themselves. It also
starts, on its own task queue, the case refunds left pending because Temporal was unreachable
when their case was resolved.

A schedule, not a timer in every order: an order that goes well pays not one history event
for the chance that it might not, and a changed SLA applies to the orders already waiting.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.alerts import AlertActivities
    from domain.models import EscalationSweep, EscalationSweepResult
    from workflows.activity_options import ACTIVITY_TIMEOUT, RETRY

SCHEDULE_ID = "orderflow-escalations"


@workflow.defn
class EscalationSweepWorkflow:
    @workflow.run
    async def run(self) -> EscalationSweepResult:
        return await workflow.execute_activity_method(
            AlertActivities.run_escalation_sweep,
            EscalationSweep(now=workflow.now(), task_queue=workflow.info().task_queue),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
