"""Loyalty discount codes (operations): issue and list them. An order redeems one at intake
(``discount_code`` in ``POST /orders``); a cancelled order gives it back. Orderflow issues
codes by itself too (``domain.loyalty``): those name the order that earned them."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.exc import IntegrityError

from api.deps import Ops, Sessions
from api.errors import ApiError
from api.schemas import ErrorOut
from domain.discounts import DiscountKind
from storage.db import transaction
from storage.discounts import issue_code as add_code, list_codes, normalise
from storage.models import Customer, DiscountCode

router = APIRouter(prefix="/discount-codes", tags=["discount codes"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "Only an ops key may manage discount codes"},
}


class DiscountCodeBody(BaseModel):
    code: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                      description="Letters, digits, - and _; stored in upper case")
    kind: DiscountKind
    value: Decimal = Field(gt=0, max_digits=10, decimal_places=2,
                           description="Percentage (up to 100) or euro amount")
    min_order_value: Decimal = Field(default=Decimal("0.00"), ge=0, max_digits=10, decimal_places=2)
    expires_at: datetime | None = Field(default=None, description="ISO 8601; no timezone means UTC")
    max_uses: int = Field(default=1, ge=1, le=1_000_000, description="1 for a single-use code")
    customer_id: str | None = Field(default=None, max_length=40,
                                    description="Only this customer (Orderflow's customer id, cus_...) may use it")

    @model_validator(mode="after")
    def _percentage_at_most_100(self) -> "DiscountCodeBody":
        if self.kind == DiscountKind.PERCENTAGE and self.value > 100:
            raise ValueError("a percentage discount is at most 100")
        return self


class DiscountCodeOut(BaseModel):
    code: str
    kind: DiscountKind
    value: Decimal
    min_order_value: Decimal
    expires_at: datetime | None
    max_uses: int
    uses: int
    customer_id: str | None
    issued_by: str
    created_at: datetime
    order_id: str | None = Field(description="For a code Orderflow issued by itself: the order that earned it "
                                             "(good feedback, or a make-up for a problem)")


def _out(row: DiscountCode) -> DiscountCodeOut:
    return DiscountCodeOut(code=row.code, kind=DiscountKind(row.kind), value=row.value,
                           min_order_value=row.min_order_value, expires_at=row.expires_at, max_uses=row.max_uses,
                           uses=row.uses, customer_id=row.customer_id, issued_by=row.issued_by,
                           created_at=row.created_at, order_id=row.order_id)


@router.post("", status_code=201, response_model=DiscountCodeOut, summary="Issue a discount code", responses={
    **RESPONSES, 409: {"model": ErrorOut, "description": "The code exists already"},
    422: {"description": "Invalid body, or an unknown customer"}})
async def issue_code(
    principal: Ops, sessions: Sessions, response: Response,
    body: Annotated[DiscountCodeBody, Body(openapi_examples={"thanks": {"summary": "10% once, from EUR 25", "value": {
        "code": "THANKS10", "kind": "percentage", "value": "10", "min_order_value": "25.00", "max_uses": 1}}})],
) -> DiscountCodeOut:
    """Body: `code`, `kind` (percentage or fixed), `value`, optional `min_order_value`,
    `expires_at`, `max_uses` (default 1: single use) and `customer_id`. Roles: ops."""
    expires = body.expires_at
    if expires is not None:
        expires = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires.astimezone(UTC)
    code = normalise(body.code)
    try:
        async with transaction(sessions) as session:
            if body.customer_id is not None and await session.get(Customer, body.customer_id) is None:
                raise ApiError(422, f"no customer {body.customer_id!r}; give Orderflow's customer id "
                                    "(customer.id in an order, cus_...) or leave customer_id out")
            row = await add_code(session, code=code, kind=body.kind, value=body.value,
                                   min_order_value=body.min_order_value, expires_at=expires, max_uses=body.max_uses,
                                   customer_id=body.customer_id, issued_by=principal.name)
    except IntegrityError as exc:
        raise ApiError(409, f"discount code {code!r} exists already; choose another code") from exc
    response.headers["Location"] = f"/discount-codes/{code}"
    return _out(row)


@router.get("", response_model=list[DiscountCodeOut], responses=RESPONSES, summary="List discount codes")
async def get_codes(principal: Ops, sessions: Sessions) -> list[DiscountCodeOut]:
    """Every code with how often it has been used, newest first. Roles: ops."""
    async with sessions() as session:
        return [_out(r) for r in await list_codes(session)]
