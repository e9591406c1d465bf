"""Gap-free sequential numbers (invoices, credit notes, returns): a counter row per series,
locked and incremented in the caller's own transaction, so a rolled-back document gives its
number back and concurrent documents never share or skip one. A database sequence is not
used because sequences skip numbers on rollback."""

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import NumberSeries


async def next_number(session: AsyncSession, series: str) -> int:
    """The next number of ``series`` (1, 2, 3, ...), inside the caller's write transaction
    (``storage.db.transaction``): the row stays locked until that transaction ends."""
    result = await session.execute(
        update(NumberSeries).where(NumberSeries.series == series)
        .values(last_number=NumberSeries.last_number + 1).returning(NumberSeries.last_number))
    number = result.scalar_one_or_none()
    if number is not None:
        return number
    try:
        async with session.begin_nested():
            session.add(NumberSeries(series=series, last_number=1))
        return 1
    except IntegrityError:
        # A concurrent transaction created the series first: take the next one after it.
        result = await session.execute(
            update(NumberSeries).where(NumberSeries.series == series)
            .values(last_number=NumberSeries.last_number + 1).returning(NumberSeries.last_number))
        return result.scalar_one()


async def current_number(session: AsyncSession, series: str) -> int:
    return await session.scalar(select(NumberSeries.last_number).where(NumberSeries.series == series)) or 0
