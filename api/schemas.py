"""Request and response bodies of the HTTP API.

Requests are checked before anything touches the database: text may not hold NUL or other
control characters or unpaired surrogates (PostgreSQL and UTF-8 reject them, so they would
otherwise fail deep inside a transaction), and every error names the field it is about.
"""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from domain.enums import OrderStatus, TimelineKind, TrackingEventKind
from domain.intake import NewOrder

# A control character other than tab, newline and carriage return, or an unpaired surrogate.
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

CHANNEL_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ORDER_ID_PATTERN = r"^ord_[a-z0-9]{1,36}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


def _where(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "body"


def find_bad_text(value: Any) -> str | None:
    """A message naming the first string (or object key) in ``value`` that holds a control
    character or an unpaired surrogate, or None. Iterative: a deeply nested body must not
    exhaust the stack."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if (m := _BAD_TEXT.search(item)) is not None:
                return (f"{_where(path)} contains the control character or unpaired surrogate "
                        f"U+{ord(m.group()):04X}; remove it")
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and _BAD_TEXT.search(key):
                    return f"{_where(path)} has a field name with a control character or unpaired surrogate; remove it"
            pending.extend((v, (*path, k)) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            pending.extend((v, (*path, i)) for i, v in reversed(list(enumerate(item))))
    return None


class CleanText(BaseModel):
    """Base of request bodies: refuses text the database could not store."""

    @model_validator(mode="before")
    @classmethod
    def _clean_text(cls, data: Any) -> Any:
        if (problem := find_bad_text(data)) is not None:
            raise ValueError(problem)
        return data


# --- orders -----------------------------------------------------------------------------


class PlaceOrder(CleanText, NewOrder):
    """``POST /orders``: a new order (domain.intake.NewOrder). A channel key's order always gets
    the key's channel, whatever ``channel`` says here; an ops key names the channel with
    ``?channel=`` or with this field."""

    channel: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)] | None = Field(
        default=None, description="Ignored for channel keys (the key's channel is used); an ops key may name the "
                                  "order's channel here instead of with ?channel=")

    def new_order(self) -> NewOrder:
        return NewOrder.model_validate(self.model_dump(exclude={"channel"}))


class CustomerOut(BaseModel):
    id: str = Field(description="Orderflow's opaque customer id (also the CustomerId search attribute)")
    external_id: str = Field(description="The channel's own customer id")
    name: str | None
    email: str | None
    phone: str | None
    locale: str
    notification_channels: list[str]


class AddressOut(BaseModel):
    country: str | None
    street: str | None
    house_number: str | None
    house_number_addition: str | None
    postcode: str | None
    city: str | None


class LineOut(BaseModel):
    line_no: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal = Field(description="Price snapshot incl. VAT at the time of ordering")
    vat_rate: Decimal
    line_total: Decimal
    vat_amount: Decimal
    backorder_policy: str | None


class ShippingOut(BaseModel):
    preference: str
    carrier: str | None
    service: str | None


class PaymentOut(BaseModel):
    payment_id: str
    method: str
    status: str
    amount: Decimal
    captured: Decimal
    refunded: Decimal


class ShipmentOut(BaseModel):
    shipment_id: str
    carrier: str
    service: str
    tracking_number: str = Field(description="The first package's tracking number")
    package_tracking_numbers: list[str] = Field(
        default_factory=list, description="One tracking number per package (collo), the first is tracking_number; "
                                          "a carrier's tracking event may name any of them")
    status: str
    price: Decimal
    transit_days: int
    choice_reason: str
    part: int = Field(default=1, description="Which shipment of the order: 1, or 2, ... for an order shipped in parts")


class ActorOut(BaseModel):
    key_name: str = Field(description="The name of the API key that did it")
    role: str = Field(description="That key's role")
    person: str | None = Field(default=None, description="Who the caller said did it (e.g. a picker's name)")


class TimelineOut(BaseModel):
    at: datetime
    kind: TimelineKind
    status: OrderStatus = Field(description="The order's status at that moment")
    message: str
    sequence: int | None = None
    actor: ActorOut | None = Field(default=None, description="kind `action`: who did it")


class FeedbackOut(BaseModel):
    rating: int
    comment: str | None = None


class DiscountOut(BaseModel):
    code: str
    amount: Decimal = Field(description="Taken off the order's total (included in total_amount)")
    given_back: bool = Field(description="True once the order was cancelled and the code can be used again")


class OrderOut(BaseModel):
    order_id: str
    channel: str
    external_reference: str
    status: OrderStatus
    status_sequence: int = Field(description="Grows with every status change")
    needs_attention: bool
    source: Literal["workflow", "read_model"] = Field(
        description="'workflow': live from the running workflow; 'read_model': from the database record")
    workflow_id: str
    workflow_started: bool
    customer: CustomerOut
    shipping_address: AddressOut
    lines: list[LineOut]
    payment_method: str
    shipping: ShippingOut
    backorder_policy: str
    ship_partial: bool = Field(description="Ship what is in stock now and pre-ordered units later, in their own shipment")
    total_amount: Decimal
    vat_amount: Decimal
    currency: str
    payment: PaymentOut | None = None
    shipments: list[ShipmentOut] = Field(default_factory=list)
    timeline: list[TimelineOut] = Field(default_factory=list)
    cancellation_reason: str | None = None
    feedback: FeedbackOut | None = None
    discount: DiscountOut | None = None
    created_at: datetime
    updated_at: datetime


class OrderSummary(BaseModel):
    order_id: str
    channel: str
    external_reference: str
    customer_id: str
    customer_external_id: str
    status: OrderStatus
    needs_attention: bool
    total_amount: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


# --- order steps ------------------------------------------------------------------------

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class StepBody(CleanText):
    model_config = ConfigDict(extra="forbid")

    confirmed_by: Name | None = Field(default=None, description="Who did it; defaults to the API key's name")


class PackedPackageBody(CleanText):
    model_config = ConfigDict(extra="forbid")

    length_mm: int = Field(ge=1, le=3_000, description="Outer length in mm")
    width_mm: int = Field(ge=1, le=3_000, description="Outer width in mm")
    height_mm: int = Field(ge=1, le=3_000, description="Outer height in mm")
    weight_grams: int = Field(ge=1, le=1_500_000, description="Gross weight in grams, packaging included")
    container: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = Field(
        default=None, description="The container used (a catalogue code such as BOX-M), if any")


class PackBody(StepBody):
    packages: list[PackedPackageBody] | None = Field(
        default=None, min_length=1, max_length=99,
        description="What was actually packed, when it differs from the packing plan: each package's outer "
                    "size and gross weight. The carrier is booked with these instead of the plan's packages.")


class CancelBody(CleanText):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] = Field(
        default="cancelled on request", description="Why; shown on the order's timeline")


class FeedbackBody(CleanText):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5, description="1 (bad) to 5 (excellent)")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class CarrierEvent(CleanText):
    model_config = ConfigDict(extra="forbid")

    tracking_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    event: TrackingEventKind
    occurred_at: AwareDatetime | None = Field(default=None, description="With a timezone, e.g. 2026-05-01T14:03:00Z")
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class StepOut(BaseModel):
    order_id: str
    accepted: bool = Field(description="False for a harmless repeat: nothing changed")
    status: OrderStatus = Field(description="The order's status after the step")
    message: str


class ErrorOut(BaseModel):
    detail: str = Field(description="What was wrong and how to fix it")


class RefusedOut(BaseModel):
    detail: str
    status: str = Field(description="The order's current status")


# --- products and stock -----------------------------------------------------------------


class StockOut(BaseModel):
    on_hand: int
    reserved: int = Field(description="Held for orders, not yet shipped")
    available: int = Field(description="on_hand - reserved")


class ProductOut(BaseModel):
    sku: str
    name: str
    price: Decimal = Field(description="Consumer price incl. VAT, euro")
    vat_rate: Decimal = Field(description="Percent: 0, 9 or 21")
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int
    fragile: bool
    ean: str | None
    active: bool
    stock: StockOut
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


VAT_RATES = (Decimal(0), Decimal(9), Decimal(21))
Dimension = Annotated[int, Field(gt=0, le=100_000)]


class ProductIn(CleanText):
    """``PUT /products/{sku}``: create or replace a product (not its stock: see /stock/adjustments)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="Euro incl. VAT, e.g. \"12.95\"")
    vat_rate: Decimal = Field(description="Percent: 0, 9 or 21")
    weight_grams: int = Field(gt=0, le=10_000_000)
    length_mm: Dimension
    width_mm: Dimension
    height_mm: Dimension
    fragile: bool = False
    ean: Annotated[str, StringConstraints(pattern=r"^[0-9]{8,14}$")] | None = Field(
        default=None, description="8 to 14 digits")
    active: bool = True

    @field_validator("vat_rate")
    @classmethod
    def _known_vat_rate(cls, v: Decimal) -> Decimal:
        if v not in VAT_RATES:
            raise ValueError("vat_rate must be 0, 9 or 21 (percent)")
        return v


class StockAdjustment(CleanText):
    """``POST /stock/adjustments``: count corrections, damage, goods found."""

    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(strip_whitespace=True, pattern=SKU_PATTERN)]
    delta: int = Field(ge=-1_000_000, le=1_000_000, description="Units to add (positive) or remove (negative)")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("delta must not be 0: give the units to add (positive) or remove (negative)")
        return v


class StockAdjustmentOut(BaseModel):
    movement_id: int
    sku: str
    delta: int
    reason: str
    stock: StockOut


# --- health -----------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str = Field(description="'up', or 'down: <why>'")
    temporal: str = Field(description="'up', or 'down: <why>'")
    detail: str | None = None
