"""Starts the refund workflow of a case resolved with a refund (``case-refund-{case_id}``),
once: from ``POST /cases/{id}/resolve``, and from the sweeps that start the refunds whose start
failed because Temporal was not reachable (the API's startup sweep, and the escalation sweep on
every tick). The workflow id is the case's and the start rejects a duplicate, so however often
and from wherever a refund is started, it is made once."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.accountability import Actor
from domain.cases import CaseRefundInput
from logs import get_logger
from storage.cases import pending_refunds

log = get_logger(__name__)

# Only operations keys resolve cases (api/routers/cases.py): the role of a sweep's actor.
RESOLVER_ROLE = "ops"


async def start_case_refund(client: Client, task_queue: str, case_id: str, actor: Actor | None) -> bool:
    """Start the case's refund workflow; False when it had been started already (it may be
    running, or have ended: either way it is not started again)."""
    # Imported here: the workflow module imports the activities, which import this module.
    from workflows.cases import CaseRefundWorkflow, case_refund_workflow_id

    try:
        await client.start_workflow(CaseRefundWorkflow.run, CaseRefundInput(case_id=case_id, actor=actor),
                                    id=case_refund_workflow_id(case_id), task_queue=task_queue,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_pending_case_refunds(client: Client, task_queue: str,
                                     sessions: async_sessionmaker[AsyncSession]) -> int:
    """Start the refund of every case whose refund is still pending; how many were started now
    (a refund under way is among the pending ones, and its start is a no-op)."""
    async with sessions() as session:
        pending = await pending_refunds(session)
    started = 0
    for refund in pending:
        actor = Actor(key_name=refund.resolved_by, role=RESOLVER_ROLE) if refund.resolved_by else None
        if await start_case_refund(client, task_queue, refund.case_id, actor):
            log.warning("case refund started that was left pending", case_id=refund.case_id)
            started += 1
    return started
