"""Customer-service cases in the database: opening (once per dedupe key for automatic ones),
notes, resolving, and listing."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.cases import CaseKind, CaseStatus
from storage.models import CaseNote, ServiceCase


def new_case_id() -> str:
    return f"case_{uuid.uuid4().hex[:20]}"


async def open_case(
    session: AsyncSession, *, kind: CaseKind, subject: str, opened_by: str, order_id: str | None = None,
    assignee: str | None = None, note: str | None = None, dedupe_key: str | None = None,
) -> ServiceCase | None:
    """A new case inside the caller's write transaction; None when ``dedupe_key`` opened one
    already (an automatic case is opened once however often its trigger runs)."""
    case = ServiceCase(id=new_case_id(), kind=kind.value, status=CaseStatus.OPEN.value, subject=subject,
                       order_id=order_id, assignee=assignee, opened_by=opened_by, dedupe_key=dedupe_key)
    try:
        async with session.begin_nested():
            session.add(case)
            await session.flush()
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    if note:
        session.add(CaseNote(case_id=case.id, author=opened_by, text=note))
        await session.flush()
    return case


async def add_note(session: AsyncSession, case: ServiceCase, author: str, text: str) -> None:
    session.add(CaseNote(case_id=case.id, author=author, text=text))
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS.value  # someone has answered: the SLA is met
    case.updated_at = datetime.now(UTC)
    await session.flush()


async def resolve(session: AsyncSession, case: ServiceCase, author: str, resolution: str) -> None:
    case.status = CaseStatus.RESOLVED.value
    case.resolution = resolution
    case.resolved_at = datetime.now(UTC)
    session.add(CaseNote(case_id=case.id, author=author, text=f"resolved: {resolution}"))
    await session.flush()


async def list_cases(
    session: AsyncSession, *, status: list[str] | None = None, order_id: str | None = None,
    assignee: str | None = None, kind: str | None = None, limit: int = 100,
) -> list[ServiceCase]:
    query = select(ServiceCase).order_by(ServiceCase.created_at.desc(), ServiceCase.id.desc()).limit(limit)
    if status:
        query = query.where(ServiceCase.status.in_(status))
    if order_id:
        query = query.where(ServiceCase.order_id == order_id)
    if assignee:
        query = query.where(ServiceCase.assignee == assignee)
    if kind:
        query = query.where(ServiceCase.kind == kind)
    return list((await session.execute(query)).scalars().all())


async def get_case(session: AsyncSession, case_id: str, *, for_update: bool = False) -> ServiceCase | None:
    return await session.get(ServiceCase, case_id, with_for_update=for_update)
