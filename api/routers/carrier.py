"""Carrier tracking events: signed by the carrier (HMAC-SHA256 of the raw body with the shared
secret, header ``X-Signature``), found by tracking number, sent to the order's workflow."""

from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Depends, Header, Request

from api.deps import CarrierOrOps, Sessions, SettingsDep, Temporal
from api.errors import ApiError
from api.examples import CARRIER_EVENT_EXAMPLE
from api.routers.orders import STEP_RESPONSES
from api.schemas import CarrierEvent, StepOut
from api.temporal import ensure_started, send_update
from domain.models import TrackingUpdate
from domain.signing import SIGNATURE_HEADER, verify
from logs import get_logger
from storage.queries import get_order, shipment_by_tracking_number
from workflows.order import OrderWorkflow

router = APIRouter(prefix="/carrier", tags=["carrier"])
log = get_logger(__name__)


async def signed_by_carrier(
    request: Request, settings: SettingsDep, principal: CarrierOrOps,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, description=(
        "sha256=<hex HMAC-SHA256 of the raw body with the carrier's shared secret>"))] = None,
) -> None:
    """Checked after the key (401/403 for that first) and before the body is validated, so an
    unsigned body is refused whatever it holds."""
    if not signature:
        raise ApiError(401, f"no {SIGNATURE_HEADER} header: sign the raw request body with HMAC-SHA256 and the "
                            f"carrier's shared secret and send {SIGNATURE_HEADER}: sha256=<hex digest>")
    if not verify(settings.carrier_signing_secret, await request.body(), signature):
        raise ApiError(401, f"the {SIGNATURE_HEADER} signature does not match the body: sign exactly the bytes you "
                            "send (HMAC-SHA256, hex) with the carrier's shared secret")


@router.post("/events", response_model=StepOut, summary="Report a tracking event",
             dependencies=[Depends(signed_by_carrier)],
             responses={**STEP_RESPONSES, 404: {"description": "No shipment with this tracking number"}})
async def tracking_event(
    body: Annotated[CarrierEvent, Body(openapi_examples={"delivered": {"summary": "Delivered",
                                                                       "value": CARRIER_EVENT_EXAMPLE}})],
    principal: CarrierOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
) -> StepOut:
    """Signed: header `X-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body with the
    carrier's shared secret (missing or wrong: 401).

    Body: `{"tracking_number": "...", "event": "IN_TRANSIT|OUT_FOR_DELIVERY|DELIVERED|EXCEPTION",
    "occurred_at": "2026-05-01T14:03:00Z" (optional, with timezone), "description": "..." (optional)}`.

    The shipment is found by its tracking number (404 if unknown) and the event is sent to its
    order: IN_TRANSIT and DELIVERED move the order on, EXCEPTION flags it for attention. An
    event for a parcel not yet handed over is refused (409); one after delivery is recorded
    without a change (200, `accepted: false`). Roles: carrier, ops."""
    async with sessions() as session:
        shipment = await shipment_by_tracking_number(session, body.tracking_number)
        order = await get_order(session, shipment.order_id) if shipment is not None else None
    if shipment is None or order is None:
        raise ApiError(404, f"no shipment with tracking number {body.tracking_number!r}; "
                            "check the number on the label")
    structlog.contextvars.bind_contextvars(order_id=order.id, tracking_number=shipment.tracking_number)
    await ensure_started(temporal, settings, sessions, order)
    result = await send_update(temporal, sessions, order, OrderWorkflow.report_tracking, TrackingUpdate(
        tracking_number=shipment.tracking_number, event=body.event, occurred_at=body.occurred_at,
        description=body.description))
    log.info("tracking event", tracking_event=body.event, accepted=result.accepted, status=result.status)
    return StepOut(order_id=order.id, accepted=result.accepted, status=result.status, message=result.message)
