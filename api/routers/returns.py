"""Returns: a customer's return request on a delivered order (checked against the return
window and what is left to return), the warehouse's receipt and inspection, and reading an
order's returns with their refunds and credit notes, also after the order's workflow closed."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ChannelOrOps, OrderReader, Principal, Sessions, SettingsDep, Temporal, WarehouseOrOps, load_order
from api.errors import ApiError
from api.schemas import ActorOut, ErrorOut
from api.temporal import is_unavailable
from domain.accountability import StaffActionKind
from domain.returns import (
    Disposition,
    InspectedLine,
    InspectionInput,
    ReturnLineRequest,
    ReturnRefused,
    ReturnStatus,
    ReturnStepResult,
    ReturnWorkflowInput,
)
from logs import get_logger
from settings import Settings
from storage.db import transaction
from storage.erasure import ERASED_REASON
from storage.models import utcnow
from storage.queries import get_order
from storage.returns import ReturnRecord, get_return, order_returns, register_return, return_records
from storage.staff_actions import action_row, record_action
from workflows.returns import ReturnWorkflow

router = APIRouter(tags=["returns"])
log = get_logger(__name__)

RETURN_ID_PATTERN = r"^ret_[a-z0-9]{1,36}$"
_RETURN_ID = re.compile(RETURN_ID_PATTERN)

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "The key's role may not do this"},
    404: {"model": ErrorOut, "description": "No such order or return (or another channel's)"},
}


def return_workflow_id(return_id: str) -> str:
    return f"return-{return_id}"


# --- schemas ----------------------------------------------------------------------------


class ReturnBody(BaseModel):
    lines: list[ReturnLineRequest] = Field(min_length=1, max_length=200,
                                           description="Order lines to return: line_no and quantity")
    reason: str = Field(min_length=1, max_length=500, description="Why the customer returns them")


class InspectionBody(BaseModel):
    lines: list[InspectedLine] = Field(min_length=1, max_length=200, description=(
        "One result per returned line: resellable (back into stock) or damaged (written off)"))
    inspected_by: str | None = Field(default=None, max_length=100)


class ReturnLineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    amount: Decimal = Field(description="What this line refunds")
    disposition: Disposition | None = None


class CreditNoteOut(BaseModel):
    credit_note_number: int
    amount: Decimal = Field(description="The whole refund, shipping costs included")
    shipping_amount: Decimal
    created_at: datetime
    actor: ActorOut | None = Field(default=None, description="Who caused the refund: the key that sent the "
                                                             "inspection (null for refunds from before keys were recorded)")


class ReturnOut(BaseModel):
    return_id: str
    number: int
    order_id: str
    workflow_id: str
    status: ReturnStatus
    status_reason: str | None
    reason: str
    requested_by: str = Field(description="The name of the API key that requested the return")
    inspected_by: str | None = Field(description="Who inspected it (as named in the inspection, else the key's name)")
    lines: list[ReturnLineOut]
    refunds: list[CreditNoteOut]
    created_at: datetime
    updated_at: datetime


class ReturnStepOut(BaseModel):
    return_id: str
    accepted: bool = Field(description="False for a harmless repeat: nothing changed")
    status: ReturnStatus
    message: str


def _out(record: ReturnRecord) -> ReturnOut:
    r = record.ret
    return ReturnOut(
        return_id=r.id, number=r.number, order_id=r.order_id, workflow_id=return_workflow_id(r.id),
        status=ReturnStatus(r.status), status_reason=r.status_reason, reason=r.reason,
        requested_by=r.requested_by, inspected_by=r.inspected_by,
        lines=[ReturnLineOut(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity, amount=ln.amount,
                             disposition=Disposition(ln.disposition) if ln.disposition else None) for ln in r.lines],
        refunds=[CreditNoteOut(credit_note_number=f.credit_note_number, amount=f.amount,
                               shipping_amount=f.shipping_amount, created_at=f.created_at,
                               actor=ActorOut(key_name=f.actor, role=f.actor_role or "") if f.actor else None)
                 for f in record.refunds],
        created_at=r.created_at, updated_at=r.updated_at)


async def _record(sessions: Sessions, return_id: str) -> ReturnOut:
    async with sessions() as session:
        ret = await get_return(session, return_id)
        assert ret is not None
        (record,) = await return_records(session, [ret])
    return _out(record)


async def _load_return(sessions: Sessions, principal: Principal, return_id: str) -> ReturnRecord:
    if _RETURN_ID.match(return_id):
        async with sessions() as session:
            ret = await get_return(session, return_id)
            order = await get_order(session, ret.order_id) if ret is not None else None
            if ret is not None and order is not None and principal.can_see(order):
                (record,) = await return_records(session, [ret])
                return record
    raise ApiError(404, f"no return {return_id[:64]!r} for this key; check the return id returned by "
                        "POST /orders/{order_id}/returns")


async def start_return_workflow(client: Client, settings: Settings, return_id: str) -> None:
    try:
        await client.start_workflow(
            ReturnWorkflow.run,
            ReturnWorkflowInput(return_id=return_id, parcel_wait_seconds=settings.return_parcel_wait_seconds),
            id=return_workflow_id(return_id), task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass
    except Exception as exc:
        if is_unavailable(exc):
            raise ApiError(503, f"return {return_id} is registered, but Temporal is not reachable to start it; "
                                "try the inspection again shortly", headers={"Retry-After": "5"}) from exc
        raise


# --- routes -----------------------------------------------------------------------------


@router.post("/orders/{order_id}/returns", status_code=201, response_model=ReturnOut, summary="Request a return",
             responses={**RESPONSES,
                        409: {"model": ErrorOut, "description": "The order has not been delivered yet"},
                        422: {"description": "Outside the return window, or more than is left to return"}})
async def request_return(
    order_id: Annotated[str, Path(description="The order id")],
    principal: ChannelOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep, response: Response,
    body: Annotated[ReturnBody, Body(openapi_examples={"one mug": {"summary": "One of two mugs", "value": {
        "lines": [{"line_no": 1, "quantity": 1}], "reason": "does not match the kitchen"}}})],
) -> ReturnOut:
    """Body: `{"lines": [{"line_no", "quantity"}], "reason"}`. Within the return window
    (`ORDERFLOW_RETURN_WINDOW_DAYS` after delivery, at least 14) and up to what was delivered
    minus earlier returns. Answers 201 with the return (its number, lines and refund amounts);
    its workflow `return-{return_id}` waits for the parcel. Roles: channel (own orders), ops."""
    order = await load_order(sessions, principal, order_id)
    # An erased customer's free text is not stored again.
    reason = ERASED_REASON if order.customer.erased_at is not None else body.reason
    try:
        async with transaction(sessions) as session:
            ret = await register_return(session, order.id, body.lines, reason, principal.name,
                                        now=datetime.now(UTC), window_days=settings.return_window_days)
            return_id = ret.id
            session.add(action_row(StaffActionKind.RETURN_REQUEST, principal.actor(), order_id=order.id,
                                   return_id=ret.id, detail=f"return {ret.number}, " + ", ".join(
                                       f"{ln.quantity} x line {ln.line_no}" for ln in ret.lines)))
    except ReturnRefused as exc:
        raise ApiError(409 if exc.conflict else 422, str(exc)) from exc
    log.info("return registered", order_id=order.id, return_id=return_id)
    await start_return_workflow(temporal, settings, return_id)
    response.headers["Location"] = f"/returns/{return_id}"
    return await _record(sessions, return_id)


@router.get("/orders/{order_id}/returns", response_model=list[ReturnOut], responses=RESPONSES,
            summary="An order's returns")
async def list_order_returns(order_id: Annotated[str, Path(description="The order id")], principal: OrderReader,
                             sessions: Sessions) -> list[ReturnOut]:
    """Every return of the order with its lines, inspection results, refunds and credit notes,
    from the database (also once the order's workflow has closed). Roles: channel (own), warehouse, ops."""
    order = await load_order(sessions, principal, order_id)
    async with sessions() as session:
        return [_out(r) for r in await order_returns(session, order.id)]


@router.get("/returns/{return_id}", response_model=ReturnOut, responses=RESPONSES, summary="Get a return")
async def get_one_return(return_id: Annotated[str, Path(description="The return id")], principal: OrderReader,
                         sessions: Sessions) -> ReturnOut:
    """The return with its lines, status, refunds and credit notes. Roles: channel (own), warehouse, ops."""
    return _out(await _load_return(sessions, principal, return_id))


@router.post("/returns/{return_id}/inspection", response_model=ReturnStepOut, summary="Receive and inspect a return",
             responses={**RESPONSES,
                        409: {"model": ErrorOut, "description": "The return is past this step (status named)"},
                        422: {"description": "The lines do not match the return's lines"}})
async def inspect_return(
    return_id: Annotated[str, Path(description="The return id")], principal: WarehouseOrOps, sessions: Sessions,
    temporal: Temporal, settings: SettingsDep,
    body: Annotated[InspectionBody, Body(openapi_examples={"resellable": {"summary": "Back on the shelf", "value": {
        "lines": [{"line_no": 1, "disposition": "resellable"}], "inspected_by": "Jan"}}})],
) -> ReturnStepOut:
    """Body: `{"lines": [{"line_no", "disposition": "resellable"|"damaged"}], "inspected_by"}`,
    one result for each returned line. Resellable goods go back into stock, damaged ones are
    written off (both in the stock ledger); then the refund is made and its credit note issued.
    A repeat answers 200 with `accepted: false`. Roles: warehouse, ops."""
    record = await _load_return(sessions, principal, return_id)
    expected = sorted(ln.line_no for ln in record.ret.lines)
    given = [ln.line_no for ln in body.lines]
    if sorted(given) != expected:
        raise ApiError(422, f"give one result for each returned line {expected}; got lines {given}")
    actor = principal.actor(body.inspected_by)
    inspection = InspectionInput(inspected_by=body.inspected_by or principal.name, lines=body.lines, actor=actor)
    sent_at = utcnow()
    result = await _send_inspection(sessions, temporal, settings, record, inspection, repair=True)
    if result.accepted:
        await record_action(sessions, StaffActionKind.RETURN_INSPECTION, actor, sent_at=sent_at,
                            order_id=record.ret.order_id,
                            return_id=return_id, detail=f"return {record.ret.number}, " + ", ".join(
                                f"line {ln.line_no} {ln.disposition}" for ln in body.lines) + "; refund follows")
    log.info("return inspected", return_id=return_id, accepted=result.accepted)
    return ReturnStepOut(return_id=return_id, accepted=result.accepted, status=result.status, message=result.message)


async def _send_inspection(sessions: Sessions, temporal: Client, settings: Settings, record: ReturnRecord,
                           inspection: InspectionInput, *, repair: bool) -> ReturnStepResult:
    return_id = record.ret.id
    handle = temporal.get_workflow_handle(return_workflow_id(return_id))
    try:
        return await handle.execute_update(ReturnWorkflow.record_inspection, inspection, result_type=ReturnStepResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == "StepRefused":
            raise ApiError(409, cause.message, status=record.ret.status) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            async with sessions() as session:
                ret = await get_return(session, return_id)
            status = ret.status if ret is not None else record.ret.status
            if repair and status == ReturnStatus.AWAITING_PARCEL:
                # Registered, but its workflow never started (Temporal was down at the request):
                # start it now and deliver the inspection to it.
                await start_return_workflow(temporal, settings, return_id)
                return await _send_inspection(sessions, temporal, settings, record, inspection, repair=False)
            raise ApiError(409, f"return {return_id} is {status}: its workflow has ended, so it takes no "
                                "inspection any more", status=status) from exc
        if is_unavailable(exc):
            raise ApiError(503, "Temporal is not reachable; try again shortly", headers={"Retry-After": "5"}) from exc
        raise
