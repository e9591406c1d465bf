"""SQLAlchemy 2 typed models: the database record of orders (the read model), the catalogue,
stock, and what each outside system was asked to do.

Money is ``Numeric(12, 2)``; times are timezone-aware UTC. Unique constraints, not
check-then-act code, guard every "exactly once" rule.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    LargeBinary,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.sql import false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both databases (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Money = Numeric(12, 2, asdecimal=True)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), Decimal: Money, dict[str, Any]: JSON}


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_customers_channel_external_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10), default="nl")
    notification_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the customer's personal data was erased (storage.erasure): nothing is sent to
    # them any more, and their record holds no personal data.
    erased_at: Mapped[datetime | None]


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    weight_grams: Mapped[int] = mapped_column(Integer)
    length_mm: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    fragile: Mapped[bool] = mapped_column(Boolean, default=False)
    ean: Mapped[str | None] = mapped_column(String(14))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Replenishment: who supplies it, how long they take, when and how much to reorder.
    supplier: Mapped[str] = mapped_column(String(64), default="default-supplier", server_default="default-supplier")
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    reorder_point: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reorder_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    stock: Mapped["StockLevel | None"] = relationship(back_populates="product", lazy="selectin")


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="ck_stock_reserved_non_negative"),
        CheckConstraint("reserved <= on_hand", name="ck_stock_reserved_within_on_hand"),
    )

    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="stock")

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(Base):
    """The stock ledger: every change of on-hand or reserved stock, with its reason."""

    __tablename__ = "stock_movements"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_stock_movements_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    purchase_order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    # Set where a caller can repeat the same change (a goods receipt): booked once.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(String(500))
    # Who booked it, for movements a person caused (adjustment, goods receipt, return
    # inspection): the API key's name and role. NULL for what the system did by itself.
    actor: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reservation(Base):
    __tablename__ = "reservations"
    # One held row per order and SKU; an order shipped in parts keeps a shipped row per part
    # beside the held one of the part still to come.
    __table_args__ = (Index("uq_reservations_held", "order_id", "sku", unique=True,
                            sqlite_where=text("status = 'held'"), postgresql_where=text("status = 'held'")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="held")  # held, released, shipped
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_reference", name="uq_orders_channel_external_reference"),
        UniqueConstraint("channel", "idempotency_key", name="uq_orders_channel_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), index=True)
    external_reference: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)

    status: Mapped[str] = mapped_column(String(32), index=True, default="RECEIVED")
    status_sequence: Mapped[int] = mapped_column(Integer, default=0)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    workflow_started: Mapped[bool] = mapped_column(Boolean, default=False)

    payment_method: Mapped[str] = mapped_column(String(16))
    payment_token: Mapped[str] = mapped_column(String(128))
    shipping_preference: Mapped[str] = mapped_column(String(16), default="cheapest")
    preferred_carrier: Mapped[str | None] = mapped_column(String(32))
    preferred_service: Mapped[str | None] = mapped_column(String(32))
    backorder_policy: Mapped[str] = mapped_column(String(16), default="ask")
    # Short of stock with units pre-ordered: ship what is there now and the rest when it comes
    # (a shipment per part, each captured on its own), instead of waiting for everything.
    ship_partial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    ship_country: Mapped[str | None] = mapped_column(String(2))
    ship_street: Mapped[str | None] = mapped_column(String(200))
    ship_house_number: Mapped[str | None] = mapped_column(String(20))
    ship_house_number_addition: Mapped[str | None] = mapped_column(String(20))
    ship_postcode: Mapped[str | None] = mapped_column(String(16))
    ship_city: Mapped[str | None] = mapped_column(String(100))

    total_amount: Mapped[Decimal]
    vat_amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A reshipment made by resolving a customer-service case: the order it ships again and
    # the case. (No foreign key on case_id: service_cases already points at orders.)
    reshipment_of: Mapped[str | None] = mapped_column(ForeignKey("orders.id", name="fk_orders_reshipment_of"))
    case_id: Mapped[str | None] = mapped_column(String(40), index=True)

    customer: Mapped[Customer] = relationship(lazy="joined")
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.line_no", lazy="selectin"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    line_total: Mapped[Decimal]
    vat_amount: Mapped[Decimal]
    backorder_policy: Mapped[str | None] = mapped_column(String(16))
    dropped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    order: Mapped[Order] = relationship(back_populates="lines")


class PreorderClaim(Base):
    """An order's place in the first-come, first-served queue for a SKU (the id is the order
    of arrival)."""

    __tablename__ = "preorder_claims"
    __table_args__ = (
        UniqueConstraint("order_id", "sku", name="uq_preorder_claims_order_sku"),
        CheckConstraint("allocated <= quantity", name="ck_preorder_claims_allocated_within_quantity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting, allocated, cancelled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (CheckConstraint("received <= quantity", name="ck_purchase_orders_received_within_quantity"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    supplier: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(24), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    expected_date: Mapped[date | None] = mapped_column(Date)
    confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderEvent(Base):
    """The read model's timeline: one row per status change, keyed by (order, sequence)."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "sequence", name="uq_order_events_order_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    occurred_at: Mapped[datetime]


class Payment(Base):
    """Our record of an order's payment (the provider keeps its own)."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    method: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    captured: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    refunded: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    # Which shipment of the order this is (an order shipped in parts has 1, 2, ...).
    part: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    carrier: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal]
    transit_days: Mapped[int] = mapped_column(Integer)
    choice_reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ShipmentPackage(Base):
    """One package (collo) of a shipment, as booked with the carrier: its own tracking number,
    weight and size. The first package's number is also the shipment's ``tracking_number``.
    Shipments booked before packages were recorded have no rows here (one package)."""

    __tablename__ = "shipment_packages"
    __table_args__ = (UniqueConstraint("shipment_id", "package_number", name="uq_shipment_packages_number"),)

    tracking_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    package_number: Mapped[int] = mapped_column(Integer)  # 1..package_count
    package_count: Mapped[int] = mapped_column(Integer)
    container: Mapped[str | None] = mapped_column(String(32))  # packing plan container code (BOX-M, ...)
    weight_grams: Mapped[int] = mapped_column(Integer)
    length_mm: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[int] = mapped_column(Integer)
    height_mm: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerMessage(Base):
    """What was sent to a customer, once per (order, status change, channel)."""

    __tablename__ = "customer_messages"
    __table_args__ = (
        UniqueConstraint("order_id", "sequence", "channel", name="uq_customer_messages_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    # E-mail over SMTP: the row is the outbox. message_id is deterministic per (order, sequence,
    # channel); delivered_at is set once the SMTP server accepted it (NULL: not yet).
    message_id: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]


class PimUpdate(Base):
    """Status updates published to the product-information system, once per status change."""

    __tablename__ = "pim_updates"
    __table_args__ = (UniqueConstraint("order_id", "sequence", name="uq_pim_updates_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderFeedback(Base):
    __tablename__ = "order_feedback"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """A claimed idempotency key and the result it produced: a repeat returns this result."""

    __tablename__ = "idempotency_records"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NumberSeries(Base):
    """The last number handed out per series (``storage.numbering``)."""

    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(Base):
    """A sales invoice: one per shipment of an order (the primary key (order, part); an order
    shipped whole has part 1), its number gap-free from the ``invoice`` series, taken in the
    transaction that stores the invoice."""

    __tablename__ = "invoices"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True, default=1, server_default="1")
    number: Mapped[int] = mapped_column(Integer, unique=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    total_amount: Mapped[Decimal]
    vat_amount: Mapped[Decimal]
    # The discount it gives (VAT included): an order shipped in parts splits its discount over
    # its invoices, the last taking what is left. NULL for invoices from before parts.
    discount_amount: Mapped[Decimal | None]
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderDocument(Base):
    """A rendered document of an order (label, invoice, packing slip), stored as its bytes."""

    __tablename__ = "order_documents"
    __table_args__ = (UniqueConstraint("order_id", "filename", name="uq_order_documents_order_filename"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(64))
    shipment_id: Mapped[str | None] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key, stored as the SHA-256 of the key (the key itself is shown once, at creation).
    Its name says who acts with it and is unique among active keys, so every recorded action
    names one key."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("uq_api_keys_active_name", "name", unique=True,
              sqlite_where=text("revoked = false"), postgresql_where=text("revoked = false")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The name of the key that created / revoked it (NULL: the dev profile's keys, made at start).
    created_by: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    # Updated at most once a minute (storage.api_keys.LAST_USED_RESOLUTION), not per request.
    last_used_at: Mapped[datetime | None]


# --- sandbox outside systems: what the simulated services recorded ---------------------


class SandboxPaymentIntent(Base):
    """The sandbox payment provider's own ledger of one payment."""

    __tablename__ = "sandbox_payment_intents"
    __table_args__ = (
        CheckConstraint("captured <= authorized", name="ck_sandbox_capture_within_authorized"),
        CheckConstraint("refunded <= captured", name="ck_sandbox_refund_within_captured"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32))
    authorized: Mapped[Decimal]
    captured: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    refunded: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxCarrierBooking(Base):
    """The sandbox carrier's own record of a booking."""

    __tablename__ = "sandbox_carrier_bookings"

    tracking_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- warehouse: locations, bin stock, pick lists, packing plans (activities/warehouse.py) ---


class WarehouseLocation(Base):
    """A bin: zone / aisle / rack / shelf / bin, with its coordinates in mm (x across the
    aisles, y along them from the front cross-aisle, z the shelf height)."""

    __tablename__ = "warehouse_locations"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone: Mapped[str] = mapped_column(String(8))
    aisle: Mapped[int] = mapped_column(Integer)
    rack: Mapped[int] = mapped_column(Integer)
    shelf: Mapped[int] = mapped_column(Integer)
    bin: Mapped[int] = mapped_column(Integer)
    x_mm: Mapped[int] = mapped_column(Integer)
    y_mm: Mapped[int] = mapped_column(Integer)
    z_mm: Mapped[int] = mapped_column(Integer)


class BinStock(Base):
    """Units of a SKU (one lot) in one bin. ``allocated`` are promised to open pick lists.
    A pick takes units out of the bin; they stay in the SKU's on-hand stock until handover."""

    __tablename__ = "bin_stock"
    __table_args__ = (
        UniqueConstraint("location_code", "sku", "lot", name="uq_bin_stock_location_sku_lot"),
        CheckConstraint("quantity >= 0", name="ck_bin_stock_quantity_non_negative"),
        CheckConstraint("allocated >= 0 AND allocated <= quantity", name="ck_bin_stock_allocated_within_quantity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    location_code: Mapped[str] = mapped_column(ForeignKey("warehouse_locations.code"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    lot: Mapped[str] = mapped_column(String(32), default="", server_default="")
    expiry_date: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    allocated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PickList(Base):
    """One order's pick list, one per shipment part (the unique (order, part) makes creating it
    idempotent). An order shipped whole has one, part 1."""

    __tablename__ = "pick_lists"
    __table_args__ = (UniqueConstraint("order_id", "part", name="uq_pick_lists_order_part"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    part: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The units (SKU: quantity) the list is to pick for a shipment of an order shipped in parts;
    # NULL: everything the order's lines want.
    units: Mapped[dict[str, int] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")  # open, picked
    route_length_m: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    s_shape_length_m: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    route_exact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    picked_at: Mapped[datetime | None]
    # The picking round it is walked in, and the tote on the trolley its goods go into.
    wave_id: Mapped[str | None] = mapped_column(ForeignKey("waves.id", name="fk_pick_lists_wave_id"), index=True)
    tote: Mapped[int | None] = mapped_column(Integer)

    lines: Mapped[list["PickListLine"]] = relationship(order_by="PickListLine.step", lazy="selectin")


class Wave(Base):
    """A picking round: several orders' pick lists walked as one route with one trolley, one
    tote per order, sorted per order at the pack station."""

    __tablename__ = "waves"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")  # open, picked
    due_at: Mapped[datetime]  # the earliest carrier cut-off among its orders
    route_length_m: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    single_routes_m: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # its orders walked one at a time
    route_exact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    picked_at: Mapped[datetime | None]

    steps: Mapped[list["WaveStep"]] = relationship(order_by="WaveStep.step", lazy="selectin")


class WaveStep(Base):
    """One step of a wave in walking order: a line of one of its orders' pick lists."""

    __tablename__ = "wave_steps"
    __table_args__ = (UniqueConstraint("wave_id", "step", name="uq_wave_steps_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wave_id: Mapped[str] = mapped_column(ForeignKey("waves.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    pick_list_line_id: Mapped[int] = mapped_column(ForeignKey("pick_list_lines.id"), unique=True)


class PickListLine(Base):
    __tablename__ = "pick_list_lines"
    __table_args__ = (UniqueConstraint("pick_list_id", "step", name="uq_pick_list_lines_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pick_list_id: Mapped[str] = mapped_column(ForeignKey("pick_lists.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # walking order, from 1
    bin_stock_id: Mapped[int] = mapped_column(ForeignKey("bin_stock.id"))
    location_code: Mapped[str] = mapped_column(ForeignKey("warehouse_locations.code"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int] = mapped_column(Integer, default=0)
    # Units of ``quantity`` that neither this bin nor any other held when picked (a short pick):
    # they are not picked; the order's reservation of them was released.
    short: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    picked_by: Mapped[str | None] = mapped_column(String(100))
    picked_at: Mapped[datetime | None]


class CycleCount(Base):
    """A request to count one bin's units of a SKU (one lot), made when a pick found the bin
    holding less than recorded. Counting sets the bin to the number counted, through the stock
    ledger. One open count per bin stock row (a partial unique index, not a check in code)."""

    __tablename__ = "cycle_counts"
    __table_args__ = (
        Index("uq_cycle_counts_open_bin", "bin_stock_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        CheckConstraint("counted_quantity >= 0", name="ck_cycle_counts_counted_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bin_stock_id: Mapped[int] = mapped_column(ForeignKey("bin_stock.id"))
    location_code: Mapped[str] = mapped_column(ForeignKey("warehouse_locations.code"))
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    lot: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(String(32))  # short_pick
    pick_list_id: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")  # open, counted
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # What the records said when it was counted, and what was counted.
    recorded_quantity: Mapped[int | None] = mapped_column(Integer)
    counted_quantity: Mapped[int | None] = mapped_column(Integer)
    counted_by: Mapped[str | None] = mapped_column(String(100))
    counted_at: Mapped[datetime | None]


class PutAwayTask(Base):
    """Goods that came in (a goods receipt, a resellable return, goods put back after a
    cancellation) to be put into a bin. They count in the SKU's on-hand stock from the moment
    they came in; putting them away moves them into bin stock. ``dedupe_key`` names the one
    occurrence, so a retried booking makes one task."""

    __tablename__ = "put_away_tasks"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_put_away_tasks_quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # goods_receipt, return, cancellation
    reference: Mapped[str] = mapped_column(String(128))  # receipt id, return and line, order id
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    suggested_location: Mapped[str | None] = mapped_column(ForeignKey("warehouse_locations.code"))
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")  # open, done
    location_code: Mapped[str | None] = mapped_column(ForeignKey("warehouse_locations.code"))
    put_away_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]


class PackingPlanRecord(Base):
    """An order's packing plan as computed (``activities.planning.packing``), one per shipment part."""

    __tablename__ = "packing_plans"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True, default=1, server_default="1")
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    containers: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- after-sales: returns, refunds with their credit notes, customer-service cases -------


class Return(Base):
    """A customer's return of (part of) a delivered order; its workflow is ``return-{id}``."""

    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)  # gap-free series "return"
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(100))
    inspected_by: Mapped[str | None] = mapped_column(String(100))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lines: Mapped[list["ReturnLine"]] = relationship(order_by="ReturnLine.line_no", lazy="selectin")


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (
        UniqueConstraint("return_id", "line_no", name="uq_return_lines_return_line_no"),
        CheckConstraint("quantity > 0", name="ck_return_lines_quantity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal]  # what this line refunds
    disposition: Mapped[str | None] = mapped_column(String(16))  # resellable, damaged


class Refund(Base):
    """A refund through the payment provider and its credit note (a legal invoice correction
    with its own gap-free number, series "credit_note"). One per idempotency key."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    credit_note_number: Mapped[int] = mapped_column(Integer, unique=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    return_id: Mapped[str | None] = mapped_column(ForeignKey("returns.id"), index=True)
    payment_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal]  # the whole refund, shipping included
    shipping_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # Who caused it: for a return, the key that sent the inspection (its name and role).
    actor: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A refund made by resolving a customer-service case (None: a return's refund).
    case_id: Mapped[str | None] = mapped_column(ForeignKey("service_cases.id", name="fk_refunds_case_id"),
                                                index=True)


class ServiceCase(Base):
    """A customer-service case. ``dedupe_key`` makes an automatic case (after a low rating)
    open once however often its activity runs."""

    __tablename__ = "service_cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    assignee: Mapped[str | None] = mapped_column(String(100))
    opened_by: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None]
    # What resolving it set in motion (None: nothing): "reshipment" (the new order has this
    # case's id) or "refund" of refund_amount. action_status: pending, done or failed.
    action_kind: Mapped[str | None] = mapped_column(String(16))
    refund_amount: Mapped[Decimal | None]
    action_status: Mapped[str | None] = mapped_column(String(16))

    notes: Mapped[list["CaseNote"]] = relationship(order_by="CaseNote.id", lazy="selectin")


class CaseNote(Base):
    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("service_cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- alerts ------------------------------------------------------------------------------


class Alert(Base):
    """An escalation operations must act on: open until resolved (by a person, or by the
    escalation sweep once its cause is gone). ``dedupe_key`` names the one occurrence it is
    about, so however often a sweep or an activity retry sees it, it is raised once."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # What else it is about, when not (only) an order: a case, a purchase order, a return.
    reference: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set once the operations notification channel accepted it (NULL: still to send).
    notified_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(String(500))


# --- loyalty discount codes --------------------------------------------------------------


class DiscountCode(Base):
    """A discount code. ``uses`` only changes by a conditional update (``uses < max_uses``), so
    a single-use code is redeemed exactly once however many orders race for it."""

    __tablename__ = "discount_codes"
    __table_args__ = (
        CheckConstraint("uses >= 0", name="ck_discount_codes_uses_non_negative"),
        CheckConstraint("uses <= max_uses", name="ck_discount_codes_uses_within_max"),
        UniqueConstraint("dedupe_key", name="uq_discount_codes_dedupe_key"),
    )

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal]
    min_order_value: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    # Tied to one customer: Orderflow's opaque customer id (cus_...).
    customer_id: Mapped[str | None] = mapped_column(String(40))
    issued_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Codes Orderflow issues by itself (domain.loyalty): the order that earned it, and a key
    # that makes each kind of code issued once per order however often its activity runs.
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(255))


class DiscountRedemption(Base):
    """A code used by an order, with the discount it gave; ``released_at`` once given back."""

    __tablename__ = "discount_redemptions"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("discount_codes.code"), index=True)
    amount: Mapped[Decimal]
    redeemed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]


# The order's discount, loaded with the order (its totals show it); declared here so the
# Order class above stays as it is.
Order.discount = relationship(DiscountRedemption, lazy="selectin", uselist=False, viewonly=True)  # type: ignore[attr-defined]


# --- accountability and personal data ---------------------------------------------------


class StaffAction(Base):
    """The action log: one row per staff action done through the API (pick, pack, handover,
    cancel, goods receipt, return inspection, stock adjustment, ...), with the API key that did
    it. Order-bound rows show on the order's timeline, also after its workflow has closed.
    ``detail`` is written by Orderflow (quantities, SKUs, bins), never a caller's free text, so
    the log holds no customer's personal data."""

    __tablename__ = "staff_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))  # the API key's name
    actor_role: Mapped[str] = mapped_column(String(16))
    person: Mapped[str | None] = mapped_column(String(100))  # who the caller said did it
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    return_id: Mapped[str | None] = mapped_column(String(40))
    purchase_order_id: Mapped[str | None] = mapped_column(String(40))
    sku: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CustomerErasure(Base):
    """The erasure log: that (and when, by whom) a customer's personal data was erased. It
    holds Orderflow's opaque customer id and counts, no personal data."""

    __tablename__ = "customer_erasures"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_by: Mapped[str] = mapped_column(String(100))
    erased_by_role: Mapped[str] = mapped_column(String(16))
    # What was erased: table -> rows changed or deleted (for the answer and the audit).
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


# Models kept in modules of their own share Base; imported here so that Base.metadata (Alembic,
# the tests' table list) always holds them.
from storage import containers as _containers  # noqa: E402,F401
from storage import dispatches as _dispatches  # noqa: E402,F401
