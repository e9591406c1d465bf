"""Inputs and results of every workflow, activity, signal, update and query.

One pydantic model in, one out (DESIGN.md). Histories carry ids and business facts only:
names, addresses, e-mail addresses and phone numbers stay in the database.
"""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.enums import (
    AlertKind,
    BackorderDecision,
    NotificationChannel,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    ShipmentStatus,
    TimelineKind,
    TrackingEventKind,
)


class OrderWorkflowInput(BaseModel):
    """The order workflow's input: the order id and the follow-up timers in force when the
    order was placed (settings; a demo shortens them). Everything else is read by activities."""

    order_id: str
    feedback_request_delay_seconds: float = 3 * 24 * 3600
    feedback_wait_seconds: float = 14 * 24 * 3600
    # One reminder this long after feedback was asked for (None: no reminder, as for orders
    # placed before reminders existed); counts within feedback_wait_seconds.
    feedback_reminder_after_seconds: float | None = None
    # Out of stock with backorder policy "ask": how long the customer has to answer, and what
    # applies when they do not ("preorder", "cancel" the missing lines, or "cancel_order").
    backorder_decision_timeout_seconds: float = 48 * 3600
    backorder_default: BackorderDecision = BackorderDecision.CANCEL
    # Card authorizations expire; an order that waited longer is authorized again.
    authorization_validity_seconds: float = 7 * 24 * 3600
    # A renewal the card declines: how long the customer has to send a new payment before the
    # order is cancelled (None: cancelled at once, as orders placed before this existed).
    new_payment_wait_seconds: float | None = None
    # Short of stock with units pre-ordered: ship what is there now, the rest in a second
    # shipment (the order's flag; False for orders placed before partial shipments).
    ship_partial: bool = False


# --- payments -------------------------------------------------------------------------


class PaymentRequest(BaseModel):
    """Authorize, capture or cancel the payment of one order; the key makes a retry safe."""

    order_id: str
    idempotency_key: str
    # A new payment token from the customer (authorize with it, and keep it on the order).
    token: str | None = None
    # Capture: which shipment of an order shipped in parts this pays for; ``final`` (the last
    # part, or the whole order) captures everything still open, an earlier part its invoice.
    part: int = 1
    final: bool = True


class NewPayment(BaseModel):
    """The customer's new payment after the card authorization could not be renewed."""

    token: str = Field(min_length=1, max_length=128, description="The provider's token for the new card")


class PaymentResult(BaseModel):
    payment_id: str
    method: PaymentMethod
    status: PaymentStatus
    amount: Decimal
    captured: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")


# --- stock ----------------------------------------------------------------------------


class ReservedLine(BaseModel):
    sku: str
    quantity: int


class StockRequest(BaseModel):
    order_id: str
    idempotency_key: str
    # An order shipped in parts: what leaves (ship) in this part; None: everything held.
    lines: list[ReservedLine] | None = None


class ReservationResult(BaseModel):
    lines: list[ReservedLine]


class ReleaseResult(BaseModel):
    released: list[ReservedLine]


# --- shipping -------------------------------------------------------------------------


class PackedPackage(BaseModel):
    """A package as the packer made it: outer size and gross weight, and the container used."""

    length_mm: int = Field(ge=1, le=3_000)
    width_mm: int = Field(ge=1, le=3_000)
    height_mm: int = Field(ge=1, le=3_000)
    weight_grams: int = Field(ge=1, le=1_500_000)
    container: str | None = Field(default=None, max_length=32)


class ShipmentRequest(BaseModel):
    """Book an order's shipment, or cancel its booking. ``packages``: what the packer reported
    packing, booked instead of the packing plan's packages."""

    order_id: str
    idempotency_key: str
    packages: list[PackedPackage] | None = None
    # An order shipped in parts: which shipment, and what it holds (None: the whole order).
    part: int = 1
    lines: list[ReservedLine] | None = None


class ShipmentInfo(BaseModel):
    shipment_id: str
    carrier: str
    service: str
    tracking_number: str
    price: Decimal
    transit_days: int
    choice_reason: str
    status: ShipmentStatus = ShipmentStatus.BOOKED
    part: int = 1
    # A shipment of several packages (colli) has a tracking number per package; the first is
    # ``tracking_number``. Empty: one package. The shipment is delivered when all of them are.
    package_tracking_numbers: list[str] = Field(default_factory=list)

    def all_tracking_numbers(self) -> list[str]:
        return self.package_tracking_numbers or [self.tracking_number]


# --- status publication ---------------------------------------------------------------


class StatusChange(BaseModel):
    """One status change of an order: written to the read model, the PIM and the customer."""

    order_id: str
    sequence: int
    status: OrderStatus
    occurred_at: datetime
    reason: str | None = None
    needs_attention: bool = False
    tracking_number: str | None = None
    feedback: "FeedbackInput | None" = None
    # The carrier reported a delivery problem (the status stays): the customer is told
    # whatever the customer-statuses setting says, because they are waiting for the parcel.
    delivery_exception: bool = False


class StatusChanges(BaseModel):
    """Status changes that happened back to back (no wait in between), published together."""

    changes: list[StatusChange]


class StatusPublished(BaseModel):
    applied_to_read_model: bool
    messages: list[NotificationChannel] = Field(default_factory=list)
    pim_updated: bool


# --- human steps (updates and signals) ------------------------------------------------


class StepConfirmation(BaseModel):
    """Pick, pack or handover confirmation from warehouse staff."""

    confirmed_by: str | None = None


class PackConfirmation(StepConfirmation):
    """The pack confirmation; ``packages`` when the packer packed otherwise than the plan."""

    packages: list[PackedPackage] | None = None


class TrackingUpdate(BaseModel):
    tracking_number: str
    event: TrackingEventKind
    occurred_at: datetime | None = None
    description: str | None = None


class FeedbackInput(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class CancelRequest(BaseModel):
    reason: str = "cancelled on request"
    requested_by: str | None = None


class StepResult(BaseModel):
    """What an update did: ``accepted`` is False for a harmless repeat (no-op)."""

    accepted: bool
    status: OrderStatus
    message: str


# --- query ----------------------------------------------------------------------------


class TimelineEntry(BaseModel):
    at: datetime
    kind: TimelineKind
    status: OrderStatus
    message: str
    sequence: int | None = None


class OrderView(BaseModel):
    order_id: str
    status: OrderStatus
    sequence: int
    needs_attention: bool = False
    lines: list[ReservedLine] = Field(default_factory=list)
    payment: PaymentResult | None = None
    shipment: ShipmentInfo | None = None
    # An order shipped in parts: the shipments of the parts that left (``shipment`` is the
    # latest, which may be one of them until the next part is booked).
    earlier_shipments: list[ShipmentInfo] = Field(default_factory=list)
    cancellation_reason: str | None = None
    rating: int | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)

    def all_shipments(self) -> list[ShipmentInfo]:
        return all_shipments(self.earlier_shipments, self.shipment)


def all_shipments(earlier: list[ShipmentInfo], latest: ShipmentInfo | None) -> list[ShipmentInfo]:
    """Every shipment of an order, each once, in the order they were booked."""
    known = {s.shipment_id for s in earlier}
    return earlier + ([latest] if latest is not None and latest.shipment_id not in known else [])


StatusChange.model_rebuild()


# --- documents ------------------------------------------------------------------------


class DocumentsRequest(BaseModel):
    """Render and store the label(s), invoice and packing slip of an order's shipment (part 1:
    the whole order, unless it ships in parts), once. ``lines``: the part's units (None: the
    whole order); ``final``: the last part, whose invoice takes what is left of the discount."""

    order_id: str
    idempotency_key: str
    part: int = 1
    lines: list[ReservedLine] | None = None
    final: bool = True


class DocumentsResult(BaseModel):
    invoice_number: str
    document_ids: list[str]


# --- alerts ------------------------------------------------------------------------------


class RaiseAlertRequest(BaseModel):
    """An alert a workflow raises itself (e.g. a carrier's delivery exception, a refund that
    keeps failing); ``dedupe_key`` names the occurrence, so a retry raises it once."""

    kind: AlertKind
    message: str
    dedupe_key: str
    order_id: str | None = None
    reference: str | None = None
    raised_at: datetime


class AlertRaised(BaseModel):
    alert_id: int | None  # None: this occurrence was raised before
    open_alerts: int


class EscalationSweep(BaseModel):
    """One pass of the escalation rules at ``now`` (the sweep workflow's time)."""

    now: datetime
    # The sweep workflow's task queue, where a case refund left pending (its start failed while
    # Temporal was down) is started; None (a sweep of an older schedule run): none is started.
    task_queue: str | None = None


class EscalationSweepResult(BaseModel):
    raised: int
    resolved: int
    notified: int
    refunds_started: int = 0  # case refunds left pending, started by this sweep


class AttentionChange(BaseModel):
    """Sent to an order's workflow when its open alerts change outside it, so the
    ``NeedsAttention`` search attribute follows the alerts."""

    open_alerts: int = Field(ge=0)
    message: str = ""
