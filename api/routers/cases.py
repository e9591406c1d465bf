"""Customer-service cases (operations): open one, list them, add notes (the first answer moves
an open case to in progress), resolve. A feedback rating of 2 or lower opens one by itself.

Resolving can set an action in motion, stored in the same transaction as the resolution (so a
retried request is a 409 and never acts twice): a reshipment is a new order at no charge for
the case's order's customer and address, whose workflow runs the normal pipeline; a refund is
made by the case-refund workflow (``case-refund-{case_id}``) through the payment provider, with
a credit note. A refund that could not be started (Temporal unreachable) stays pending and is
started by the API's startup sweep and by the escalation sweep's next tick."""

import asyncio
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.client import Client

from activities.adapters.temporal_case_refunds import start_case_refund
from api.deps import Ops, Sessions, SettingsDep, Temporal
from api.errors import ApiError
from api.schemas import ErrorOut, ORDER_ID_PATTERN
from api.temporal import is_unavailable, start_order_workflow
from domain.cases import CaseActionKind, CaseActionStatus, CaseKind, CaseStatus
from logs import get_logger
from settings import Settings
from storage.cases import (
    ActionRefused,
    ReshipLine,
    add_note,
    add_reshipment,
    get_case,
    list_cases,
    open_case,
    refundable,
    reshipment_of_case,
    resolve,
)
from storage.db import transaction
from storage.models import Order, Refund, ServiceCase
from storage.queries import get_order
from workflows.cases import CaseRefundWorkflow, case_refund_workflow_id

router = APIRouter(prefix="/cases", tags=["cases"])
log = get_logger(__name__)

CASE_ID_PATTERN = r"^case_[a-z0-9]{1,36}$"
_CASE_ID = re.compile(CASE_ID_PATTERN)
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "Only an ops key may work on cases"},
    404: {"model": ErrorOut, "description": "No such case"},
}
CaseId = Annotated[str, Path(description="The case id that POST /cases returned, e.g. case_3f2a...")]


class CaseBody(BaseModel):
    kind: CaseKind
    subject: str = Field(min_length=1, max_length=300)
    order_id: str | None = Field(default=None, pattern=ORDER_ID_PATTERN)
    assignee: str | None = Field(default=None, min_length=1, max_length=100)
    note: str | None = Field(default=None, min_length=1, max_length=10_000)


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)
    assignee: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="Optional: hand the case to this person")


class ReshipLineBody(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description="A SKU of the case's order")
    quantity: int = Field(ge=1, le=10_000, description="At most what the order had")


class ReshipmentAction(BaseModel):
    kind: Literal["reshipment"]
    lines: list[ReshipLineBody] = Field(min_length=1, max_length=200)


class RefundAction(BaseModel):
    kind: Literal["refund"]
    amount: Decimal = Field(gt=0, max_digits=10, decimal_places=2,
                            description="Euro; at most what was captured less what was refunded")


class ResolveBody(BaseModel):
    resolution: str = Field(min_length=1, max_length=10_000, description="What was done for the customer")
    action: Annotated[ReshipmentAction | RefundAction, Field(discriminator="kind")] | None = Field(
        default=None, description="Optional: a reshipment of some of the order's goods at no charge, or a refund")


class CaseActionOut(BaseModel):
    kind: CaseActionKind
    status: CaseActionStatus = Field(description="pending: under way; done: refunded; failed: the refund kept "
                                                 "failing (an alert was raised). A reshipment stays pending: "
                                                 "follow its order")
    reshipment_order_id: str | None = Field(default=None, description="The new order at no charge")
    amount: Decimal | None = Field(default=None, description="The refund's amount")
    credit_note_number: int | None = None


class NoteOut(BaseModel):
    author: str
    text: str
    created_at: datetime


class CaseOut(BaseModel):
    case_id: str
    kind: CaseKind
    status: CaseStatus
    subject: str
    order_id: str | None
    assignee: str | None
    opened_by: str
    resolution: str | None
    notes: list[NoteOut]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    action: CaseActionOut | None = None


def _out(case: ServiceCase, action: CaseActionOut | None = None) -> CaseOut:
    return CaseOut(case_id=case.id, kind=CaseKind(case.kind), status=CaseStatus(case.status), subject=case.subject,
                   order_id=case.order_id, assignee=case.assignee, opened_by=case.opened_by,
                   resolution=case.resolution,
                   notes=[NoteOut(author=n.author, text=n.text, created_at=n.created_at) for n in case.notes],
                   created_at=case.created_at, updated_at=case.updated_at, resolved_at=case.resolved_at,
                   action=action)


async def _action(session: Any, case: ServiceCase) -> CaseActionOut | None:
    if case.action_kind is None:
        return None
    kind = CaseActionKind(case.action_kind)
    status = CaseActionStatus(case.action_status or CaseActionStatus.PENDING)
    if kind == CaseActionKind.RESHIPMENT:
        order = await reshipment_of_case(session, case.id)
        return CaseActionOut(kind=kind, status=status, reshipment_order_id=order.id if order else None)
    number = (await session.execute(select(Refund.credit_note_number).where(Refund.case_id == case.id)))\
        .scalar_one_or_none()
    return CaseActionOut(kind=kind, status=status, amount=case.refund_amount, credit_note_number=number)


async def _read(sessions: Sessions, case_id: str) -> CaseOut:
    async with sessions() as session:
        case = await get_case(session, case_id)
        if case is None:
            raise _not_found(case_id)
        return _out(case, await _action(session, case))


def _not_found(case_id: str) -> ApiError:
    return ApiError(404, f"no case {case_id[:64]!r}; check the case id returned by POST /cases or GET /cases")


def _checked_id(case_id: str) -> str:
    if not _CASE_ID.match(case_id):
        raise _not_found(case_id)
    return case_id


@router.post("", status_code=201, response_model=CaseOut, summary="Open a case",
             responses={**RESPONSES, 422: {"description": "Invalid body, or an order that does not exist"}})
async def create_case(
    principal: Ops, sessions: Sessions, response: Response,
    body: Annotated[CaseBody, Body(openapi_examples={"damaged": {"summary": "A broken mug", "value": {
        "kind": "damaged", "subject": "mug arrived broken", "order_id": "ord_...", "assignee": "Sanne"}}})],
) -> CaseOut:
    """Body: `kind` (complaint, damaged, missing_item, late_delivery, other), `subject`,
    optional `order_id`, `assignee` and a first `note`. Roles: ops."""
    async with transaction(sessions) as session:
        if body.order_id is not None and await session.get(Order, body.order_id) is None:
            raise ApiError(422, f"no order {body.order_id!r}; leave order_id out or name an existing order")
        case = await open_case(session, kind=body.kind, subject=body.subject, opened_by=principal.name,
                               order_id=body.order_id, assignee=body.assignee, note=body.note)
        assert case is not None
        case_id = case.id
    log.info("case opened", case_id=case_id, kind=body.kind.value, order_id=body.order_id)
    response.headers["Location"] = f"/cases/{case_id}"
    return await _read(sessions, case_id)


@router.get("", response_model=list[CaseOut], responses=RESPONSES, summary="List cases")
async def get_cases(
    principal: Ops, sessions: Sessions,
    status: Annotated[list[CaseStatus] | None, Query(description="Only these statuses (repeatable)")] = None,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[CaseKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseOut]:
    """Newest first, filtered by `status`, `order_id`, `assignee`, `kind`. Roles: ops."""
    async with sessions() as session:
        cases = await list_cases(session, status=[s.value for s in status or []], order_id=order_id,
                                 assignee=assignee, kind=kind.value if kind else None, limit=limit)
        return [_out(c, await _action(session, c)) for c in cases]


@router.get("/{case_id}", response_model=CaseOut, responses=RESPONSES, summary="Get a case")
async def get_one_case(case_id: CaseId, principal: Ops, sessions: Sessions) -> CaseOut:
    """The case with its notes, assignee and resolution. Roles: ops."""
    return await _read(sessions, _checked_id(case_id))


@router.post("/{case_id}/notes", response_model=CaseOut, responses={
    **RESPONSES, 409: {"model": ErrorOut, "description": "The case is resolved"}}, summary="Add a note")
async def note_case(case_id: CaseId, principal: Ops, sessions: Sessions, body: NoteBody) -> CaseOut:
    """Body: `{"text", "assignee"?}`. The first note on an open case moves it to in_progress.
    A resolved case takes no more notes (409). Roles: ops."""
    async with transaction(sessions) as session:
        case = await get_case(session, _checked_id(case_id), for_update=True)
        if case is None:
            raise _not_found(case_id)
        if case.status == CaseStatus.RESOLVED:
            raise ApiError(409, f"case {case_id} is resolved; open a new case for a new question",
                           status=case.status)
        if body.assignee:
            case.assignee = body.assignee
        await add_note(session, case, principal.name, body.text)
    return await _read(sessions, case_id)


# How long a resolve with a refund waits for the refund before answering with it pending.
REFUND_WAIT_SECONDS = 10.0
RESOLVE_EXAMPLES: dict[str, Any] = {
    "plain": {"summary": "Resolved by talking", "value": {"resolution": "explained the delivery times"}},
    "reship": {"summary": "Send a broken mug again", "value": {
        "resolution": "new mug sent", "action": {"kind": "reshipment", "lines": [{"sku": "MUG-001", "quantity": 1}]}}},
    "refund": {"summary": "Refund part of the order", "value": {
        "resolution": "refunded the broken mug", "action": {"kind": "refund", "amount": "12.50"}}},
}


def _refused(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


async def _start_refund(temporal: Client, settings: Settings, case_id: str, principal: Any) -> Any:
    """Start the case's refund workflow (a second start is a no-op: one refund per case)."""
    await start_case_refund(temporal, settings.task_queue, case_id, principal.actor())
    return temporal.get_workflow_handle_for(CaseRefundWorkflow.run, case_refund_workflow_id(case_id))


async def _set_in_motion(temporal: Client, settings: Settings, sessions: Sessions, case: ServiceCase,
                         principal: Any) -> None:
    """Start what the stored resolution asks for, if it has not started: after the resolve, and
    again on a repeated resolve (which answers 409), so a crash in between loses nothing."""
    if case.action_status != CaseActionStatus.PENDING:
        return
    try:
        if case.action_kind == CaseActionKind.RESHIPMENT:
            async with sessions() as session:
                order = await reshipment_of_case(session, case.id)
            if order is not None and not order.workflow_started:
                await start_order_workflow(temporal, settings, sessions, order)
        elif case.action_kind == CaseActionKind.REFUND:
            handle = await _start_refund(temporal, settings, case.id, principal)
            try:
                await asyncio.wait_for(handle.result(), REFUND_WAIT_SECONDS)
            except TimeoutError:
                pass  # the provider is slow or failing: the case shows the refund pending
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        # Stored: the startup sweep starts an unstarted reshipment; a pending refund is started
        # by the startup sweep, by the escalation sweep's next tick, or by a repeated resolve.
        log.warning("case action not started: Temporal is not reachable", case_id=case.id, error=str(exc))


@router.post("/{case_id}/resolve", response_model=CaseOut, responses={
    **RESPONSES,
    409: {"model": ErrorOut, "description": "The case is resolved already, or an action needs an order the case "
                                            "does not have (or whose customer's data was erased)"},
    422: {"description": "Invalid body: an unknown SKU or too many to reship, a refund above what is refundable "
                         "(the body names it)"}}, summary="Resolve a case")
async def resolve_case(
    case_id: CaseId, principal: Ops, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
    body: Annotated[ResolveBody, Body(openapi_examples=RESOLVE_EXAMPLES)],
) -> CaseOut:
    """Body: `{"resolution": "...", "action"?}`: what was done, and optionally what to set in
    motion for the case's order:

    - `{"kind": "reshipment", "lines": [{"sku", "quantity"}]}`: a new order at no charge
      (payment method `no_charge`) for the order's customer and address, with goods of that
      order (at most as many as it had); it runs the normal pipeline and names the case and
      the original order (`action.reshipment_order_id`).
    - `{"kind": "refund", "amount": "12.50"}`: refunded through the payment provider with a
      credit note, at most what was captured less what was refunded (and less other cases'
      refunds under way). The answer waits briefly for it: `action.status` is `done` with the
      credit note number, or `pending`; a refund that keeps failing ends `failed` and raises a
      `failed_refund` alert.

    409 when it was resolved already (nothing is done again). Roles: ops."""
    checked = _checked_id(case_id)
    async with transaction(sessions) as session:
        case = await get_case(session, checked, for_update=True)
        if case is None:
            raise _not_found(case_id)
        if case.status == CaseStatus.RESOLVED:
            resolved = case
        else:
            resolved = None
            if body.action is not None:
                await _store_action(session, case, body.action)
            await resolve(session, case, principal.name, body.resolution)
    if resolved is not None:
        await _set_in_motion(temporal, settings, sessions, resolved, principal)
        raise ApiError(409, f"case {case_id} was resolved already: {resolved.resolution}", status=resolved.status)
    log.info("case resolved", case_id=case_id, action=case.action_kind)
    await _set_in_motion(temporal, settings, sessions, case, principal)
    return await _read(sessions, case_id)


async def _store_action(session: Any, case: ServiceCase, action: ReshipmentAction | RefundAction) -> None:
    """Check the action and store it with the resolution (a refusal writes nothing)."""
    if case.order_id is None:
        raise ApiError(409, f"case {case.id} is about no order, so there is nothing to {action.kind}; resolve it "
                            "without an action, or open a case for the order (order_id)", status=case.status)
    order: Order | None = await get_order(session, case.order_id)
    assert order is not None
    if action.kind == CaseActionKind.RESHIPMENT:
        if order.customer.erased_at is not None:
            raise ApiError(409, f"the customer of order {order.id} had their personal data erased; there is no "
                                "address to ship to", status=case.status)
        try:
            await add_reshipment(session, case, order, [ReshipLine(sku=ln.sku, quantity=ln.quantity)
                                                        for ln in action.lines])
        except ActionRefused as exc:
            loc: tuple[str | int, ...] = ("body", "action", "lines", exc.line) if exc.line is not None \
                else ("body", "action", "lines")
            raise _refused(loc, str(exc)) from exc
        case.action_kind = CaseActionKind.RESHIPMENT.value
    else:
        left = await refundable(session, order.id)
        if action.amount > left:
            raise _refused(("body", "action", "amount"),
                           f"EUR {action.amount} is more than can be refunded on order {order.id}: EUR {left} "
                           "(captured, less what was refunded and other cases' refunds under way)")
        case.action_kind = CaseActionKind.REFUND.value
        case.refund_amount = action.amount
    case.action_status = CaseActionStatus.PENDING.value
