"""Alerts: raising them (from the escalation sweep, or from a workflow that sees a problem
itself), telling the operations channel once per alert, and keeping each order's workflow
informed so its ``NeedsAttention`` search attribute follows its open alerts. The escalation
sweep also starts the case refunds whose start failed while Temporal was unreachable."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.adapters.temporal_case_refunds import start_pending_case_refunds
from activities.metrics import count_alert
from activities.ports import AlertNotice, OpsNotifier
from domain.enums import AlertKind
from domain.models import AlertRaised, AttentionChange, EscalationSweep, EscalationSweepResult, RaiseAlertRequest
from logs import get_logger
from storage import alerts as store
from storage.db import transaction
from storage.models import Alert, utcnow

log = get_logger(__name__)

# The order workflow's signal for alert changes made outside it (workflows/order.py).
ATTENTION_SIGNAL = "attention_changed"


async def signal_attention(client: Client | None, order_id: str, open_alerts: int, message: str) -> None:
    """Tell the order's workflow how many alerts are open. A closed (or never started)
    workflow has no search attributes left to change: the read model is the record then."""
    if client is None:
        return
    try:
        await client.get_workflow_handle(f"order-{order_id}").signal(
            ATTENTION_SIGNAL, AttentionChange(open_alerts=open_alerts, message=message[:300]))
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


class AlertActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], ops: OpsNotifier, rules: store.EscalationRules,
                 client: Client | None = None) -> None:
        self._sessions = sessions
        self._ops = ops
        self._rules = rules
        self._client = client

    @activity.defn
    async def raise_alert(self, request: RaiseAlertRequest) -> AlertRaised:
        """Raise one alert (once per dedupe key) and tell operations. The caller (the order's
        own workflow) keeps its attention flag itself, so no signal goes back to it."""
        spec = store.AlertSpec(kind=request.kind, message=request.message, dedupe_key=request.dedupe_key,
                               order_id=request.order_id, reference=request.reference)
        async with transaction(self._sessions) as session:
            alert = await store.raise_alert(session, spec, request.raised_at)
            open_alerts = await store.open_alert_count(session, request.order_id) if request.order_id else 0
        if alert is not None:
            count_alert(request.kind)
            log.warning("alert raised", kind=request.kind, order_id=request.order_id, alert_id=alert.id)
        await self._notify_pending()
        return AlertRaised(alert_id=alert.id if alert else None, open_alerts=open_alerts)

    @activity.defn
    async def run_escalation_sweep(self, sweep: EscalationSweep) -> EscalationSweepResult:
        """Raise what is due, resolve what resolved itself, tell operations, tell each order
        whose open alerts changed, and start the case refunds left pending. Every part is
        idempotent: a retried or overlapping sweep raises, resolves and starts nothing twice."""
        async with transaction(self._sessions) as session:
            raised = [a for a in [await store.raise_alert(session, spec, sweep.now)
                                  for spec in await store.due_escalations(session, sweep.now, self._rules)] if a]
            resolved: list[Alert] = []
            for alert, reason in await store.resolved_causes(session):
                row, changed = await store.resolve_alert(session, alert.id, by="escalation sweep",
                                                         resolution=f"resolved itself: {reason}", now=sweep.now)
                if changed:
                    resolved.append(row)
            touched = {a.order_id: a for a in [*resolved, *raised] if a.order_id}
            counts = {order_id: await store.open_alert_count(session, order_id) for order_id in touched}
        for alert in raised:
            count_alert(alert.kind)
            log.warning("alert raised", kind=alert.kind, order_id=alert.order_id, reference=alert.reference,
                        alert_id=alert.id)
        notified = await self._notify_pending()
        for order_id, alert in touched.items():
            await signal_attention(self._client, order_id, counts[order_id], _attention_message(alert, counts[order_id]))
        refunds_started = 0
        if self._client is not None and sweep.task_queue:
            # Last: a failed start retries the activity, and everything above is idempotent.
            refunds_started = await start_pending_case_refunds(self._client, sweep.task_queue, self._sessions)
        return EscalationSweepResult(raised=len(raised), resolved=len(resolved), notified=notified,
                                     refunds_started=refunds_started)

    async def _notify_pending(self) -> int:
        """Send every alert the operations channel has not accepted yet; a failure leaves the
        rest pending for the next attempt (the activity retries)."""
        async with self._sessions() as session:
            pending = list(await store.unnotified(session))
        for alert in pending:
            await self._ops.notify(_notice(alert))
            async with transaction(self._sessions) as session:
                row = await session.get(Alert, alert.id)
                if row is not None and row.notified_at is None:
                    row.notified_at = utcnow()
        return len(pending)


def _notice(alert: Alert) -> AlertNotice:
    return AlertNotice(alert_id=alert.id, kind=AlertKind(alert.kind), message=alert.message, raised_at=alert.raised_at,
                       order_id=alert.order_id, reference=alert.reference)


def _attention_message(alert: Alert, open_alerts: int) -> str:
    if alert.resolved_at is None:
        return f"alert {alert.id} ({alert.kind}) raised: {alert.message}"
    return f"alert {alert.id} ({alert.kind}) resolved; {open_alerts} still open"


__all__ = ["ATTENTION_SIGNAL", "AlertActivities", "signal_attention"]
