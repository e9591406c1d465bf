"""Run a piece of database work at most once per idempotency key.

The key is claimed by inserting it (primary key) in the same transaction as the work, so the
unique constraint, not a check-then-act, decides who acts. A repeat, or a concurrent twin
that lost the race, gets the original result back.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import transaction
from storage.models import IdempotencyRecord


R = TypeVar("R", bound=BaseModel)


class _AlreadyClaimed(Exception):
    pass


async def run_once(
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    scope: str,
    result_type: type[R],
    work: Callable[[AsyncSession], Awaitable[R]],
) -> R:
    try:
        async with transaction(sessions) as session:
            session.add(IdempotencyRecord(key=key, scope=scope, result=None))
            try:
                await session.flush()
            except IntegrityError as exc:
                raise _AlreadyClaimed from exc
            result = await work(session)
            record = await session.get(IdempotencyRecord, key)
            assert record is not None
            record.result = result.model_dump(mode="json")
            return result
    except _AlreadyClaimed:
        # Either the key was claimed before (a retry) or a twin claimed it first and has
        # committed by now (the insert waited for its lock). Its result is the answer.
        pass
    async with sessions() as session:
        record = await session.get(IdempotencyRecord, key)
    if record is None or record.result is None:
        raise RuntimeError(f"idempotency key {key!r} is claimed but has no result")
    if record.scope != scope:
        raise ValueError(f"idempotency key {key!r} was used for {record.scope}, not {scope}")
    return result_type.model_validate(record.result)
