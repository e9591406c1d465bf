"""Customer-service cases: their kinds and statuses, and when a case opens by itself."""

from enum import StrEnum

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
