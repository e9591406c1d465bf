"""An order shipped in parts, at the activity and storage layer: stock leaves per part (the
held reservation is cut, the rest stays held for the next part), pre-orders count what shipped,
the payment is captured per part (the first part its invoice, the last what is still open),
each part has its own invoice with its share of the discount (the shares add up to the order's
total to the cent), its own pick list and packing plan, and a cancellation puts back only what
has not shipped. CI runs this on SQLite and on PostgreSQL."""

import itertools
import random
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.adapters.sandbox_payments import SandboxPaymentProvider
from activities.documents import DocumentActivities
from activities.inventory import InventoryActivities
from activities.payments import PaymentActivities
from activities.ports import PaymentDeclined
from activities.shipping import ShippingActivities
from activities.warehouse import WarehouseActivities
from domain.discounts import DiscountKind
from domain.enums import PaymentMethod, PaymentStatus, PurchaseOrderStatus
from domain.models import DocumentsRequest, PaymentRequest, ReservedLine, ShipmentRequest, StockRequest
from domain.pricing import line_total
from domain.stock import GoodsReceipt, LinesRequest
from domain.warehouse import WarehouseRequest
from storage.db import transaction
from storage.discounts import issue_code
from storage.models import (
    BinStock,
    DiscountCode,
    Invoice,
    Order,
    OrderDocument,
    PackingPlanRecord,
    Payment,
    PickList,
    PreorderClaim,
    Product,
    PurchaseOrder,
    PutAwayTask,
    Reservation,
    SandboxPaymentIntent,
    StockLevel,
    StockMovement,
)
from storage.warehouse import CANCELLATION, put_back_after_cancellation
from tests.activities.test_documents import SELLER
from tests.factories import place_order, seed

env = ActivityEnvironment()
CENT = Decimal("0.01")


def _lines(**units: int) -> list[ReservedLine]:
    return [ReservedLine(sku=sku.replace("_", "-"), quantity=n) for sku, n in sorted(units.items())]


async def _set_on_hand(sessions, sku: str, units: int) -> None:
    """A stock count: the SKU's on hand becomes ``units``, through the ledger."""
    async with transaction(sessions) as s:
        level = await s.get(StockLevel, sku)
        s.add(StockMovement(sku=sku, on_hand_delta=units - level.on_hand, reason="stock count"))
        level.on_hand = units


async def _purchase_order(sessions, po_id: str, sku: str, quantity: int) -> None:
    async with transaction(sessions) as s:
        s.add(PurchaseOrder(id=po_id, sku=sku, supplier="sandbox", quantity=quantity, received=0,
                            status=PurchaseOrderStatus.CONFIRMED.value, idempotency_key=po_id,
                            expected_date=date(2030, 1, 1)))


async def _reservations(sessions, order_id: str, sku: str) -> list[tuple[str, int]]:
    async with sessions() as s:
        rows = (await s.execute(select(Reservation.status, Reservation.quantity).where(
            Reservation.order_id == order_id, Reservation.sku == sku)
            .order_by(Reservation.status, Reservation.quantity))).all()
    return [tuple(r) for r in rows]


async def _level(sessions, sku: str) -> tuple[int, int]:
    async with sessions() as s:
        level = await s.get(StockLevel, sku)
        return level.on_hand, level.reserved


async def _assert_books_agree(sessions, sku: str) -> None:
    """The stock level is the sum of its ledger, and what is reserved is what orders hold."""
    async with sessions() as s:
        level = await s.get(StockLevel, sku)
        on_hand, reserved = (await s.execute(select(
            func.coalesce(func.sum(StockMovement.on_hand_delta), 0),
            func.coalesce(func.sum(StockMovement.reserved_delta), 0)).where(StockMovement.sku == sku))).one()
        held = await s.scalar(select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
            Reservation.sku == sku, Reservation.status == "held"))
    assert (on_hand, reserved) == (level.on_hand, level.reserved), sku
    assert held == level.reserved, sku


# --- stock per part ---------------------------------------------------------------------


async def test_a_part_ships_only_its_units_and_the_rest_stays_held_for_the_next(sessions) -> None:
    await seed(sessions)
    await _set_on_hand(sessions, "LAMP-200", 3)
    order_id = await place_order(sessions, external_reference="WEB-PART-1", backorder_policy="preorder",
                                 ship_partial=True,
                                 lines=[{"sku": "LAMP-200", "quantity": 5}, {"sku": "MUG-001", "quantity": 1}])
    inventory = InventoryActivities(sessions)
    check = await env.run(inventory.reserve_order_stock, StockRequest(order_id=order_id, idempotency_key="p1:reserve"))
    assert check.reserved == _lines(LAMP_200=3, MUG_001=1) and [s.missing for s in check.short] == [2]
    await env.run(inventory.place_preorders, LinesRequest(order_id=order_id, skus=["LAMP-200"],
                                                          idempotency_key="p1:preorder"))
    await _purchase_order(sessions, "po_lamps", "LAMP-200", 2)
    # One of the two pre-ordered lamps arrives before part 1 leaves: the order's one held row grows.
    await env.run(inventory.book_goods_receipt, GoodsReceipt(purchase_order_id="po_lamps", quantity=1,
                                                             receipt_id="rcpt-1"))
    assert await _reservations(sessions, order_id, "LAMP-200") == [("held", 4)]
    mug_before, lamp_before = await _level(sessions, "MUG-001"), await _level(sessions, "LAMP-200")
    assert lamp_before == (4, 4)

    part_1 = _lines(LAMP_200=3, MUG_001=1)
    shipped = await env.run(inventory.ship_reserved_stock, StockRequest(
        order_id=order_id, idempotency_key="p1:ship-stock-1", lines=part_1))
    assert shipped.released == part_1
    # The held row is cut to what part 2 still has; the part's lamps are a shipped row beside it.
    assert await _reservations(sessions, order_id, "LAMP-200") == [("held", 1), ("shipped", 3)]
    assert await _reservations(sessions, order_id, "MUG-001") == [("shipped", 1)]
    assert await _level(sessions, "LAMP-200") == (lamp_before[0] - 3, lamp_before[1] - 3)
    assert await _level(sessions, "MUG-001") == (mug_before[0] - 1, mug_before[1] - 1)
    # A repeat of the step (same key) does not ship again.
    again = await env.run(inventory.ship_reserved_stock, StockRequest(
        order_id=order_id, idempotency_key="p1:ship-stock-1", lines=part_1))
    assert again == shipped and await _level(sessions, "LAMP-200") == (1, 1)

    # The last lamp arrives: it joins the held row (still one held row for the order and SKU).
    result = await env.run(inventory.book_goods_receipt, GoodsReceipt(purchase_order_id="po_lamps", quantity=1,
                                                                      receipt_id="rcpt-2"))
    assert [(a.order_id, a.quantity, a.complete) for a in result.allocations] == [(order_id, 1, True)]
    assert await _reservations(sessions, order_id, "LAMP-200") == [("held", 2), ("shipped", 3)]
    for sku in ("LAMP-200", "MUG-001"):
        await _assert_books_agree(sessions, sku)

    part_2 = _lines(LAMP_200=2)
    shipped = await env.run(inventory.ship_reserved_stock, StockRequest(
        order_id=order_id, idempotency_key="p1:ship-stock-2", lines=part_2))
    assert shipped.released == part_2
    assert await _reservations(sessions, order_id, "LAMP-200") == [("shipped", 2), ("shipped", 3)]
    assert await _level(sessions, "LAMP-200") == (0, 0)
    for sku in ("LAMP-200", "MUG-001"):
        await _assert_books_agree(sessions, sku)


async def test_stock_allocated_after_part_one_left_is_a_new_held_row_beside_the_shipped_one(sessions) -> None:
    await seed(sessions)
    await _set_on_hand(sessions, "LAMP-200", 2)
    order_id = await place_order(sessions, external_reference="WEB-PART-2", backorder_policy="preorder",
                                 ship_partial=True, lines=[{"sku": "LAMP-200", "quantity": 5}])
    inventory = InventoryActivities(sessions)
    await env.run(inventory.reserve_order_stock, StockRequest(order_id=order_id, idempotency_key="p2:reserve"))
    await env.run(inventory.place_preorders, LinesRequest(order_id=order_id, skus=["LAMP-200"],
                                                          idempotency_key="p2:preorder"))
    await env.run(inventory.ship_reserved_stock, StockRequest(order_id=order_id, idempotency_key="p2:ship-1",
                                                              lines=_lines(LAMP_200=2)))
    assert await _reservations(sessions, order_id, "LAMP-200") == [("shipped", 2)]
    await _purchase_order(sessions, "po_three", "LAMP-200", 3)
    await env.run(inventory.book_goods_receipt, GoodsReceipt(purchase_order_id="po_three", quantity=3,
                                                             receipt_id="rcpt-3"))
    assert await _reservations(sessions, order_id, "LAMP-200") == [("held", 3), ("shipped", 2)]
    async with sessions() as s:
        claim = (await s.execute(select(PreorderClaim).where(PreorderClaim.order_id == order_id))).scalar_one()
    assert (claim.quantity, claim.allocated, claim.status) == (3, 3, "allocated")
    await _assert_books_agree(sessions, "LAMP-200")

    # The database itself allows one held row per order and SKU ...
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as s:
            s.add(Reservation(order_id=order_id, sku="LAMP-200", quantity=1, status="held"))
    # ... and any number of rows that shipped or were released.
    async with transaction(sessions) as s:
        s.add(Reservation(order_id=order_id, sku="LAMP-200", quantity=1, status="shipped"))
        s.add(Reservation(order_id=order_id, sku="LAMP-200", quantity=1, status="released"))
    assert len(await _reservations(sessions, order_id, "LAMP-200")) == 4


async def test_preorders_count_units_that_shipped_as_not_missing(sessions) -> None:
    await seed(sessions)
    await _set_on_hand(sessions, "LAMP-200", 3)
    order_id = await place_order(sessions, external_reference="WEB-PART-3", backorder_policy="preorder",
                                 ship_partial=True,
                                 lines=[{"sku": "LAMP-200", "quantity": 5}, {"sku": "MUG-001", "quantity": 2}])
    inventory = InventoryActivities(sessions)
    await env.run(inventory.reserve_order_stock, StockRequest(order_id=order_id, idempotency_key="p3:reserve"))
    await env.run(inventory.ship_reserved_stock, StockRequest(order_id=order_id, idempotency_key="p3:ship-1",
                                                              lines=_lines(LAMP_200=3, MUG_001=2)))
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Reservation).where(
            Reservation.order_id == order_id, Reservation.status == "held")) == 0
    result = await env.run(inventory.place_preorders, LinesRequest(
        order_id=order_id, skus=["LAMP-200", "MUG-001"], idempotency_key="p3:preorder"))
    # The 3 lamps and 2 mugs that left are not missing: only the 2 lamps never there are claimed.
    assert [(c.sku, c.quantity) for c in result.claims] == [("LAMP-200", 2)]
    async with sessions() as s:
        claims = (await s.execute(select(PreorderClaim.sku, PreorderClaim.quantity, PreorderClaim.status)
                                  .where(PreorderClaim.order_id == order_id))).all()
    assert [tuple(c) for c in claims] == [("LAMP-200", 2, "waiting")]


# --- payment per part -------------------------------------------------------------------


async def _authorized(sessions, amount: str) -> tuple[SandboxPaymentProvider, str]:
    provider = SandboxPaymentProvider(sessions)
    auth = await provider.authorize(reference="ord_sandbox", method=PaymentMethod.CARD, token="tok_visa",
                                    amount=Decimal(amount), idempotency_key=f"auth-{amount}")
    assert auth.status == PaymentStatus.AUTHORIZED
    return provider, auth.payment_id


async def _intent(sessions, payment_id: str) -> tuple[str, Decimal, Decimal]:
    async with sessions() as s:
        intent = await s.get(SandboxPaymentIntent, payment_id)
        return intent.status, intent.authorized, intent.captured


async def test_the_sandbox_provider_captures_in_parts_within_the_authorization(sessions) -> None:
    provider, pid = await _authorized(sessions, "100.00")
    first = await provider.capture(payment_id=pid, amount=Decimal("30.00"), idempotency_key="c1", final=False)
    assert (first.status, first.captured, first.authorized) == (
        PaymentStatus.PARTIALLY_CAPTURED, Decimal("30.00"), Decimal("100.00"))
    # The same key again is the same capture, not a second one.
    assert await provider.capture(payment_id=pid, amount=Decimal("30.00"), idempotency_key="c1", final=False) == first
    # More than what is left of the authorization (70.00) is declined, and changes nothing.
    with pytest.raises(PaymentDeclined):
        await provider.capture(payment_id=pid, amount=Decimal("70.01"), idempotency_key="c2", final=True)
    with pytest.raises(PaymentDeclined):
        await provider.capture(payment_id=pid, amount=Decimal("-1.00"), idempotency_key="c2b", final=True)
    assert await _intent(sessions, pid) == ("partially_captured", Decimal("100.00"), Decimal("30.00"))

    last = await provider.capture(payment_id=pid, amount=Decimal("70.00"), idempotency_key="c3", final=True)
    assert (last.status, last.captured) == (PaymentStatus.CAPTURED, Decimal("100.00"))
    # A final capture closes the authorization: nothing more can be captured or voided.
    with pytest.raises(PaymentDeclined):
        await provider.capture(payment_id=pid, amount=Decimal("0.00"), idempotency_key="c4", final=True)
    with pytest.raises(PaymentDeclined):
        await provider.void(payment_id=pid, idempotency_key="v1")
    assert await _intent(sessions, pid) == ("captured", Decimal("100.00"), Decimal("100.00"))


async def test_a_final_capture_below_the_authorization_closes_it(sessions) -> None:
    provider, pid = await _authorized(sessions, "80.00")
    await provider.capture(payment_id=pid, amount=Decimal("20.00"), idempotency_key="d1", final=False)
    done = await provider.capture(payment_id=pid, amount=Decimal("10.00"), idempotency_key="d2", final=True)
    assert (done.status, done.captured) == (PaymentStatus.CAPTURED, Decimal("30.00"))
    with pytest.raises(PaymentDeclined):
        await provider.capture(payment_id=pid, amount=Decimal("10.00"), idempotency_key="d3", final=False)
    assert await _intent(sessions, pid) == ("captured", Decimal("80.00"), Decimal("30.00"))


async def test_voiding_a_partly_captured_payment_keeps_what_was_captured(sessions) -> None:
    provider, pid = await _authorized(sessions, "60.00")
    await provider.capture(payment_id=pid, amount=Decimal("25.00"), idempotency_key="e1", final=False)
    voided = await provider.void(payment_id=pid, idempotency_key="e2")
    assert (voided.status, voided.captured, voided.authorized) == (
        PaymentStatus.CAPTURED, Decimal("25.00"), Decimal("60.00"))
    with pytest.raises(PaymentDeclined):
        await provider.void(payment_id=pid, idempotency_key="e3")
    with pytest.raises(PaymentDeclined):
        await provider.capture(payment_id=pid, amount=Decimal("5.00"), idempotency_key="e4", final=True)
    assert await _intent(sessions, pid) == ("captured", Decimal("60.00"), Decimal("25.00"))
    # What was captured can still be refunded.
    refunded = await provider.refund(payment_id=pid, amount=Decimal("25.00"), idempotency_key="e5")
    assert (refunded.status, refunded.refunded) == (PaymentStatus.REFUNDED, Decimal("25.00"))


async def _payment_row(sessions, order_id: str) -> tuple[str, Decimal]:
    async with sessions() as s:
        row = (await s.execute(select(Payment).where(Payment.order_id == order_id))).scalar_one()
        return row.status, row.captured


async def test_capture_per_part_takes_the_parts_invoice_then_the_rest(sessions) -> None:
    await seed(sessions)
    # 2 mugs 25.90 and a book 24.99: 50.89
    order_id = await place_order(sessions, external_reference="WEB-PART-PAY", ship_partial=True)
    provider = SandboxPaymentProvider(sessions)
    payments = PaymentActivities(sessions, provider)
    auth = await env.run(payments.authorize_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:auth"))
    assert auth.amount == Decimal("50.89")

    # A part without its invoice cannot be captured: there is no amount to take.
    with pytest.raises(ApplicationError) as err:
        await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:capture-1",
                                                               part=1, final=False))
    assert (err.value.type, err.value.non_retryable) == ("InvalidRequest", True)
    assert "no invoice for shipment 1" in err.value.message
    assert await _payment_row(sessions, order_id) == ("authorized", Decimal("0.00"))

    async with transaction(sessions) as s:
        s.add(Invoice(order_id=order_id, part=1, number=901, reference="INV-TEST-000901",
                      total_amount=Decimal("25.90"), vat_amount=Decimal("4.50"), discount_amount=Decimal("0.00")))
    first = await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:capture-1",
                                                                   part=1, final=False))
    assert (first.status, first.captured) == (PaymentStatus.PARTIALLY_CAPTURED, Decimal("25.90"))
    assert await _payment_row(sessions, order_id) == ("partially_captured", Decimal("25.90"))
    assert await _intent(sessions, auth.payment_id) == ("partially_captured", Decimal("50.89"), Decimal("25.90"))

    # Part 2, not final, has no invoice yet either.
    with pytest.raises(ApplicationError) as err:
        await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:capture-2x",
                                                               part=2, final=False))
    assert err.value.type == "InvalidRequest"
    # The last part takes its own invoice too (never more than what shipped is charged).
    with pytest.raises(ApplicationError) as err:
        await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:capture-2y",
                                                               part=2, final=True))
    assert "no invoice for shipment 2" in err.value.message
    async with transaction(sessions) as s:
        s.add(Invoice(order_id=order_id, part=2, number=902, reference="INV-TEST-000902",
                      total_amount=Decimal("24.99"), vat_amount=Decimal("2.06"), discount_amount=Decimal("0.00")))

    last = await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:capture-2",
                                                                  part=2, final=True))
    assert (last.status, last.captured) == (PaymentStatus.CAPTURED, Decimal("50.89"))
    assert await _payment_row(sessions, order_id) == ("captured", Decimal("50.89"))
    # A capture after the last is not done again.
    again = await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pay:capture-3",
                                                                   part=2, final=True))
    assert again.captured == Decimal("50.89")
    assert await _intent(sessions, auth.payment_id) == ("captured", Decimal("50.89"), Decimal("50.89"))


async def test_cancelling_after_a_partial_capture_releases_only_the_rest(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-PART-VOID", ship_partial=True)
    payments = PaymentActivities(sessions, SandboxPaymentProvider(sessions))
    auth = await env.run(payments.authorize_payment, PaymentRequest(order_id=order_id, idempotency_key="pv:auth"))
    async with transaction(sessions) as s:
        s.add(Invoice(order_id=order_id, part=1, number=902, reference="INV-TEST-000902",
                      total_amount=Decimal("24.99"), vat_amount=Decimal("2.06")))
    await env.run(payments.capture_payment, PaymentRequest(order_id=order_id, idempotency_key="pv:capture-1",
                                                           part=1, final=False))
    result = await env.run(payments.cancel_payment, PaymentRequest(order_id=order_id, idempotency_key="pv:cancel"))
    assert (result.status, result.captured, result.refunded) == (PaymentStatus.CAPTURED, Decimal("24.99"),
                                                                 Decimal("0.00"))
    assert await _payment_row(sessions, order_id) == ("captured", Decimal("24.99"))
    assert await _intent(sessions, auth.payment_id) == ("captured", Decimal("50.89"), Decimal("24.99"))


# --- documents per part -----------------------------------------------------------------


async def _part_documents(sessions, order_id: str, part: int, lines: list[ReservedLine], *, final: bool):
    """Book the part's shipment and make its documents, as the workflow does at packing."""
    await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).book_shipment,
                  ShipmentRequest(order_id=order_id, idempotency_key=f"{order_id}:book-{part}", part=part, lines=lines))
    return await env.run(DocumentActivities(sessions, SELLER).create_order_documents, DocumentsRequest(
        order_id=order_id, idempotency_key=f"{order_id}:documents-{part}", part=part, lines=lines, final=final))


async def _invoices(sessions, order_id: str) -> list[Invoice]:
    async with sessions() as s:
        return list((await s.execute(select(Invoice).where(Invoice.order_id == order_id)
                                     .order_by(Invoice.part))).scalars())


async def test_each_part_has_its_invoice_with_its_share_of_the_discount_rounded_half_up(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        await issue_code(s, code="FIVE05", kind=DiscountKind.FIXED, value=Decimal("5.05"), issued_by="test")
    order_id = await place_order(sessions, external_reference="WEB-PART-INV", ship_partial=True,
                                 discount_code="FIVE05", lines=[{"sku": "MUG-001", "quantity": 2}])
    async with sessions() as s:
        assert (await s.get(Order, order_id)).total_amount == Decimal("20.85")  # 25.90 - 5.05
    one_mug = _lines(MUG_001=1)
    first = await _part_documents(sessions, order_id, 1, one_mug, final=False)
    second = await _part_documents(sessions, order_id, 2, one_mug, final=True)
    part_1, part_2 = await _invoices(sessions, order_id)
    # Half of 5.05 is 2.525: half-up gives part 1 2.53 (half-even would give 2.52); part 2 the rest.
    assert (part_1.part, part_1.discount_amount, part_1.total_amount) == (1, Decimal("2.53"), Decimal("10.42"))
    assert (part_2.part, part_2.discount_amount, part_2.total_amount) == (2, Decimal("2.52"), Decimal("10.43"))
    assert part_1.total_amount + part_2.total_amount == Decimal("20.85")
    assert part_1.number != part_2.number and first.invoice_number != second.invoice_number
    assert (first.invoice_number, second.invoice_number) == (part_1.reference, part_2.reference)

    async with sessions() as s:
        names = set((await s.execute(select(OrderDocument.filename).where(
            OrderDocument.order_id == order_id))).scalars())
    assert {f"packing-slip-{order_id}.pdf", f"packing-slip-{order_id}-2.pdf",
            f"invoice-{first.invoice_number}.pdf", f"invoice-{second.invoice_number}.pdf"} <= names

    # A repeat of a part answers with that part's invoice; no new invoice is made.
    repeat = await env.run(DocumentActivities(sessions, SELLER).create_order_documents, DocumentsRequest(
        order_id=order_id, idempotency_key=f"{order_id}:documents-1", part=1, lines=one_mug, final=False))
    assert repeat.invoice_number == first.invoice_number
    assert [i.reference for i in await _invoices(sessions, order_id)] == [part_1.reference, part_2.reference]


async def test_the_parts_invoices_show_the_orders_vat(sessions) -> None:
    await seed(sessions)
    async with transaction(sessions) as s:
        await issue_code(s, code="FIFTEEN", kind=DiscountKind.PERCENTAGE, value=Decimal("15"), issued_by="test")
    # 2 mugs 25.90 (21 %) and a book 24.99 (9 %), 15 % off (7.63): the order's VAT is 5.58.
    order_id = await place_order(sessions, external_reference="WEB-PART-VAT", ship_partial=True,
                                 discount_code="FIFTEEN")
    await _part_documents(sessions, order_id, 1, _lines(MUG_001=1), final=False)
    await _part_documents(sessions, order_id, 2, _lines(BOOK_042=1, MUG_001=1), final=True)
    async with sessions() as s:
        order = await s.get(Order, order_id)
    invoices = await _invoices(sessions, order_id)
    assert sum(i.total_amount for i in invoices) == order.total_amount == Decimal("43.26")
    # Each invoice rounds its own VAT (1.91 + 3.66 = 5.57, where the whole order's was 5.58):
    # the order owes what its invoices charge.
    assert sum(i.vat_amount for i in invoices) == order.vat_amount == Decimal("5.57")


async def test_a_repeat_of_a_part_answers_with_that_parts_documents(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-PART-REP", ship_partial=True,
                                 lines=[{"sku": "MUG-001", "quantity": 2}])
    one_mug = _lines(MUG_001=1)
    first = await _part_documents(sessions, order_id, 1, one_mug, final=False)
    second = await _part_documents(sessions, order_id, 2, one_mug, final=True)
    repeat_1 = await env.run(DocumentActivities(sessions, SELLER).create_order_documents, DocumentsRequest(
        order_id=order_id, idempotency_key=f"{order_id}:documents-1", part=1, lines=one_mug, final=False))
    repeat_2 = await env.run(DocumentActivities(sessions, SELLER).create_order_documents, DocumentsRequest(
        order_id=order_id, idempotency_key=f"{order_id}:documents-2", part=2, lines=one_mug, final=True))
    assert sorted(repeat_1.document_ids) == sorted(first.document_ids)
    assert sorted(repeat_2.document_ids) == sorted(second.document_ids)


_numbers = itertools.count(1)
RATES = [Decimal("21"), Decimal("9"), Decimal("0")]
# A line: unit price (VAT included) in cents, quantity (at least 2 lines' worth of units), VAT rate.
baskets = st.lists(st.tuples(st.integers(1, 25_000), st.integers(1, 5), st.sampled_from(RATES)),
                   min_size=1, max_size=5).filter(lambda lines: sum(q for _, q, _ in lines) >= 2)
# A code: a whole or fractional percentage, or a fixed amount (sometimes above the goods).
codes = st.one_of(
    st.tuples(st.just("percentage"), st.decimals(min_value=Decimal("0.5"), max_value=Decimal("100"), places=1)),
    st.tuples(st.just("fixed"), st.integers(1, 60_000).map(lambda cents: Decimal(cents) / 100)),
)
# Shared across examples on purpose (each example uses its own SKUs, code and order).
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@EXAMPLES
@given(basket=baskets, code=codes, data=st.data())
async def test_the_parts_invoices_add_up_to_the_orders_total(sessions, basket, code, data) -> None:
    n = next(_numbers)
    skus = [f"PART-{n}-{i}" for i in range(len(basket))]
    async with transaction(sessions) as s:
        for sku, (cents, _, rate) in zip(skus, basket):
            s.add(Product(sku=sku, name="thing", price=Decimal(cents) / 100, vat_rate=rate,
                          weight_grams=100, length_mm=10, width_mm=10, height_mm=10))
        s.add(DiscountCode(code=f"PART{n}", kind=code[0], value=code[1], max_uses=1, uses=0, issued_by="test"))
    # Hypothesis seeds ``random`` alike for every example; the sandbox carrier draws tracking
    # numbers from it, and the examples share one database.
    random.seed(f"partial-shipments-{n}")
    order_id = await place_order(sessions, external_reference=f"WEB-PARTPROP-{n}", discount_code=f"PART{n}",
                                 ship_partial=True,
                                 lines=[{"sku": sku, "quantity": q} for sku, (_, q, _) in zip(skus, basket)])
    # Units of each line in part 1; each part gets at least one unit.
    first = data.draw(st.tuples(*(st.integers(0, q) for _, q, _ in basket)).filter(
        lambda split: 0 < sum(split) < sum(q for _, q, _ in basket)), label="part 1 units")
    part_1 = [ReservedLine(sku=sku, quantity=k) for sku, k in zip(skus, first) if k]
    part_2 = [ReservedLine(sku=sku, quantity=q - k) for sku, (_, q, _), k in zip(skus, basket, first) if q - k]

    doc_1 = await _part_documents(sessions, order_id, 1, part_1, final=False)
    doc_2 = await _part_documents(sessions, order_id, 2, part_2, final=True)
    async with sessions() as s:
        order = await s.get(Order, order_id)
        discount = order.discount.amount
    invoice_1, invoice_2 = await _invoices(sessions, order_id)
    goods = sum((line_total(Decimal(c) / 100, q) for c, q, _ in basket), Decimal("0.00"))
    goods_1 = sum((line_total(Decimal(c) / 100, k) for (c, _, _), k in zip(basket, first)), Decimal("0.00"))
    share = (discount * goods_1 / goods).quantize(CENT, rounding=ROUND_HALF_UP)
    assert invoice_1.discount_amount == share
    assert invoice_2.discount_amount == discount - share
    assert invoice_1.total_amount == goods_1 - share
    assert invoice_1.total_amount + invoice_2.total_amount == order.total_amount
    assert invoice_1.total_amount >= 0 and invoice_2.total_amount >= 0
    assert invoice_1.number != invoice_2.number and doc_1.invoice_number != doc_2.invoice_number
    repeat = await env.run(DocumentActivities(sessions, SELLER).create_order_documents, DocumentsRequest(
        order_id=order_id, idempotency_key=f"{order_id}:documents-1", part=1, lines=part_1, final=False))
    assert repeat.invoice_number == doc_1.invoice_number
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Invoice).where(Invoice.order_id == order_id)) == 2


# --- pick list and packing plan per part --------------------------------------------------


async def _part_one_shipped(sessions) -> tuple[str, WarehouseActivities]:
    """An order of 2 mugs and 3 teas whose part 1 (2 mugs, 1 tea) was picked, packed and left."""
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-PART-WH", ship_partial=True,
                                 lines=[{"sku": "MUG-001", "quantity": 2}, {"sku": "TEA-100", "quantity": 3}])
    await env.run(InventoryActivities(sessions).reserve_order_stock,
                  StockRequest(order_id=order_id, idempotency_key="wh:reserve"))
    warehouse = WarehouseActivities(sessions)
    part_1 = _lines(MUG_001=2, TEA_100=1)
    request = WarehouseRequest(order_id=order_id, idempotency_key="wh:1", part=1, lines=part_1)
    await env.run(warehouse.create_pick_list, request)
    await env.run(warehouse.plan_packing, request)
    await env.run(InventoryActivities(sessions).ship_reserved_stock,
                  StockRequest(order_id=order_id, idempotency_key="wh:ship-1", lines=part_1))
    return order_id, warehouse


async def _pick_lists(sessions, order_id: str) -> list[tuple[int, str, list[tuple[str, int, int]]]]:
    """(part, status, [(sku, quantity, picked)]) per pick list of the order."""
    async with sessions() as s:
        lists = (await s.execute(select(PickList).where(PickList.order_id == order_id)
                                 .order_by(PickList.part))).scalars().all()
        return [(pl.part, pl.status, sorted((ln.sku, ln.quantity, ln.picked) for ln in pl.lines)) for pl in lists]


def _units(lines: list[tuple[str, int, int]]) -> dict[str, int]:
    units: dict[str, int] = {}
    for sku, quantity, _ in lines:
        units[sku] = units.get(sku, 0) + quantity
    return units


async def _plan_skus(sessions, order_id: str, part: int) -> list[str]:
    async with sessions() as s:
        record = await s.get(PackingPlanRecord, (order_id, part))
        return sorted(item["sku"] for c in record.plan["containers"] for item in c["items"]) + sorted(
            record.plan.get("unpacked", []))


async def test_part_two_gets_its_own_pick_list_and_packing_plan_of_its_units(sessions) -> None:
    order_id, warehouse = await _part_one_shipped(sessions)
    [(part, status, lines_1)] = await _pick_lists(sessions, order_id)
    # Part 1's goods left: its list is shipped, all its units picked.
    assert (part, status, _units(lines_1)) == (1, "shipped", {"MUG-001": 2, "TEA-100": 1})
    assert all(picked == quantity for _, quantity, picked in lines_1)
    plan_1 = await _plan_skus(sessions, order_id, 1)
    assert plan_1 == ["MUG-001", "MUG-001", "TEA-100"]

    request = WarehouseRequest(order_id=order_id, idempotency_key="wh:2", part=2, lines=_lines(TEA_100=2))
    summary = await env.run(warehouse.create_pick_list, request)
    async with sessions() as s:
        new = await s.get(PickList, summary.pick_list_id)
        assert (new.part, new.status) == (2, "open")
    lists = await _pick_lists(sessions, order_id)
    assert [(p, s) for p, s, _ in lists] == [(1, "shipped"), (2, "open")]
    assert _units(lists[1][2]) == {"TEA-100": 2}
    assert lists[0][2] == lines_1  # part 1's list untouched
    # Asked again, part 2's list is the same one.
    assert (await env.run(warehouse.create_pick_list, request)).pick_list_id == summary.pick_list_id

    plan = await env.run(warehouse.plan_packing, request)
    assert plan.containers and not plan.unpacked
    assert await _plan_skus(sessions, order_id, 2) == ["TEA-100", "TEA-100"]
    assert await _plan_skus(sessions, order_id, 1) == plan_1
    lists = await _pick_lists(sessions, order_id)
    # Packing part 2 closed its own list (picked), not part 1's.
    assert [(p, s) for p, s, _ in lists] == [(1, "shipped"), (2, "picked")]
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(PackingPlanRecord).where(
            PackingPlanRecord.order_id == order_id)) == 2


async def test_a_cancellation_puts_back_the_open_part_and_leaves_the_shipped_one(sessions) -> None:
    order_id, warehouse = await _part_one_shipped(sessions)
    async with sessions() as s:
        tea_allocated = await s.scalar(select(func.sum(BinStock.allocated)).where(BinStock.sku == "TEA-100"))
        mug_bins = sorted((b.id, b.quantity, b.allocated) for b in (await s.execute(
            select(BinStock).where(BinStock.sku == "MUG-001"))).scalars())
    summary = await env.run(warehouse.create_pick_list, WarehouseRequest(
        order_id=order_id, idempotency_key="wh:2", part=2, lines=_lines(TEA_100=2)))
    async with transaction(sessions) as s:
        # The picker takes one tea of part 2 (as a confirmed pick step books it) before the cancel.
        pick_list = await s.get(PickList, summary.pick_list_id)
        line = pick_list.lines[0]
        stock = await s.get(BinStock, line.bin_stock_id)
        stock.quantity -= 1
        stock.allocated -= 1
        line.picked += 1
        line.picked_at = datetime.now(UTC)
        tea_quantity = await s.scalar(select(func.sum(BinStock.quantity)).where(BinStock.sku == "TEA-100"))
    async with sessions() as s:
        allocated = await s.scalar(select(func.sum(BinStock.allocated)).where(BinStock.sku == "TEA-100"))
    assert allocated == tea_allocated + 1  # part 2's second tea is still promised in its bin

    async with transaction(sessions) as s:
        tasks = await put_back_after_cancellation(s, order_id, datetime.now(UTC))
        put_back = [(t.sku, t.quantity, t.source) for t in tasks]
    # Only part 2's picked tea goes back; part 1's mugs and tea left with the carrier.
    assert put_back == [("TEA-100", 1, CANCELLATION)]
    lists = await _pick_lists(sessions, order_id)
    assert [(p, s) for p, s, _ in lists] == [(1, "shipped"), (2, "cancelled")]
    async with sessions() as s:
        assert await s.scalar(select(func.sum(BinStock.allocated)).where(BinStock.sku == "TEA-100")) == tea_allocated
        assert await s.scalar(select(func.sum(BinStock.quantity)).where(BinStock.sku == "TEA-100")) == tea_quantity
        assert sorted((b.id, b.quantity, b.allocated) for b in (await s.execute(
            select(BinStock).where(BinStock.sku == "MUG-001"))).scalars()) == mug_bins
        assert await s.scalar(select(func.count()).select_from(PutAwayTask).where(
            PutAwayTask.source == CANCELLATION)) == 1
    # A second cancellation finds nothing left to put back.
    async with transaction(sessions) as s:
        assert await put_back_after_cancellation(s, order_id, datetime.now(UTC)) == []


async def test_a_refund_of_the_first_part_leaves_the_rest_of_the_authorization_capturable(sessions) -> None:
    """A customer-service refund of everything shipment 1 cost, while shipment 2 is awaited:
    the authorization stays open for shipment 2, which is then captured."""
    await seed(sessions)
    order_id = await place_order(sessions, external_reference="WEB-PART-REFUND", ship_partial=True)
    provider = SandboxPaymentProvider(sessions)
    auth = await provider.authorize(reference=order_id, method=PaymentMethod.CARD, token="tok_visa",
                                    amount=Decimal("50.89"), idempotency_key="r:auth")
    await provider.capture(payment_id=auth.payment_id, amount=Decimal("25.90"), idempotency_key="r:c1", final=False)
    refunded = await provider.refund(payment_id=auth.payment_id, amount=Decimal("25.90"), idempotency_key="r:r1")
    assert (refunded.status, refunded.refunded) == (PaymentStatus.PARTIALLY_CAPTURED, Decimal("25.90"))
    last = await provider.capture(payment_id=auth.payment_id, amount=Decimal("24.99"), idempotency_key="r:c2")
    assert (last.status, last.captured, last.refunded) == (PaymentStatus.CAPTURED, Decimal("50.89"), Decimal("25.90"))
    # A whole capture refunded in full is refunded, as before.
    whole = await provider.authorize(reference=order_id, method=PaymentMethod.CARD, token="tok_visa",
                                     amount=Decimal("10.00"), idempotency_key="r:auth2")
    await provider.capture(payment_id=whole.payment_id, amount=Decimal("10.00"), idempotency_key="r:c3")
    assert (await provider.refund(payment_id=whole.payment_id, amount=Decimal("10.00"),
                                  idempotency_key="r:r2")).status == PaymentStatus.REFUNDED


async def test_dropping_the_rest_after_a_part_left_keeps_the_order_at_what_was_invoiced(sessions) -> None:
    """A fixed EUR 10 code: shipment 1's invoice took its share; when the rest is cancelled the
    order totals what that invoice charged (not the goods less the whole code), so the money
    settled matches the invoices."""
    await seed(sessions)
    async with transaction(sessions) as s:
        await issue_code(s, code="TENOFF", kind=DiscountKind.FIXED, value=Decimal("10.00"), issued_by="test")
    order_id = await place_order(sessions, external_reference="WEB-PART-DROP", ship_partial=True,
                                 discount_code="TENOFF",
                                 lines=[{"sku": "MUG-001", "quantity": 2}, {"sku": "SOLDOUT-1", "quantity": 1}])
    inventory = InventoryActivities(sessions)
    await env.run(inventory.reserve_order_stock, StockRequest(order_id=order_id, idempotency_key="d:reserve"))
    await env.run(inventory.ship_reserved_stock, StockRequest(
        order_id=order_id, idempotency_key="d:ship-1", lines=[ReservedLine(sku="MUG-001", quantity=2)]))
    async with transaction(sessions) as s:
        s.add(Invoice(order_id=order_id, part=1, number=903, reference="INV-TEST-000903",
                      total_amount=Decimal("23.65"), vat_amount=Decimal("4.10"), discount_amount=Decimal("2.25")))
    result = await env.run(inventory.drop_lines, LinesRequest(order_id=order_id, skus=["SOLDOUT-1"],
                                                              idempotency_key="d:drop", invoiced_parts=1))
    assert result.new_total == "23.65" and result.dropped == ["SOLDOUT-1"]
    async with sessions() as s:
        order = await s.get(Order, order_id)
        assert (order.total_amount, order.vat_amount) == (Decimal("23.65"), Decimal("4.10"))
