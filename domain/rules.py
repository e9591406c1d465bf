"""What may happen in which status: the rules for human steps (DESIGN.md, Temporal rules).

A confirmation for the step the order is at, or one that arrives while the order is still on
its way there with no other human step in between, is accepted (and applied when the order
gets there). A confirmation for a step already done is a harmless no-op. One that skips a
human step, or comes after the order is finished, is refused naming the current status.
"""

from enum import StrEnum

from pydantic import BaseModel

from domain.enums import OrderStatus, TrackingEventKind

FINAL_STATUSES = frozenset(
    {OrderStatus.PAYMENT_FAILED, OrderStatus.COMPLETED, OrderStatus.CANCELLED}
)
# Statuses on the way to PICKING with no human step in between: a pick confirmation that
# arrives here is kept and applied once the order reaches PICKING.
BEFORE_PICKING = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.PAYMENT_AUTHORIZED,
        OrderStatus.RESERVED,
        OrderStatus.PICKING,
    }
)


class Outcome(StrEnum):
    ACCEPT = "accept"
    NOOP = "noop"
    REFUSE = "refuse"


class Decision(BaseModel):
    outcome: Outcome
    message: str


class StepProgress(BaseModel):
    """The facts about an order's progress that the rules look at."""

    status: OrderStatus
    picked: bool = False
    packed: bool = False
    handed_over: bool = False
    delivered: bool = False
    feedback_received: bool = False
    cancel_requested: bool = False
    # Waiting in AWAITING_CUSTOMER for a new payment (the card authorization expired and could
    # not be renewed), not for an answer about missing stock.
    awaiting_payment: bool = False
    # A short pick was reported and its units are not handled yet.
    short_pick_pending: bool = False
    # An order shipped in parts: how many of its shipments left with the carrier before the
    # one in progress (their packages can be tracked; a cancellation cancels only the rest).
    shipped_parts: int = 0


def _accept(message: str) -> Decision:
    return Decision(outcome=Outcome.ACCEPT, message=message)


def _noop(message: str) -> Decision:
    return Decision(outcome=Outcome.NOOP, message=message)


def _refuse(message: str) -> Decision:
    return Decision(outcome=Outcome.REFUSE, message=message)


def _finished(p: StepProgress) -> Decision | None:
    if p.status in FINAL_STATUSES:
        return _refuse(f"order is {p.status}; nothing more can be confirmed for it")
    if p.cancel_requested:
        return _refuse(f"order is {p.status} and being cancelled; nothing more can be confirmed for it")
    return None


def decide_pick(p: StepProgress) -> Decision:
    if p.picked:
        return _noop("pick was already confirmed")
    if p.short_pick_pending:
        return _refuse(f"order is {p.status}; its pick list finished short and the missing units are being "
                       "handled (the order's backorder policy)")
    if refused := _finished(p):
        return refused
    if p.status not in BEFORE_PICKING:
        return _refuse(f"order is {p.status}; it cannot be picked until it is released to the warehouse")
    if p.status == OrderStatus.PICKING:
        return _accept("pick confirmed")
    return _accept(f"pick recorded while the order is {p.status}; applied when it reaches PICKING")


def decide_short_pick(p: StepProgress) -> Decision:
    """The warehouse reports units it could not pick: only while the order waits for its pick."""
    if p.picked or p.short_pick_pending:
        return _noop("the pick is over already; its short units are being handled")
    if refused := _finished(p):
        return refused
    if p.status != OrderStatus.PICKING:
        return _refuse(f"order is {p.status}; a short pick can only be reported while it is PICKING")
    return _accept("short pick received: the missing units go down the out-of-stock path")


def decide_pack(p: StepProgress) -> Decision:
    if p.packed:
        return _noop("pack was already confirmed")
    if refused := _finished(p):
        return refused
    if not p.picked:
        return _refuse(f"order is {p.status}; confirm the pick before the pack")
    return _accept("pack confirmed")


def decide_handover(p: StepProgress) -> Decision:
    if p.handed_over:
        return _noop("handover was already confirmed")
    if refused := _finished(p):
        return refused
    if not p.packed:
        return _refuse(f"order is {p.status}; confirm the pack before the handover")
    return _accept("handover confirmed")


def decide_cancel(p: StepProgress) -> Decision:
    if p.status == OrderStatus.CANCELLED or p.cancel_requested:
        return _noop("order was already cancelled")
    if refused := _finished(p):
        return refused
    if p.handed_over:
        return _refuse(f"order is {p.status}; it has been handed to the carrier and can no longer be cancelled")
    if p.shipped_parts:
        return _accept("cancellation accepted for the part of the order that has not shipped; what shipped "
                       "goes on (return it with a return request)")
    return _accept("cancellation accepted")


def decide_tracking(p: StepProgress, event: TrackingEventKind) -> Decision:
    if p.status == OrderStatus.CANCELLED or p.status == OrderStatus.PAYMENT_FAILED:
        return _refuse(f"order is {p.status}; it has no shipment to track")
    if not p.handed_over and not p.shipped_parts:
        return _refuse(f"order is {p.status}; the parcel has not been handed to the carrier yet")
    if p.delivered or p.status == OrderStatus.COMPLETED:
        return _noop(f"order is already {p.status}; {event} recorded without a status change")
    return _accept(f"tracking event {event} accepted")


def decide_feedback(p: StepProgress) -> Decision:
    if p.feedback_received:
        return _noop("feedback was already received")
    if refused := _finished(p):
        return refused
    if not p.delivered:
        return _refuse(f"order is {p.status}; feedback is accepted once the order is delivered")
    return _accept("feedback received")


def decide_backorder(p: StepProgress, already_decided: bool) -> Decision:
    if already_decided:
        return _noop("the customer's choice was already received")
    if refused := _finished(p):
        return refused
    if p.awaiting_payment:
        return _refuse("order waits for a new payment, not for a backorder decision; send the payment with "
                       "POST /orders/{id}/payment")
    if p.status != OrderStatus.AWAITING_CUSTOMER:
        return _refuse(f"order is {p.status}; a backorder decision is only asked for in AWAITING_CUSTOMER")
    return _accept("backorder decision received")


def decide_new_payment(p: StepProgress) -> Decision:
    if refused := _finished(p):
        return refused
    if not p.awaiting_payment:
        return _refuse(f"order is {p.status}; a new payment is only asked for when the card authorization "
                       f"expired and could not be renewed")
    return _accept("new payment received")
