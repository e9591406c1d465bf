"""A sandbox supplier: accepts purchase orders and amendments and confirms them with the
catalogue's lead time, or later than that when set to be late (a ``late_days`` setting)."""

import hashlib
from datetime import date, timedelta

from activities.ports import SupplierConfirmation


class SandboxSupplier:
    def __init__(self, *, late_days: int = 0) -> None:
        self._late_days = late_days

    async def place_purchase_order(self, *, purchase_order_id: str, sku: str, quantity: int) -> None:
        return None  # the purchase order itself is our record; the sandbox keeps no other

    async def amend_purchase_order(self, *, purchase_order_id: str, quantity: int) -> None:
        return None

    async def confirm_purchase_order(self, *, purchase_order_id: str, lead_time_days: int, today: date) -> SupplierConfirmation:
        reference = "SUP-" + hashlib.sha256(purchase_order_id.encode()).hexdigest()[:10].upper()
        return SupplierConfirmation(supplier_reference=reference,
                                    expected_date=today + timedelta(days=lead_time_days + self._late_days))
