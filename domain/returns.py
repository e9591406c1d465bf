"""Returns and refunds: the return workflow's contract and the pure rules behind it (what may
be returned and when, and how much is refunded). Stdlib + pydantic only: the return workflow
imports it."""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.accountability import Actor

# EU consumer law gives at least 14 days to withdraw; the setting may only lengthen it.
MINIMUM_RETURN_WINDOW_DAYS = 14
CENT = Decimal("0.01")


class ReturnStatus(StrEnum):
    AWAITING_PARCEL = "AWAITING_PARCEL"  # registered; the customer sends the goods back
    INSPECTED = "INSPECTED"  # received and inspected by the warehouse
    REFUNDED = "REFUNDED"
    REFUND_FAILED = "REFUND_FAILED"  # the provider kept refusing: operations steps in
    EXPIRED = "EXPIRED"  # no parcel arrived in time


class Disposition(StrEnum):
    RESELLABLE = "resellable"  # back into stock
    DAMAGED = "damaged"  # written off


class ReturnLineRequest(BaseModel):
    line_no: int = Field(ge=1)
    quantity: int = Field(ge=1)


class ReturnWorkflowInput(BaseModel):
    return_id: str
    parcel_wait_seconds: float = 30 * 24 * 3600


class ReturnStatusChange(BaseModel):
    """One step of a return, told to the read model and the customer once (keyed by step)."""

    return_id: str
    status: ReturnStatus
    reason: str | None = None
    # Filled in by the activity's answer: the return's order (None in answers recorded before).
    order_id: str | None = None


class InspectedLine(BaseModel):
    line_no: int = Field(ge=1, description="The order line number as in the return")
    disposition: Disposition


class InspectionInput(BaseModel):
    """The warehouse's receipt and inspection of a returned parcel: one disposition per line."""

    inspected_by: str | None = None
    lines: list[InspectedLine] = Field(min_length=1)
    # The API key that sent it; None in inspections sent before keys were recorded.
    actor: Actor | None = None


class InspectionRequest(BaseModel):
    return_id: str
    inspection: InspectionInput


class InspectionBooked(BaseModel):
    restocked: dict[str, int] = Field(default_factory=dict)  # sku → units back on the shelf
    written_off: dict[str, int] = Field(default_factory=dict)


class ReturnStepResult(BaseModel):
    accepted: bool
    status: ReturnStatus
    message: str


class RefundRequest(BaseModel):
    return_id: str
    idempotency_key: str
    # Who caused the refund: the inspection's sender (recorded on the refund and credit note).
    actor: Actor | None = None


class RefundResult(BaseModel):
    amount: Decimal
    shipping_amount: Decimal = Decimal("0.00")
    credit_note_number: int | None = None
    # Set when nothing could be refunded (nothing left of the capture).
    note: str | None = None


class ReturnView(BaseModel):
    return_id: str
    status: ReturnStatus
    inspected: bool = False
    label: "ReturnLabel | None" = None


# --- rules ------------------------------------------------------------------------------


class ReturnRefused(Exception):
    """A return request that may not be made; the message says why and what is possible."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def return_window_closes(delivered_at: datetime, window_days: int) -> datetime:
    return delivered_at + timedelta(days=max(window_days, MINIMUM_RETURN_WINDOW_DAYS))


def check_return_window(delivered_at: datetime | None, now: datetime, window_days: int) -> None:
    if delivered_at is None:
        raise ReturnRefused("the order has not been delivered yet; a return can be requested once it is",
                            conflict=True)
    closes = return_window_closes(delivered_at, window_days)
    if now > closes:
        raise ReturnRefused(
            f"the return window closed on {closes.date().isoformat()} "
            f"({max(window_days, MINIMUM_RETURN_WINDOW_DAYS)} days after delivery on "
            f"{delivered_at.date().isoformat()}); contact customer service for a case")


def check_return_quantities(
    requested: list[ReturnLineRequest], delivered: dict[int, int], already_returned: dict[int, int]
) -> None:
    """Each line at most once per request, and no more than delivered minus earlier returns."""
    seen: set[int] = set()
    for line in requested:
        if line.line_no in seen:
            raise ReturnRefused(f"line {line.line_no} is named twice; name each order line once")
        seen.add(line.line_no)
        if line.line_no not in delivered:
            raise ReturnRefused(f"the order has no delivered line {line.line_no}; "
                                f"delivered lines: {sorted(delivered) or 'none'}")
        left = delivered[line.line_no] - already_returned.get(line.line_no, 0)
        if line.quantity > left:
            raise ReturnRefused(
                f"line {line.line_no}: {line.quantity} to return, but only {left} of the {delivered[line.line_no]} "
                f"delivered can still be returned")


def line_refund(unit_price: Decimal, quantity: int, line_quantity: int, line_total: Decimal) -> Decimal:
    """The refund for ``quantity`` of a line: the whole line's total when all of it comes back
    (the line was rounded once), otherwise unit price × quantity, half-up to the cent."""
    if quantity == line_quantity:
        return line_total
    return (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def refund_amount(goods: Decimal, shipping: Decimal, captured: Decimal, refunded: Decimal) -> Decimal:
    """Never more than what was captured minus what was already refunded."""
    return max(Decimal("0.00"), min(goods + shipping, captured - refunded)).quantize(CENT)


def message_sequence(return_number: int, status: ReturnStatus) -> int:
    """The customer message's sequence for a return step. Negative, so it never meets an order
    status change's sequence (positive) in the per-(order, sequence, channel) dedupe key."""
    return -(return_number * 10 + list(ReturnStatus).index(status) + 1)


class ReturnLabelRequest(BaseModel):
    return_id: str
    idempotency_key: str


class ReturnLabel(BaseModel):
    """The booked return parcel and where its label can be downloaded."""

    carrier: str
    service: str
    tracking_number: str
    document_id: str
    url: str


ReturnView.model_rebuild()
