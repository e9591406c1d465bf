"""Feedback: the customer's own link (no API key; the token is scoped to one order) and the
feedback figures for operations.

``POST /feedback/{token}`` goes through exactly the path of ``POST /orders/{id}/feedback`` (the
workflow's ``submit_feedback`` update, the action log), acting as the order's own channel. A
token that was not made by Orderflow for an existing order is 404, whatever is wrong with it,
so tokens cannot be probed.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.deps import Ops, Principal, Sessions, SettingsDep, Temporal
from api.errors import ApiError
from api.routers import orders
from api.schemas import ErrorOut, FeedbackBody, RefusedOut, StepOut
from domain.enums import OrderStatus, Role
from domain.feedback_links import order_of_token
from storage.feedback import feedback_summary
from storage.models import Order, OrderFeedback
from storage.queries import get_order

router = APIRouter(prefix="/feedback", tags=["feedback"])

# The action log names the link, with the order's channel as its role's scope.
LINK_ACTOR = "feedback link"
Token = Annotated[str, Path(max_length=200, description="The token from the feedback link in the customer's message")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Not a feedback link Orderflow made, or its order does not exist"}}


class FeedbackLine(BaseModel):
    name: str
    quantity: int


class FeedbackGiven(BaseModel):
    rating: int
    comment: str | None


class FeedbackPage(BaseModel):
    """What the customer sees behind the link: no address, no contact details, no prices."""

    order_id: str
    status: OrderStatus
    lines: list[FeedbackLine]
    accepts_feedback: bool = Field(description="True while a rating can be given (the order is delivered and "
                                               "not completed yet)")
    feedback: FeedbackGiven | None = Field(description="The feedback already given, if any")


class GroupOut(BaseModel):
    key: str
    count: int
    average_rating: Decimal


class FeedbackSummaryOut(BaseModel):
    received_from: date | None
    received_to: date | None
    count: int
    average_rating: Decimal | None = Field(description="To two decimals; null without feedback")
    by_rating: dict[str, int] = Field(description="Rating 1-5 → count (every rating, zeros included)")
    by_channel: list[GroupOut]
    by_carrier: list[GroupOut] = Field(description="Orders shipped with two carriers count for each")
    by_month: list[GroupOut] = Field(description="YYYY-MM (UTC) when the feedback was received")


async def _order_of(sessions: Sessions, settings: SettingsDep, token: str) -> Order:
    order_id = order_of_token(settings.feedback_link_secret.get_secret_value(), token)
    if order_id is not None:
        async with sessions() as session:
            order = await get_order(session, order_id)
        if order is not None:
            return order
    raise ApiError(404, "this feedback link is not valid; use the link from your message exactly as sent")


@router.get("/summary", response_model=FeedbackSummaryOut, summary="Feedback figures", responses={
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "Only an ops key may read the figures"},
    422: {"description": "A date that is not YYYY-MM-DD, or `from` after `to`"}})
async def get_summary(
    principal: Ops, sessions: Sessions,
    received_from: Annotated[date | None, Query(alias="from", description="First day (UTC), inclusive")] = None,
    received_to: Annotated[date | None, Query(alias="to", description="Last day (UTC), inclusive")] = None,
) -> FeedbackSummaryOut:
    """The average rating and the counts by rating, sales channel, carrier and month, of the
    feedback received between `from` and `to` (both optional, inclusive). Roles: ops."""
    if received_from and received_to and received_from > received_to:
        raise RequestValidationError([{"loc": ("query", "from"), "type": "value_error",
                                       "msg": f"from ({received_from}) is after to ({received_to}); swap them"}])
    start = datetime.combine(received_from, time(), UTC) if received_from else None
    try:
        end = datetime.combine(received_to + timedelta(days=1), time(), UTC) if received_to else None
    except OverflowError:
        end = None  # to = 9999-12-31: no upper bound
    async with sessions() as session:
        s = await feedback_summary(session, received_from=start, received_before=end)
    return FeedbackSummaryOut(
        received_from=received_from, received_to=received_to, count=s.count, average_rating=s.average_rating,
        by_rating={str(k): v for k, v in s.by_rating.items()},
        by_channel=[GroupOut(key=g.key, count=g.count, average_rating=g.average_rating) for g in s.by_channel],
        by_carrier=[GroupOut(key=g.key, count=g.count, average_rating=g.average_rating) for g in s.by_carrier],
        by_month=[GroupOut(key=g.key, count=g.count, average_rating=g.average_rating) for g in s.by_month])


@router.get("/{token}", response_model=FeedbackPage, responses=NOT_FOUND, summary="The order behind a feedback link")
async def get_feedback_page(token: Token, sessions: Sessions, settings: SettingsDep) -> FeedbackPage:
    """No API key: the token names the one order. The order's id, status and what was in it,
    and the feedback if it was given already."""
    order = await _order_of(sessions, settings, token)
    async with sessions() as session:
        given = await session.get(OrderFeedback, order.id)
    status = OrderStatus(order.status)
    return FeedbackPage(
        order_id=order.id, status=status,
        lines=[FeedbackLine(name=ln.name, quantity=ln.quantity) for ln in order.lines if not ln.dropped],
        accepts_feedback=given is None and status in (OrderStatus.DELIVERED, OrderStatus.FEEDBACK_REQUESTED),
        feedback=FeedbackGiven(rating=given.rating, comment=given.comment) if given else None)


@router.post("/{token}", response_model=StepOut, summary="Give feedback through the link", responses={
    **NOT_FOUND,
    409: {"model": RefusedOut, "description": "Not delivered yet, or the order is completed: the body says which"},
    422: {"description": "rating is not a whole number from 1 to 5, or the comment is over 2000 characters"},
    503: {"model": ErrorOut, "description": "Temporal is not reachable; try again"}})
async def give_feedback(
    token: Token, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
    body: Annotated[FeedbackBody, Body(openapi_examples={
        "happy": {"summary": "Five stars", "value": {"rating": 5, "comment": "Quick and well packed"}}})],
) -> StepOut:
    """No API key. Body: `{"rating": 1-5, "comment"?}`. The same as `POST /orders/{id}/feedback`
    by the order's channel: accepted once the order is delivered, then the order completes; a
    rating of 2 or lower opens a customer-service case. A repeat while the order is still
    completing answers 200 with `accepted: false`; once it is completed, 409."""
    order = await _order_of(sessions, settings, token)
    if OrderStatus(order.status) == OrderStatus.COMPLETED:
        async with sessions() as session:
            given = await session.get(OrderFeedback, order.id)
        detail = (f"thank you: feedback for order {order.id} was received already ({given.rating}/5)" if given else
                  f"order {order.id} is completed; it no longer takes feedback")
        raise ApiError(409, detail, status=order.status)
    link = Principal(role=Role.CHANNEL, name=LINK_ACTOR, channel=order.channel)
    return await orders.feedback(order_id=order.id, principal=link, sessions=sessions, temporal=temporal,
                                 settings=settings, body=body)
