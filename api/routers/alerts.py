"""Alerts (operations): escalations listed for the ops desk, and resolved by a person once
acted on. Alerts whose cause goes away (the pick came, the carrier reported again, the case
got an answer, the goods arrived) resolve themselves at the next escalation sweep."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from activities.alerts import signal_attention
from api.deps import Ops, Sessions, Temporal
from api.errors import ApiError
from api.schemas import ErrorOut, ORDER_ID_PATTERN
from domain.enums import AlertKind
from logs import get_logger
from storage import alerts as store
from storage.db import transaction
from storage.models import Alert, utcnow

router = APIRouter(prefix="/alerts", tags=["alerts"])
log = get_logger(__name__)

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "Only an ops key may see and resolve alerts"},
    404: {"model": ErrorOut, "description": "No such alert"},
}
AlertId = Annotated[int, Path(ge=1, le=2**62, description="The alert id GET /alerts shows")]


class AlertOut(BaseModel):
    alert_id: int
    kind: AlertKind
    order_id: str | None = Field(description="The order it is about, if any")
    reference: str | None = Field(description="What else it is about: a case, a purchase order, a return")
    message: str
    raised_at: datetime
    notified_at: datetime | None = Field(description="When the operations channel accepted it")
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    total: int = Field(description="How many alerts match the filters in all")


class ResolveAlertBody(BaseModel):
    resolution: str = Field(min_length=1, max_length=500, description="What was done about it")


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(alert_id=alert.id, kind=AlertKind(alert.kind), order_id=alert.order_id, reference=alert.reference,
                    message=alert.message, raised_at=alert.raised_at, notified_at=alert.notified_at,
                    resolved_at=alert.resolved_at, resolved_by=alert.resolved_by, resolution=alert.resolution)


@router.get("", response_model=AlertPage, responses=RESPONSES, summary="List alerts")
async def get_alerts(
    principal: Ops, sessions: Sessions,
    state: Annotated[Literal["open", "resolved", "all"], Query(description="Open (default), resolved or all")] = "open",
    kind: Annotated[AlertKind | None, Query(description="Only this kind")] = None,
    order_id: Annotated[str | None, Query(pattern=ORDER_ID_PATTERN, description="Only this order's")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertPage:
    """Newest first. Kinds: late_pick, tracking_silence, delivery_exception, failed_refund,
    late_supplier, unanswered_case, short_pick. Roles: ops."""
    async with sessions() as session:
        rows, total = await store.list_alerts(session, store.AlertFilters(
            state=state, kind=kind, order_id=order_id, limit=limit, offset=offset))
        return AlertPage(alerts=[alert_out(a) for a in rows], total=total)


@router.get("/{alert_id}", response_model=AlertOut, responses=RESPONSES, summary="Get an alert")
async def get_alert(alert_id: AlertId, principal: Ops, sessions: Sessions) -> AlertOut:
    """One alert. Roles: ops."""
    async with sessions() as session:
        alert = await session.get(Alert, alert_id)
        if alert is None:
            raise _not_found(alert_id)
        return alert_out(alert)


@router.post("/{alert_id}/resolve", response_model=AlertOut, responses=RESPONSES, summary="Resolve an alert")
async def resolve_alert(alert_id: AlertId, body: ResolveAlertBody, principal: Ops, sessions: Sessions,
                        temporal: Temporal) -> AlertOut:
    """Body: `{"resolution": "what was done"}`. Resolving a resolved alert changes nothing and
    answers 200 with who resolved it first. The order's `needs_attention` stays true while it
    has other open alerts. Roles: ops."""
    async with transaction(sessions) as session:
        try:
            alert, changed = await store.resolve_alert(session, alert_id, by=principal.name,
                                                       resolution=body.resolution, now=utcnow())
        except store.AlertNotFound:
            raise _not_found(alert_id) from None
        order_id = alert.order_id
        open_alerts = await store.open_alert_count(session, order_id) if order_id else 0
        out = alert_out(alert)
    if changed:
        log.info("alert resolved", alert_id=alert_id, order_id=order_id)
        if order_id is not None:
            # The record is written and stands; the workflow's search attribute follows. If
            # Temporal is unreachable now it stays stale until the order's next alert change.
            try:
                await signal_attention(temporal, order_id, open_alerts,
                                       f"alert {alert_id} ({out.kind.value}) resolved by {principal.name}: "
                                       f"{body.resolution}")
            except Exception as exc:  # noqa: BLE001 - the resolution stands either way
                log.warning("could not tell the order workflow", order_id=order_id, error=str(exc))
    return out


def _not_found(alert_id: int) -> ApiError:
    return ApiError(404, f"no alert {alert_id}; GET /alerts lists them (state=all includes resolved ones)")
