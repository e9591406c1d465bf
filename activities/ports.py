"""The ports Orderflow talks to the outside world through. A real provider's adapter
implements the same Protocol as the sandbox one in ``activities/adapters``.

Every call that acts carries the caller's idempotency key; a repeated key must return the
original answer without acting again (as payment and carrier APIs do).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, Field

from domain.enums import AlertKind, NotificationChannel, OrderStatus, PaymentMethod, PaymentStatus


class PaymentDeclined(Exception):
    """The provider refused the payment (card declined, bank refused): do not retry."""


class CarrierRefused(Exception):
    """The carrier will not take this parcel (too heavy, destination not served)."""


class ProviderPayment(BaseModel):
    payment_id: str
    method: PaymentMethod
    status: PaymentStatus
    authorized: Decimal
    captured: Decimal
    refunded: Decimal


class PaymentProvider(Protocol):
    async def authorize(
        self, *, reference: str, method: PaymentMethod, token: str, amount: Decimal, idempotency_key: str
    ) -> ProviderPayment:
        """Card: authorize ``amount``. iDEAL: the customer pays at once (captured)."""
        ...

    async def capture(self, *, payment_id: str, amount: Decimal, idempotency_key: str,
                      final: bool = True) -> ProviderPayment:
        """Capture ``amount`` of an authorization. ``final=False`` (a shipment of an order
        shipped in parts) keeps the rest authorized for later captures (status
        ``partially_captured``); a final capture releases whatever is left."""
        ...

    async def void(self, *, payment_id: str, idempotency_key: str) -> ProviderPayment:
        """Release an authorization (after a partial capture: the rest of it)."""
        ...

    async def refund(self, *, payment_id: str, amount: Decimal, idempotency_key: str) -> ProviderPayment: ...


class Parcel(BaseModel):
    """One package (collo) as the carrier sees it: its gross weight, outer size and where it goes."""

    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int
    country: str
    postcode: str


class CarrierRate(BaseModel):
    carrier: str
    service: str
    price: Decimal
    transit_days: int


class CarrierBooking(BaseModel):
    carrier: str
    service: str
    tracking_number: str  # the first package's
    # One tracking number per package, in the order the packages were given (empty in
    # bookings recorded before shipments had several packages: one package).
    package_tracking_numbers: list[str] = Field(default_factory=list)


class CarrierGateway(Protocol):
    """A carrier's API. A shipment of several packages (multi-collo) is one booking: the
    carrier takes every package or refuses the whole booking (one too heavy or too large for
    the service refuses it), and gives each package its own tracking number."""

    async def rates(self, parcels: list[Parcel]) -> list[CarrierRate]:
        """Every carrier service that can take every one of these packages, with the price
        of them all together and the transit time."""
        ...

    async def book(self, *, carrier: str, service: str, parcels: list[Parcel], idempotency_key: str) -> CarrierBooking: ...

    async def cancel(self, *, tracking_numbers: list[str], idempotency_key: str) -> None:
        """Cancel a booking: every package of it."""
        ...


class PimStatusUpdate(BaseModel):
    order_id: str
    sequence: int
    status: OrderStatus
    skus: list[str]


class ProductInformationSystem(Protocol):
    async def publish_order_status(self, update: PimStatusUpdate) -> None:
        """Idempotent per (order, sequence)."""
        ...


class OutgoingMessage(BaseModel):
    order_id: str
    sequence: int
    channel: NotificationChannel
    recipient: str
    subject: str
    body: str


class Notifier(Protocol):
    async def send(self, message: OutgoingMessage) -> None:
        """Idempotent per (order, sequence, channel)."""
        ...


class SupplierConfirmation(BaseModel):
    supplier_reference: str
    expected_date: date


class Supplier(Protocol):
    """A supplier's ordering interface (EDI, e-mail gateway, supplier portal API)."""

    async def place_purchase_order(self, *, purchase_order_id: str, sku: str, quantity: int) -> None:
        """Idempotent per purchase order id."""
        ...

    async def amend_purchase_order(self, *, purchase_order_id: str, quantity: int) -> None:
        """Change the quantity of a purchase order the supplier has not confirmed yet."""
        ...

    async def confirm_purchase_order(self, *, purchase_order_id: str, lead_time_days: int, today: date) -> SupplierConfirmation:
        """The supplier's confirmation with its delivery date."""
        ...


class Replenishment(Protocol):
    """Tells the replenishment process of a SKU that its demand changed."""

    async def demand_changed(self, sku: str, reason: str, order_id: str | None) -> None: ...


class AlertNotice(BaseModel):
    alert_id: int
    kind: AlertKind
    message: str
    raised_at: datetime
    order_id: str | None = None
    reference: str | None = None


class OpsNotifier(Protocol):
    """The operations notification channel (e-mail to the ops desk, a chat webhook, a pager)."""

    async def notify(self, alert: AlertNotice) -> None:
        """Idempotent per alert id."""
        ...
