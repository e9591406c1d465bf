"""The fixed vocabularies of the contract (DESIGN.md, Contract): statuses, methods, roles."""

from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    AWAITING_CUSTOMER = "AWAITING_CUSTOMER"
    AWAITING_STOCK = "AWAITING_STOCK"
    RESERVED = "RESERVED"
    PICKING = "PICKING"
    PACKING = "PACKING"
    READY_TO_SHIP = "READY_TO_SHIP"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    FEEDBACK_REQUESTED = "FEEDBACK_REQUESTED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class PaymentMethod(StrEnum):
    CARD = "card"
    IDEAL = "ideal"
    # A reshipment customer service sends at no cost (POST /cases/{id}/resolve): the payment
    # activities record a zero payment and ask the provider nothing. Not for customers.
    NO_CHARGE = "no_charge"


class CustomerPaymentMethod(StrEnum):
    """What a customer pays an order with (``POST /orders``)."""

    CARD = "card"
    IDEAL = "ideal"


class PaymentStatus(StrEnum):
    AUTHORIZED = "authorized"
    # Part of the authorization captured (an order shipped in parts), the rest still open.
    PARTIALLY_CAPTURED = "partially_captured"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"
    DECLINED = "declined"


class ShippingPreference(StrEnum):
    FASTEST = "fastest"
    CHEAPEST = "cheapest"
    NAMED = "named"


class BackorderPolicy(StrEnum):
    PREORDER = "preorder"
    CANCEL = "cancel"
    ASK = "ask"


class TrackingEventKind(StrEnum):
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"


class NotificationChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    APP = "app"


class ShipmentStatus(StrEnum):
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"
    SHIPPED = "SHIPPED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"


class Role(StrEnum):
    CHANNEL = "channel"
    WAREHOUSE = "warehouse"
    CARRIER = "carrier"
    OPS = "ops"


class TimelineKind(StrEnum):
    STATUS = "status"
    EVENT = "event"
    IGNORED = "ignored"
    ACTION = "action"  # a staff action from the action log, with who did it (API only)


class ErrorType(StrEnum):
    """``ApplicationError.type`` values of business refusals: never retried."""

    PAYMENT_DECLINED = "PaymentDeclined"
    OUT_OF_STOCK = "OutOfStock"
    CARRIER_REFUSED = "CarrierRefused"
    ORDER_NOT_FOUND = "OrderNotFound"
    INVALID_REQUEST = "InvalidRequest"


class BackorderDecision(StrEnum):
    """A customer's answer to the ``ask`` backorder policy."""

    PREORDER = "preorder"
    CANCEL = "cancel"  # drop the missing lines
    CANCEL_ORDER = "cancel_order"


class PurchaseOrderStatus(StrEnum):
    PLACED = "placed"  # sent, not yet confirmed: demand is still added to it
    CONFIRMED = "confirmed"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"


class AlertKind(StrEnum):
    """Escalations operations must act on (DESIGN.md, Escalations)."""

    LATE_PICK = "late_pick"
    TRACKING_SILENCE = "tracking_silence"
    DELIVERY_EXCEPTION = "delivery_exception"
    FAILED_REFUND = "failed_refund"
    LATE_SUPPLIER = "late_supplier"
    UNANSWERED_CASE = "unanswered_case"
    # A pick found fewer units than recorded and no other bin holds the rest: the line needs
    # the out-of-stock path.
    SHORT_PICK = "short_pick"
