"""Customers' personal data: erasure on request (the GDPR's right to erasure), by operations.
What is erased, what is kept for bookkeeping law and why is in ``storage.erasure`` and the
README's "Personal data" section."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import Ops, Sessions
from api.errors import ApiError
from api.routers.orders import AUTH_RESPONSES
from api.schemas import ErrorOut
from logs import get_logger
from storage.erasure import OrdersInFlight, UnknownCustomer, erase_customer
from storage.models import CustomerErasure

router = APIRouter(prefix="/customers", tags=["customers"])
log = get_logger(__name__)

KEPT = [
    "orders with their lines, amounts and VAT, payments, refunds and credit notes",
    "invoice numbers and the invoice documents already issued (as they were on the day of issue)",
]
KEPT_BECAUSE = ("Dutch bookkeeping law (art. 2:10 BW, art. 52 AWR) requires the records behind the accounts, "
                "invoices included, to be kept for seven years")


class ErasureOut(BaseModel):
    customer_id: str
    erased_at: datetime
    erased_by: str = Field(description="The name of the API key that asked for the erasure")
    erased_by_role: str
    erased: dict[str, int] = Field(description="Rows changed (or deleted) per table")
    kept: list[str] = Field(description="What is kept, and holds the customer's data as it was")
    kept_because: str


def _out(record: CustomerErasure) -> ErasureOut:
    return ErasureOut(customer_id=record.customer_id, erased_at=record.erased_at, erased_by=record.erased_by,
                      erased_by_role=record.erased_by_role, erased=dict(record.summary), kept=KEPT,
                      kept_because=KEPT_BECAUSE)


@router.post("/{customer_id}/erase", response_model=ErasureOut, summary="Erase a customer's personal data",
             responses={**AUTH_RESPONSES,
                        404: {"model": ErrorOut, "description": "No such customer"},
                        409: {"model": ErrorOut, "description": "The customer has orders not yet delivered or "
                                                                "cancelled (listed in `orders`)"}})
async def erase(
    customer_id: Annotated[str, Path(max_length=64, description="Orderflow's customer id (cus_...), as in an "
                                                                "order's customer.id")],
    principal: Ops, sessions: Sessions,
) -> ErasureOut:
    """Removes the customer's name, e-mail, phone and the channel's customer id, the shipping
    addresses and payment tokens of their orders, the messages sent to them, feedback
    comments, return reasons, the free text of cases about their orders, cancellation reasons,
    and their shipping labels and packing slips; nothing is sent to them afterwards. Invoices
    and the amounts behind them are kept (bookkeeping law: seven years). Refused with 409 while
    an order of theirs is not yet delivered or cancelled (the carrier needs the address). A
    repeat answers 200 with the first erasure's record. Roles: ops."""
    try:
        result = await erase_customer(sessions, customer_id, principal.actor())
    except UnknownCustomer as exc:
        raise ApiError(404, f"no customer {customer_id!r}; use the cus_ id shown as customer.id on their orders "
                            "(GET /orders?customer=<the channel's customer id>)") from exc
    except OrdersInFlight as exc:
        raise ApiError(409, f"customer {customer_id} has orders the carrier still needs the address for: {exc}; "
                            "erase once they are delivered or cancelled (cancel with POST /orders/{id}/cancel)",
                       orders=[{"order_id": o, "status": s} for o, s in exc.orders]) from exc
    if result.erased_now:
        log.info("customer erased", customer_id=customer_id, summary=result.record.summary)
    return _out(result.record)
