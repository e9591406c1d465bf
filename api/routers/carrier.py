"""Carrier tracking events: signed by the carrier (HMAC-SHA256 of the raw body, header
``X-Signature``) with its own secret (``carrier_signing_secrets``, the carrier named in
``X-Carrier``) or, for carriers without one, the shared secret; found by the tracking number of
any package; sent to the order's workflow."""

from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Depends, Header, Request

from activities.adapters.sandbox_carrier import SERVICES
from api.deps import CarrierOrOps, Sessions, SettingsDep, Temporal
from api.errors import ApiError
from api.examples import CARRIER_EVENT_EXAMPLE
from api.routers.orders import STEP_RESPONSES
from api.schemas import CarrierEvent, ErrorOut, StepOut
from api.temporal import ensure_started, send_update
from domain.models import TrackingUpdate
from domain.signing import SIGNATURE_HEADER, verify
from logs import get_logger
from storage.queries import get_order, shipment_by_tracking_number
from workflows.order import OrderWorkflow

router = APIRouter(prefix="/carrier", tags=["carrier"])
log = get_logger(__name__)

CARRIER_HEADER = "X-Carrier"
CATALOGUE_CARRIERS = frozenset(s.carrier for s in SERVICES)


async def signed_by_carrier(
    request: Request, settings: SettingsDep, principal: CarrierOrOps,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, description=(
        "sha256=<hex HMAC-SHA256 of the raw body with the carrier's secret>"))] = None,
    carrier: Annotated[str | None, Header(alias=CARRIER_HEADER, max_length=32, description=(
        "The carrier's code (postnl, dhl, dpd, freight): the body is signed with that carrier's own secret, "
        "and only its own tracking numbers are accepted. Without it: the carriers' shared secret, for "
        "carriers that have no secret of their own"))] = None,
) -> str | None:
    """Checked after the key (401/403 for that first) and before the body is validated, so an
    unsigned body is refused whatever it holds. Returns the carrier that signed (None: a
    carrier signing with the shared secret)."""
    code = carrier.strip().lower() if carrier is not None else None
    known = CATALOGUE_CARRIERS | settings.carrier_signing_secrets.keys()
    if code is not None and code not in known:
        raise ApiError(401, f"unknown carrier {carrier[:32]!r} in {CARRIER_HEADER}; use one of "
                            f"{', '.join(sorted(known))}, or leave the header out to sign with the shared secret")
    whose = (f"carrier {code}'s own secret" if code in settings.carrier_signing_secrets
             else "the carriers' shared secret")
    if not signature:
        raise ApiError(401, f"no {SIGNATURE_HEADER} header: sign the raw request body with HMAC-SHA256 and {whose} "
                            f"and send {SIGNATURE_HEADER}: sha256=<hex digest>")
    if not verify(settings.carrier_secret(code), await request.body(), signature):
        raise ApiError(401, f"the {SIGNATURE_HEADER} signature does not match the body: sign exactly the bytes you "
                            f"send (HMAC-SHA256, hex) with {whose}")
    return code


@router.post("/events", response_model=StepOut, summary="Report a tracking event",
             responses={**STEP_RESPONSES,
                        401: {"model": ErrorOut, "description": "No or an unknown API key; a missing or wrong "
                              "X-Signature; an unknown X-Carrier"},
                        403: {"model": ErrorOut, "description": "The key's role may not report events, or the "
                              "tracking number is another carrier's"},
                        404: {"model": ErrorOut, "description": "No shipment with this tracking number"}})
async def tracking_event(
    body: Annotated[CarrierEvent, Body(openapi_examples={"delivered": {"summary": "Delivered",
                                                                       "value": CARRIER_EVENT_EXAMPLE}})],
    signed_by: Annotated[str | None, Depends(signed_by_carrier)],
    principal: CarrierOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
) -> StepOut:
    """Signed: header `X-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body. A carrier
    with its own secret (setting `carrier_signing_secrets`) names itself in `X-Carrier` and
    signs with that secret; carriers without one leave `X-Carrier` out (or send it) and sign
    with the shared secret (`carrier_signing_secret`). Missing or wrong signature, or an
    unknown `X-Carrier`: 401. A tracking number of another carrier's shipment than
    `X-Carrier` names, or of a carrier with its own secret when `X-Carrier` is left out: 403.

    Body: `{"tracking_number": "...", "event": "IN_TRANSIT|OUT_FOR_DELIVERY|DELIVERED|EXCEPTION",
    "occurred_at": "2026-05-01T14:03:00Z" (optional, with timezone), "description": "..." (optional)}`.

    The shipment is found by the tracking number of any of its packages (404 if unknown) and
    the event, naming that package, is sent to its order: IN_TRANSIT and DELIVERED move the
    order on, EXCEPTION flags it for attention. An event for a parcel not yet handed over is
    refused (409); one after delivery is recorded without a change (200, `accepted: false`).
    Roles: carrier, ops."""
    async with sessions() as session:
        shipment = await shipment_by_tracking_number(session, body.tracking_number)
        order = await get_order(session, shipment.order_id) if shipment is not None else None
    if shipment is None or order is None:
        raise ApiError(404, f"no shipment with tracking number {body.tracking_number!r}; "
                            "check the number on the label")
    # The signature says which carrier sent it; a carrier reports on its own parcels only, or
    # one carrier's secret would move another carrier's orders.
    if signed_by is not None and shipment.carrier != signed_by:
        raise ApiError(403, f"tracking number {body.tracking_number!r} is not a {signed_by} shipment; "
                            f"a carrier reports events for its own parcels only")
    if signed_by is None and shipment.carrier in settings.carrier_signing_secrets:
        raise ApiError(403, f"tracking number {body.tracking_number!r} is a {shipment.carrier} shipment, and "
                            f"{shipment.carrier} signs with its own secret: send {CARRIER_HEADER}: "
                            f"{shipment.carrier} and sign with that secret")
    structlog.contextvars.bind_contextvars(order_id=order.id, tracking_number=body.tracking_number)
    await ensure_started(temporal, settings, sessions, order)
    # The package's own number goes to the workflow: a shipment of several packages is
    # delivered when every package is.
    result = await send_update(temporal, sessions, order, OrderWorkflow.report_tracking, TrackingUpdate(
        tracking_number=body.tracking_number, event=body.event, occurred_at=body.occurred_at,
        description=body.description))
    log.info("tracking event", tracking_event=body.event, accepted=result.accepted, status=result.status)
    return StepOut(order_id=order.id, accepted=result.accepted, status=result.status, message=result.message)
