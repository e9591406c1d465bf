"""Customer-service cases (operations): open one, list them, add notes (the first answer moves
an open case to in progress), resolve. A feedback rating of 2 or lower opens one by itself."""

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import Ops, Sessions
from api.errors import ApiError
from api.schemas import ErrorOut, ORDER_ID_PATTERN
from domain.cases import CaseKind, CaseStatus
from logs import get_logger
from storage.cases import add_note, get_case, list_cases, open_case, resolve
from storage.db import transaction
from storage.models import Order, ServiceCase

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


class ResolveBody(BaseModel):
    resolution: str = Field(min_length=1, max_length=10_000, description="What was done for the customer")


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


def _out(case: ServiceCase) -> CaseOut:
    return CaseOut(case_id=case.id, kind=CaseKind(case.kind), status=CaseStatus(case.status), subject=case.subject,
                   order_id=case.order_id, assignee=case.assignee, opened_by=case.opened_by,
                   resolution=case.resolution,
                   notes=[NoteOut(author=n.author, text=n.text, created_at=n.created_at) for n in case.notes],
                   created_at=case.created_at, updated_at=case.updated_at, resolved_at=case.resolved_at)


async def _read(sessions: Sessions, case_id: str) -> CaseOut:
    async with sessions() as session:
        case = await get_case(session, case_id)
        if case is None:
            raise _not_found(case_id)
        return _out(case)


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
        return [_out(c) for c in cases]


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


@router.post("/{case_id}/resolve", response_model=CaseOut, responses={
    **RESPONSES, 409: {"model": ErrorOut, "description": "The case is resolved already"}}, summary="Resolve a case")
async def resolve_case(case_id: CaseId, principal: Ops, sessions: Sessions, body: ResolveBody) -> CaseOut:
    """Body: `{"resolution": "..."}`: what was done. 409 when it was resolved already. Roles: ops."""
    async with transaction(sessions) as session:
        case = await get_case(session, _checked_id(case_id), for_update=True)
        if case is None:
            raise _not_found(case_id)
        if case.status == CaseStatus.RESOLVED:
            raise ApiError(409, f"case {case_id} was resolved already: {case.resolution}", status=case.status)
        await resolve(session, case, principal.name, body.resolution)
    log.info("case resolved", case_id=case_id)
    return await _read(sessions, case_id)
