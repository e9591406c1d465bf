"""Contract of the out-of-stock path: short lines, pre-order claims, purchase orders, goods
receipt and allocation. Used by the order workflow, the replenishment workflow per SKU, the
inventory activities and the API."""

from datetime import date, datetime

from pydantic import BaseModel, Field

from domain.accountability import Actor
from domain.enums import BackorderDecision, BackorderPolicy, PurchaseOrderStatus
from domain.models import ReservedLine


class ShortLine(BaseModel):
    sku: str
    missing: int
    policy: BackorderPolicy
    expected_date: date | None = None


class StockCheck(BaseModel):
    """What ``reserve_order_stock`` could hold now, and what is missing (with its policy)."""

    reserved: list[ReservedLine]
    short: list[ShortLine] = Field(default_factory=list)


class LinesRequest(BaseModel):
    """Act on some lines of an order: drop them, or pre-order them."""

    order_id: str
    skus: list[str]
    idempotency_key: str
    # Dropping the rest of an order shipped in parts: its first ``invoiced_parts`` shipments
    # left, invoiced; the order then totals what those invoices charge (discount and VAT as
    # invoiced), so nothing is refunded that an invoice did not credit.
    invoiced_parts: int = 0


class PreorderClaim(BaseModel):
    sku: str
    quantity: int
    expected_date: date | None = None


class PreorderResult(BaseModel):
    claims: list[PreorderClaim]


class DroppedLines(BaseModel):
    dropped: list[str]
    remaining_lines: int
    new_total: str
    # SKUs whose lines were cut to the units the order holds, with the quantity kept (the
    # missing units are cancelled, the rest ships). Empty in results recorded before it existed.
    shortened: dict[str, int] = Field(default_factory=dict)


class ShortPickReport(BaseModel):
    """A pick list finished with units no bin held: those units go down the order's
    out-of-stock path (its backorder policy), the rest of the order waits in the tote."""

    pick_list_id: str
    lines: list[ShortLine] = Field(min_length=1)
    confirmed_by: str | None = None


class BackorderDecisionInput(BaseModel):
    decision: BackorderDecision


class StockAllocated(BaseModel):
    """Signal to an order: received stock was reserved for its pre-ordered line."""

    sku: str
    quantity: int
    purchase_order_id: str | None = None


class ReplenishmentInput(BaseModel):
    sku: str
    # Carried across continue-as-new: purchase orders waiting for confirmation or receipt.
    awaiting_confirmation: dict[str, datetime] = Field(default_factory=dict)
    expected: dict[str, datetime] = Field(default_factory=dict)
    # How long the supplier takes to confirm a purchase order (sandbox setting): demand that
    # arrives before then is added to the same purchase order.
    confirm_delay_seconds: float = 30


class DemandSignal(BaseModel):
    """Something changed the demand for a SKU (a pre-order, stock below the reorder point)."""

    reason: str
    order_id: str | None = None


class PlanPurchaseRequest(BaseModel):
    sku: str
    idempotency_key: str


class PurchaseOrderInfo(BaseModel):
    id: str
    sku: str
    supplier: str
    quantity: int
    received: int = 0
    status: PurchaseOrderStatus
    expected_date: date | None = None


class PurchasePlan(BaseModel):
    """What ``plan_purchase`` did: placed a new purchase order, added to the open one, or nothing."""

    action: str  # "placed", "amended", "none"
    purchase_order: PurchaseOrderInfo | None = None


class ConfirmRequest(BaseModel):
    purchase_order_id: str
    idempotency_key: str
    today: date  # the workflow's date, so dates agree with its timers


class GoodsReceipt(BaseModel):
    purchase_order_id: str
    quantity: int = Field(gt=0)
    receipt_id: str = Field(description="Idempotency key of this receipt: the same id is booked once")
    received_by: str | None = None
    # The API key that booked it (ledger and action log); None in receipts sent before.
    actor: Actor | None = None


class Allocation(BaseModel):
    order_id: str
    sku: str
    quantity: int  # from this receipt
    complete: bool
    # All the claim holds now, over every receipt (None in results recorded before it existed).
    claim_allocated: int | None = None


class ReceiptResult(BaseModel):
    purchase_order: PurchaseOrderInfo
    allocations: list[Allocation]


class DelayNotice(BaseModel):
    purchase_order_id: str
    idempotency_key: str
    today: date


class DelayResult(BaseModel):
    new_expected_date: date
    order_ids: list[str]


class StockDelayed(BaseModel):
    """Signal to a waiting order: its goods come later than expected."""

    sku: str
    expected_date: date
