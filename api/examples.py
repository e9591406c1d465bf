"""Example bodies shown in the OpenAPI docs (/docs). ``ORDER`` is also the tests' order
(``tests.factories.order_payload()``) and ``examples/order.json`` (a test keeps them equal)."""

from typing import Any

ORDER: dict[str, Any] = {
    "external_reference": "WEB-1001",
    "customer": {"id": "c-42", "name": "Anna de Vries", "email": "anna@example.nl", "phone": "+31612345678",
                 "locale": "nl", "notification_channels": ["email", "sms"]},
    "shipping_address": {"country": "NL", "street": "Damrak", "house_number": "1", "postcode": "1012 LG",
                         "city": "Amsterdam"},
    "lines": [{"sku": "MUG-001", "quantity": 2}, {"sku": "BOOK-042", "quantity": 1}],
    "payment": {"method": "card", "token": "tok_visa"},
    "shipping": {"preference": "cheapest"},
}

ORDER_EXAMPLES: dict[str, Any] = {
    "card": {"summary": "Card order (approved)", "value": ORDER},
    "declined": {
        "summary": "Card that is declined (ends PAYMENT_FAILED)",
        "value": {**ORDER, "external_reference": "WEB-1002", "payment": {"method": "card", "token": "tok_chargeDeclined"}},
    },
    "ideal_preorder": {
        "summary": "iDEAL, fastest shipping, pre-order what is out of stock",
        "value": {**ORDER, "external_reference": "WEB-1003", "payment": {"method": "ideal", "token": "tok_ideal"},
                  "shipping": {"preference": "fastest"}, "backorder_policy": "preorder"},
    },
    "ship_partial": {
        "summary": "Ship what is in stock now, the pre-ordered rest in a second parcel",
        "value": {**ORDER, "external_reference": "WEB-1004",
                  "lines": [{"sku": "MUG-001", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}],
                  "backorder_policy": "preorder", "ship_partial": True},
    },
}

PRODUCT_EXAMPLE: dict[str, Any] = {
    "name": "Stoneware mug, 350 ml", "price": "12.95", "vat_rate": "21", "weight_grams": 450,
    "length_mm": 120, "width_mm": 90, "height_mm": 100, "fragile": False, "ean": "8712345678906", "active": True,
}

STOCK_ADJUSTMENT_EXAMPLE: dict[str, Any] = {"sku": "MUG-001", "delta": -2, "reason": "two mugs broken in the aisle"}

CARRIER_EVENT_EXAMPLE: dict[str, Any] = {
    "tracking_number": "3S1234567890123", "event": "DELIVERED", "occurred_at": "2026-05-01T14:03:00Z",
    "description": "delivered to the neighbours at no. 3",
}
