"""Customer-service cases: their kinds and statuses, when a case opens by itself, what
resolving one can set in motion (a reshipment at no charge, or a refund), and the contract of
the case-refund workflow. Stdlib + pydantic only: the workflow imports it."""

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from domain.accountability import Actor

# Feedback at or below this rating opens a case (customer service calls the customer back).
LOW_RATING = 2


class CaseKind(StrEnum):
    COMPLAINT = "complaint"
    DAMAGED = "damaged"
    MISSING_ITEM = "missing_item"
    LATE_DELIVERY = "late_delivery"
    OTHER = "other"


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


def opens_case(rating: int) -> bool:
    return rating <= LOW_RATING


def low_rating_subject(rating: int, comment: str | None) -> str:
    text = f"feedback rating {rating} of 5"
    if comment:
        text += f": {comment}"
    return text[:300]


class CaseActionKind(StrEnum):
    RESHIPMENT = "reshipment"  # a new linked order at no charge
    REFUND = "refund"  # through the payment provider, with a credit note


class CaseActionStatus(StrEnum):
    PENDING = "pending"  # the reshipment's order is on its way / the refund is being made
    DONE = "done"  # refunded (a reshipment is followed on its own order)
    FAILED = "failed"  # the refund kept failing: an alert tells operations


class CaseRefundInput(BaseModel):
    """The case-refund workflow (``case-refund-{case_id}``): refund what the resolved case says."""

    case_id: str
    actor: Actor | None = None


class CaseRefundResult(BaseModel):
    amount: Decimal
    credit_note_number: int | None = None
    failure: str | None = None


class CaseRefundFailed(BaseModel):
    """A case's refund given up on: recorded on the case; the answer names its order."""

    case_id: str
    reason: str
    order_id: str | None = None
