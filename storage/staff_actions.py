"""The action log: who did which staff action (``StaffAction`` rows), written by the API in
the transaction of the action itself where the action is a database change, or right after
the workflow accepted it where the action is a workflow update."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accountability import Actor, StaffActionKind
from storage.db import transaction
from storage.models import StaffAction, utcnow


def action_row(action: StaffActionKind, actor: Actor, *, order_id: str | None = None, return_id: str | None = None,
               purchase_order_id: str | None = None, sku: str | None = None,
               detail: str | None = None) -> StaffAction:
    return StaffAction(action=action.value, actor=actor.key_name, actor_role=actor.role, person=actor.person,
                       order_id=order_id, return_id=return_id, purchase_order_id=purchase_order_id, sku=sku,
                       detail=detail[:300] if detail else None)


async def record_action(sessions: async_sessionmaker[AsyncSession], action: StaffActionKind, actor: Actor,
                        *, sent_at: datetime, **refs: str | None) -> None:
    """Record an action in a transaction of its own, after a workflow accepted it. It is dated
    when it was sent, so it comes before the status change it caused on the timeline."""
    async with transaction(sessions) as session:
        row = action_row(action, actor, **refs)
        row.occurred_at = sent_at
        session.add(row)


async def order_actions(session: AsyncSession, order_id: str) -> Sequence[StaffAction]:
    return (await session.execute(select(StaffAction).where(StaffAction.order_id == order_id)
                                  .order_by(StaffAction.occurred_at, StaffAction.id))).scalars().all()
