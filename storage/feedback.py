"""Feedback figures from the read model (order_feedback, orders, shipments), counted and summed
in SQL the same way on SQLite and PostgreSQL; the averages are divided exactly in Decimal."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.enums import ShipmentStatus
from storage.models import Order, OrderFeedback, Shipment

RATINGS = range(1, 6)


@dataclass(frozen=True)
class Group:
    key: str
    count: int
    average_rating: Decimal


@dataclass(frozen=True)
class FeedbackSummary:
    count: int
    average_rating: Decimal | None
    by_rating: dict[int, int]
    by_channel: list[Group]
    by_carrier: list[Group]
    by_month: list[Group]


def average(total: int | Decimal | None, count: int) -> Decimal | None:
    if not count:
        return None
    return (Decimal(total or 0) / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _month(session: AsyncSession) -> ColumnElement[Any]:
    """The feedback's month in UTC as YYYY-MM: each database has its own date formatting."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", OrderFeedback.received_at)  # stored as UTC text
    return func.to_char(func.timezone("UTC", OrderFeedback.received_at), "YYYY-MM")


def _within(query: Select[Any], received_from: datetime | None, received_before: datetime | None) -> Select[Any]:
    if received_from is not None:
        query = query.where(OrderFeedback.received_at >= received_from)
    if received_before is not None:
        query = query.where(OrderFeedback.received_at < received_before)
    return query


async def feedback_summary(session: AsyncSession, *, received_from: datetime | None = None,
                           received_before: datetime | None = None) -> FeedbackSummary:
    """Every feedback received in [received_from, received_before): the average rating and the
    counts by rating, sales channel, carrier and month. An order shipped with two carriers
    counts once for each; an order without a shipment counts for no carrier."""
    async def grouped(key: ColumnElement[Any], joined: Select[Any]) -> list[Group]:
        # One row per (key, order) first: an order met twice by a join (two shipments with one
        # carrier) counts, and its rating weighs, once.
        rows = _within(joined.add_columns(key.label("key"), OrderFeedback.order_id, OrderFeedback.rating),
                       received_from, received_before).distinct().subquery()
        result = (await session.execute(select(rows.c.key, func.count(), func.sum(rows.c.rating))
                                        .group_by(rows.c.key).order_by(rows.c.key))).all()
        return [Group(key=str(k), count=n, average_rating=average(total, n) or Decimal("0"))
                for k, n, total in result]

    by_rating = dict.fromkeys(RATINGS, 0)
    for rating, n in (await session.execute(_within(
            select(OrderFeedback.rating, func.count()).group_by(OrderFeedback.rating),
            received_from, received_before))).all():
        by_rating[int(rating)] = n
    by_channel = await grouped(Order.channel, select().select_from(OrderFeedback).join(
        Order, Order.id == OrderFeedback.order_id))
    by_carrier = await grouped(Shipment.carrier, select().select_from(OrderFeedback).join(
        Shipment, (Shipment.order_id == OrderFeedback.order_id) & (Shipment.status != ShipmentStatus.CANCELLED.value)))
    by_month = await grouped(_month(session), select().select_from(OrderFeedback))
    count = sum(by_rating.values())
    total = sum(rating * n for rating, n in by_rating.items())
    return FeedbackSummary(count=count, average_rating=average(total, count), by_rating=by_rating,
                           by_channel=by_channel, by_carrier=by_carrier, by_month=by_month)
