"""The order workflow: one durable process per customer order, from payment to feedback.

``run()`` reads as the business process; each stage is a small step method. Human steps
(pick, pack, handover), carrier tracking, feedback and cancellation arrive as Updates (with
validators, so the HTTP caller gets a 409 naming the current status) and as Signals with the
same names (so ``temporal workflow signal`` works; a signal that would have been refused is
recorded on the timeline as ignored). The rules of what may happen when live in
``domain.rules``.
"""

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.activity_options import ACTIVITY_TIMEOUT, RETRY
    from activities.documents import DocumentActivities
    from activities.inventory import InventoryActivities
    from activities.alerts import ATTENTION_SIGNAL, AlertActivities
    from activities.order_status import OrderStatusActivities
    from activities.payments import PaymentActivities
    from activities.shipping import ShippingActivities
    from activities.warehouse import WarehouseActivities
    from domain.warehouse import WarehouseRequest
    from domain.messages import FEEDBACK_REMINDER, NEW_PAYMENT_NEEDED
    from domain import rules
    from domain.enums import (
        AlertKind,
        BackorderDecision,
        BackorderPolicy,
        ErrorType,
        OrderStatus,
        PaymentStatus,
        ShipmentStatus,
        TimelineKind,
        TrackingEventKind,
    )
    from domain.stock import (
        BackorderDecisionInput,
        LinesRequest,
        ShortLine,
        ShortPickReport,
        StockAllocated,
        StockDelayed,
    )
    from domain.models import (
        AttentionChange,
        CancelRequest,
        DocumentsRequest,
        FeedbackInput,
        OrderView,
        OrderWorkflowInput,
        NewPayment,
        PackConfirmation,
        PackedPackage,
        PaymentRequest,
        PaymentResult,
        RaiseAlertRequest,
        ReservedLine,
        ShipmentInfo,
        ShipmentRequest,
        StatusChange,
        StatusChanges,
        StepConfirmation,
        StepResult,
        StockRequest,
        TimelineEntry,
        TrackingUpdate,
        all_shipments,
    )
    from workflows import search_attributes as sa



BACKORDERS_PATCH = "backorders"
# Orders booked before documents existed replay without the documents step.
DOCUMENTS_PATCH = "documents"
# Orders released before pick lists and packing plans existed replay without those steps.
WAREHOUSE_PATCH = "warehouse"
# Orders whose carrier reported an exception before alerts existed replay without raising one.
ALERTS_PATCH = "alerts"
# Status changes are published when the order next waits, all those since the last wait in
# one activity (PAYMENT_AUTHORIZED, RESERVED and PICKING come back to back): every history
# event costs throughput on the server. Orders before it published each change at once.
BATCHED_STATUS_PATCH = "batched-status"
# At handover the goods leave the books and the payment is captured at once: one round trip to
# the server instead of two. Orders before it did them in turn.
PARALLEL_HANDOVER_PATCH = "parallel-handover"
# A planner that fails keeps failing: give up after a few tries, the staff work without it.
PLANNING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)


def _describe(lines: list[ShortLine]) -> str:
    return ", ".join(f"{line.missing} x {line.sku} (expected {line.expected_date or 'unknown'})" for line in lines)


class _CancelRequested(Exception):
    """Raised inside the process when an API cancellation has been accepted."""


def _refusal_message(err: ActivityError) -> str:
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(err)


def _is_refusal(err: ActivityError, error_type: ErrorType) -> bool:
    return isinstance(err.cause, ApplicationError) and err.cause.type == error_type.value


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._order_id = ""
        self._status = OrderStatus.RECEIVED
        self._sequence = 0
        self._timeline: list[TimelineEntry] = []
        self._needs_attention = False
        self._payment: PaymentResult | None = None
        self._lines: list[ReservedLine] = []
        self._shipment: ShipmentInfo | None = None
        # Set before an activity starts, so a cancellation that lands while it runs still
        # compensates whatever it did (the compensations are idempotent and check the record).
        self._payment_started = self._reservation_started = self._booking_started = False
        self._picked = self._packed = self._handed_over = False
        self._delivered = False
        # Packages the carrier reported delivered; the order is delivered when all are.
        self._delivered_packages: set[str] = set()
        self._feedback: FeedbackInput | None = None
        self._tracking: deque[TrackingUpdate] = deque()
        self._cancel_request: CancelRequest | None = None
        self._authorized_at: datetime | None = None
        self._backorder_decision: BackorderDecision | None = None
        self._awaiting_skus: set[str] = set()
        self._allocated_skus: set[str] = set()
        self._allocated_quantities: dict[str, int] = {}
        self._delays: deque[StockDelayed] = deque()
        self._cancellation_reason: str | None = None
        self._awaiting_payment = False
        self._new_payment: NewPayment | None = None
        # Status changes not yet published (BATCHED_STATUS_PATCH): sent when the order next waits.
        self._unpublished: list[StatusChange] = []
        # A pick list that finished with units no bin held, not yet handled; and how many
        # times the order went down the out-of-stock path (0: only at intake), which keeps
        # the idempotency keys of each occurrence apart.
        self._short_pick: ShortPickReport | None = None
        self._shortage_round = 0
        # What the packer reported packing, when not the packing plan: booked as packed; and
        # how many times the order was booked (a report no carrier takes is packed again).
        self._packed_as: list[PackedPackage] | None = None
        self._pack_rounds = 0
        # An order shipped in parts (ship_partial, with units pre-ordered): the SKUs that come
        # later, the part in progress (1: what was in stock, 2: the rest) and its units, the
        # shipments of parts that left, and whether the rest was cancelled after a part left.
        self._later_skus: list[str] = []
        self._part = 1
        self._part_lines: list[ReservedLine] | None = None
        self._earlier_shipments: list[ShipmentInfo] = []
        self._earlier_lines: list[ReservedLine] = []
        self._rest_cancelled = False

    # --- the process ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderView:
        self._order_id = input.order_id
        try:
            await self._fulfil(input)
        except _CancelRequested:
            reason = self._cancel_request.reason if self._cancel_request else "cancelled"
            if self._earlier_shipments:
                await self._cancel_rest(reason)
                await self._track_to_the_end(input)
            else:
                await self._compensate(reason)
        except asyncio.CancelledError:
            if not self._handed_over and not self._earlier_shipments:
                # Temporal's own Cancel runs the same compensations as an API cancellation.
                await self._compensate("cancelled in Temporal")
                await self._publish_pending()
                raise
            if not self._all_shipped():
                # Part of the order left with the carrier: the rest is cancelled, the order goes on.
                if self._handed_over and not self._earlier_shipments:
                    await self._ship(final=False)  # the first part was just handed over
                    self._part_left()
                await self._cancel_rest("cancelled in Temporal")
            else:
                # The parcel is with the carrier: nothing can be undone, so the order goes on.
                self._note(TimelineKind.IGNORED, "Temporal cancel ignored: the order was already handed to the carrier")
            await self._track_to_the_end(input)
        await self._publish_pending()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    async def _fulfil(self, input: OrderWorkflowInput) -> None:
        if not await self._authorize_payment():
            return
        self._checkpoint()
        if not await self._reserve_stock(input):
            return
        self._checkpoint()
        await self._set_status(OrderStatus.PICKING, "released to the warehouse")
        if not await self._prepare_shipment(input):
            return
        if self._later_skus:
            # Shipped in parts: what was in stock leaves now, the pre-ordered rest when it comes.
            await self._wait_for_human(lambda: self._handed_over)
            await self._ship(final=False)
            if not await self._release_rest(input) or not await self._prepare_shipment(input):
                if self._rest_cancelled:  # the rest ended out of stock: the first parcel goes on
                    await self._track_to_the_end(input)
                return
        await self._wait_for_human(lambda: self._handed_over)
        await self._after_handover(input)

    async def _prepare_shipment(self, input: OrderWorkflowInput) -> bool:
        """Pick, pack, book and document the order (or the part of it being shipped), up to
        READY_TO_SHIP. False when the order ended on the way (cancelled)."""
        if workflow.patched(WAREHOUSE_PATCH):
            await self._plan_warehouse_step(WarehouseActivities.create_pick_list, "pick-list")
        await self._wait_for_human(self._pick_over)
        while self._short_pick is not None:
            if not await self._after_short_pick(input):
                return False
        await self._set_status(OrderStatus.PACKING, "picked")
        if workflow.patched(WAREHOUSE_PATCH):
            await self._plan_warehouse_step(WarehouseActivities.plan_packing, "packing-plan")
        await self._wait_for_human(lambda: self._packed)
        while not await self._book_shipment():
            if self._status == OrderStatus.CANCELLED:
                return False
            # The packages as reported fit no carrier: packed again, booked again.
            await self._wait_for_human(lambda: self._packed)
        if workflow.patched(DOCUMENTS_PATCH):
            await self._create_documents()
        self._checkpoint()
        await self._set_status(OrderStatus.READY_TO_SHIP, f"booked with {self._shipment.carrier if self._shipment else '?'}"
                                                          f"{self._of_parts()}")
        return True

    def _of_parts(self) -> str:
        return f" (shipment {self._part} of 2)" if self._later_skus else ""

    def _part_key(self, step: str) -> str:
        """The idempotency key of a step done once per shipment (the first keeps the old keys)."""
        return self._key(step if self._part == 1 else f"{step}-part-{self._part}")

    def _all_shipped(self) -> bool:
        """Nothing more is to ship: the order shipped whole, or its last part (or the rest of it
        was cancelled)."""
        return not self._later_skus or self._rest_cancelled or (self._part > 1 and self._handed_over)

    async def _release_rest(self, input: OrderWorkflowInput) -> bool:
        """The first part left: the order is PARTIALLY_SHIPPED until the pre-ordered rest has
        arrived (the first parcel's tracking goes on meanwhile), then the rest is released to
        the warehouse as the second shipment."""
        self._part_left()
        while self._awaiting_skus:
            await self._publish_pending()
            await workflow.wait_condition(lambda: not self._awaiting_skus or bool(self._delays) or bool(self._tracking)
                                          or self._cancel_request is not None)
            self._checkpoint()
            while self._tracking:
                await self._apply_tracking(self._tracking.popleft())
            if self._delays:
                delayed = self._delays.popleft()
                await self._set_status(OrderStatus.PARTIALLY_SHIPPED,
                                       f"delayed: {delayed.sku} now expected {delayed.expected_date}")
        self._part += 1
        # What the order holds now is the second shipment (the first one's units left the books).
        held = await self._step(InventoryActivities.held_stock, StockRequest(
            order_id=self._order_id, idempotency_key=self._part_key("held-stock")))
        self._part_lines = held.lines
        units = {line.sku: line.quantity for line in self._earlier_lines}
        for line in held.lines:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
        self._lines = [ReservedLine(sku=s, quantity=q) for s, q in sorted(units.items())]
        await self._set_status(OrderStatus.RESERVED, f"the pre-ordered units arrived: {', '.join(self._later_skus)}")
        await self._set_status(OrderStatus.PICKING, f"released to the warehouse{self._of_parts()}")
        return True

    def _part_left(self) -> None:
        """The first part is with the carrier; the next starts from nothing picked, packed,
        booked or handed over."""
        assert self._shipment is not None
        self._earlier_shipments.append(self._shipment)
        self._earlier_lines = list(self._part_lines or [])
        self._picked = self._packed = self._handed_over = self._booking_started = False
        self._packed_as, self._pack_rounds = None, 0

    async def _cancel_rest(self, reason: str) -> None:
        """Part of the order left with the carrier: what has not shipped is cancelled (its
        booking, its held stock and pre-order claims, its units on the order, the rest of the
        payment), and the order goes on with the shipments that left."""
        self._cancellation_reason = reason
        if self._booking_started:
            await self._step(ShippingActivities.cancel_shipment, ShipmentRequest(
                order_id=self._order_id, idempotency_key=self._part_key("cancel-shipment"), part=self._part))
        await self._step(InventoryActivities.release_stock,
                         StockRequest(order_id=self._order_id, idempotency_key=self._part_key("release")))
        result = await self._step(InventoryActivities.drop_lines, LinesRequest(
            order_id=self._order_id, skus=self._later_skus, idempotency_key=self._part_key("drop-rest"),
            invoiced_parts=len(self._earlier_shipments)))
        # A card: the rest of the authorization is released (what the shipped part cost was
        # captured at its handover). Then whatever was paid above the new total is refunded
        # (iDEAL paid everything at once).
        if self._payment is not None and self._payment.status == PaymentStatus.PARTIALLY_CAPTURED:
            self._payment = await self._step(PaymentActivities.cancel_payment, PaymentRequest(
                order_id=self._order_id, idempotency_key=self._part_key("release-rest")))
        self._payment = await self._step(PaymentActivities.settle_payment_to_order, PaymentRequest(
            order_id=self._order_id, idempotency_key=self._part_key("settle-rest"))) or self._payment
        self._rest_cancelled = True
        self._cancel_request = None
        self._shipment = self._earlier_shipments.pop()
        self._lines = self._earlier_lines
        self._picked = self._packed = self._handed_over = True
        # The reason stays off the status (it may be the customer's own words, and status
        # changes are kept after a customer's data is erased); the timeline has it.
        self._note(TimelineKind.EVENT, f"the rest of the order was cancelled: {reason}")
        await self._set_status(OrderStatus.SHIPPED, "the rest of the order was cancelled; what shipped goes on, "
                                                    f"new total EUR {result.new_total}")
        if self._delivered_packages and self._all_packages_delivered():
            self._delivered = True
            await self._set_status(OrderStatus.DELIVERED, "every shipment was delivered")

    async def _after_handover(self, input: OrderWorkflowInput) -> None:
        if self._status == OrderStatus.READY_TO_SHIP:
            await self._ship()
        while self._status not in (OrderStatus.DELIVERED, OrderStatus.FEEDBACK_REQUESTED, OrderStatus.COMPLETED):
            await self._publish_pending()
            await workflow.wait_condition(lambda: bool(self._tracking))
            await self._apply_tracking(self._tracking.popleft())
        await self._follow_up(input)

    async def _track_to_the_end(self, input: OrderWorkflowInput) -> None:
        """After the (last) parcel left, whatever happened before: tracking, delivery, feedback.
        A Temporal cancel now changes nothing (the goods are with the carrier)."""
        while True:
            try:
                await self._after_handover(input)
                return
            except asyncio.CancelledError:
                self._note(TimelineKind.IGNORED, "Temporal cancel ignored: the order was already handed to the carrier")

    async def _authorize_payment(self) -> bool:
        self._payment_started = True
        try:
            self._payment = await self._step(
                PaymentActivities.authorize_payment, PaymentRequest(order_id=self._order_id, idempotency_key=self._key("authorize")))
        except ActivityError as err:
            if not _is_refusal(err, ErrorType.PAYMENT_DECLINED):
                raise
            self._payment_started = False  # declined: there is nothing to void
            await self._set_status(OrderStatus.PAYMENT_FAILED, _refusal_message(err))
            return False
        self._authorized_at = workflow.now()
        await self._set_status(OrderStatus.PAYMENT_AUTHORIZED, f"{self._payment.method} payment of EUR {self._payment.amount}")
        return True

    async def _reserve_stock(self, input: OrderWorkflowInput) -> bool:
        self._reservation_started = True
        if workflow.patched(BACKORDERS_PATCH):
            return await self._reserve_or_backorder(input)
        # Orders started before backorders existed: all lines or nothing.
        try:
            result = await self._step(
                InventoryActivities.reserve_stock, StockRequest(order_id=self._order_id, idempotency_key=self._key("reserve")))
        except ActivityError as err:
            if not _is_refusal(err, ErrorType.OUT_OF_STOCK):
                raise
            await self._compensate(_refusal_message(err))
            return False
        self._lines = result.lines
        await self._set_status(OrderStatus.RESERVED, "all lines reserved")
        return True

    async def _reserve_or_backorder(self, input: OrderWorkflowInput) -> bool:
        check = await self._step(InventoryActivities.reserve_order_stock,
                                 StockRequest(order_id=self._order_id, idempotency_key=self._key("reserve")))
        self._lines = check.reserved
        # ship_partial: what is in stock need not wait for pre-ordered units.
        split = input.ship_partial and any(line.quantity > 0 for line in check.reserved)
        if check.short and await self._resolve_shortage(input, check.short, split=split) is None:
            return False
        if self._later_skus:
            self._part_lines = [line for line in self._lines if line.quantity > 0]
            await self._set_status(OrderStatus.RESERVED, "the units in stock reserved; they ship now, the pre-ordered "
                                                         f"rest ({', '.join(self._later_skus)}) in a second shipment")
            return True
        await self._set_status(OrderStatus.RESERVED, "all lines reserved")
        return True

    async def _after_short_pick(self, input: OrderWorkflowInput) -> bool:
        """The pick list finished with units no bin held: those units take the out-of-stock
        path (the order's backorder policy) while what was picked waits in its tote. Pre-ordered
        units are picked in a second round when they arrive; cancelled ones leave the order,
        which is re-priced. In the first shipment of an order shipped in parts, pre-ordered
        units join the second shipment and the first goes on with what was picked. False when
        the order (or, after a shipment left, its rest) ended."""
        self._checkpoint()  # a cancellation that came with the report goes first
        report, self._short_pick = self._short_pick, None
        assert report is not None
        self._note(TimelineKind.EVENT, f"short pick on {report.pick_list_id}: {_describe(report.lines)}"
                                       f"{' (reported by ' + report.confirmed_by + ')' if report.confirmed_by else ''}")
        missing = {line.sku: line.missing for line in report.lines}
        self._lines = [ReservedLine(sku=sku, quantity=quantity - missing.get(sku, 0))
                       for sku, quantity in sorted((line.sku, line.quantity) for line in self._lines)
                       if quantity > missing.get(sku, 0)]
        split_before = bool(self._later_skus) and self._part == 1
        if self._part_lines is not None:
            # This shipment holds what was picked; what comes later is added when it arrives.
            self._part_lines = [ReservedLine(sku=line.sku, quantity=line.quantity - missing.get(line.sku, 0))
                                for line in self._part_lines if line.quantity > missing.get(line.sku, 0)]
        unsplit_from: list[str] = []
        if split_before and not self._part_lines:
            # Nothing of the first shipment was there: the order is no longer split, it waits
            # for everything and ships it together.
            unsplit_from, self._later_skus, self._part_lines = self._later_skus, [], None
            self._note(TimelineKind.EVENT, "nothing of the first shipment was there: the order ships whole")
        first_of_parts = bool(self._later_skus) and self._part == 1
        if split_before:
            # The pre-ordered rest of an order shipped in parts keeps what was given to it.
            self._allocated_quantities = {s: q for s, q in self._allocated_quantities.items() if s not in missing}
        else:
            self._allocated_quantities = {}
        self._allocated_skus -= set(missing)
        self._backorder_decision = None
        self._shortage_round += 1
        served = await self._resolve_shortage(input, report.lines, split=first_of_parts)
        if served is None:
            return False
        if unsplit_from:
            # What the second shipment was to bring comes with this one now: wait for it too.
            if self._awaiting_skus and self._status != OrderStatus.AWAITING_STOCK:
                await self._set_status(OrderStatus.AWAITING_STOCK, "waiting for the pre-ordered "
                                                                   f"{', '.join(sorted(self._awaiting_skus))}")
            if not await self._await_stock(input):
                return False
            served = sorted(set(served) | set(unsplit_from))
        if self._earlier_shipments and not self._part_lines and not served:
            # Nothing of this shipment was there and nothing comes: the rest of the order ends.
            await self._cancel_rest(f"out of stock: {_describe(report.lines)}")
            return False
        if not served or first_of_parts:
            self._picked = True
            self._note(TimelineKind.EVENT, "the order goes on with the units that were picked"
                                           f"{'; the pre-ordered ones follow in the second shipment' if served else ''}")
            return True
        if self._part_lines is not None:
            # The second shipment: everything the order holds now (what was picked and what arrived).
            held = await self._step(InventoryActivities.held_stock, StockRequest(
                order_id=self._order_id, idempotency_key=self._occurrence("held-stock")))
            self._part_lines = held.lines
        await self._set_status(OrderStatus.RESERVED, f"pre-ordered units reserved: {', '.join(served)}")
        await self._set_status(OrderStatus.PICKING, "released to the warehouse: the units that arrived")
        await self._plan_warehouse_step(WarehouseActivities.create_pick_list, f"pick-list-{self._shortage_round + 1}")
        await self._wait_for_human(self._pick_over)
        return True

    def _pick_over(self) -> bool:
        return self._picked or self._short_pick is not None

    def _occurrence(self, step: str) -> str:
        """The idempotency key of a step of the out-of-stock path, apart for each time the
        order goes down it (the first keeps the keys orders had before short picks)."""
        return self._key(step if not self._shortage_round else f"{step}-{self._shortage_round + 1}")

    async def _resolve_shortage(self, input: OrderWorkflowInput, short: list[ShortLine], *,
                                split: bool = False) -> list[str] | None:
        """Apply each short line's backorder policy; ``ask`` waits for the customer's answer.
        Returns the pre-ordered SKUs, reserved once they arrived (none when every missing unit
        was cancelled), or None when the order was cancelled. With ``split`` (ship_partial and
        something in stock) pre-ordered SKUs are not waited for: they ship later on their own."""
        policies = {line.sku: line.policy for line in short}
        asked = [line for line in short if line.policy == BackorderPolicy.ASK]
        if asked:
            await self._set_status(OrderStatus.AWAITING_CUSTOMER, f"out of stock: {_describe(asked)}")
            await self._publish_pending()
            try:
                await workflow.wait_condition(
                    lambda: self._backorder_decision is not None or self._cancel_request is not None,
                    timeout=timedelta(seconds=input.backorder_decision_timeout_seconds))
            except TimeoutError:
                self._note(TimelineKind.EVENT, f"no answer in time: applying the default '{input.backorder_default}'")
            self._checkpoint()
            decision = self._backorder_decision or input.backorder_default
            if decision == BackorderDecision.CANCEL_ORDER:
                if self._earlier_shipments:
                    # A shipment left already: what did not ship is cancelled, it goes on.
                    await self._cancel_rest("customer cancelled the rest of the order: items out of stock")
                    return None
                await self._compensate("customer cancelled the order: items out of stock")
                return None
            for line in asked:
                policies[line.sku] = BackorderPolicy.PREORDER if decision == BackorderDecision.PREORDER else BackorderPolicy.CANCEL
        dropped = sorted(sku for sku, p in policies.items() if p == BackorderPolicy.CANCEL)
        if dropped:
            result = await self._step(InventoryActivities.drop_lines, LinesRequest(
                order_id=self._order_id, skus=dropped, idempotency_key=self._occurrence("drop-lines")))
            kept = ", ".join(f"{sku} cut to {n}" for sku, n in sorted(result.shortened.items()))
            self._note(TimelineKind.EVENT, f"cancelled the missing units of: {', '.join(dropped)}"
                                           f"{' (' + kept + ')' if kept else ''}")
            if result.remaining_lines == 0:
                await self._compensate(f"out of stock: {', '.join(dropped)}; nothing left to ship")
                return None
            self._payment = await self._step(PaymentActivities.settle_payment_to_order, PaymentRequest(
                order_id=self._order_id, idempotency_key=self._occurrence("settle-dropped-lines")))
        preordered = sorted(sku for sku, p in policies.items() if p == BackorderPolicy.PREORDER)
        if preordered and split:
            await self._place_preorders(preordered, "; what is in stock ships now")
            if self._awaiting_skus or self._later_skus:
                self._later_skus = sorted(set(self._later_skus) | set(preordered))
                return preordered
            # Everything came at once: nothing to split.
            self._lines = [ReservedLine(sku=s, quantity=q) for s, q in sorted(self._line_quantities().items())]
            return preordered
        if preordered and not await self._wait_for_preorders(input, preordered):
            return None
        return preordered

    async def _place_preorders(self, skus: list[str], note: str = "") -> None:
        result = await self._step(InventoryActivities.place_preorders, LinesRequest(
            order_id=self._order_id, skus=skus, idempotency_key=self._occurrence("preorder")))
        # Added to: an order shipped in parts may still await the SKUs of its second shipment.
        self._awaiting_skus |= {c.sku for c in result.claims} - self._allocated_skus
        await self._set_status(OrderStatus.AWAITING_STOCK, "pre-order: " + ", ".join(
            f"{c.sku} expected {c.expected_date or 'soon'}" for c in result.claims) + note)

    async def _wait_for_preorders(self, input: OrderWorkflowInput, skus: list[str]) -> bool:
        await self._place_preorders(skus)
        return await self._await_stock(input)

    async def _await_stock(self, input: OrderWorkflowInput) -> bool:
        """AWAITING_STOCK until every pre-ordered SKU arrived (delays told on the way), then
        the card authorization renewed if it expired meanwhile."""
        while self._awaiting_skus:
            await self._publish_pending()
            await workflow.wait_condition(
                lambda: not self._awaiting_skus or bool(self._delays) or self._cancel_request is not None)
            self._checkpoint()
            if self._delays:
                delayed = self._delays.popleft()
                await self._set_status(OrderStatus.AWAITING_STOCK,
                                       f"delayed: {delayed.sku} now expected {delayed.expected_date}")
        self._lines = [ReservedLine(sku=s, quantity=q) for s, q in sorted(self._line_quantities().items())]
        return await self._renew_authorization_if_expired(input)

    def _line_quantities(self) -> dict[str, int]:
        quantities = {line.sku: line.quantity for line in self._lines}
        for sku, quantity in self._allocated_quantities.items():
            quantities[sku] = quantities.get(sku, 0) + quantity
        return quantities

    async def _renew_authorization_if_expired(self, input: OrderWorkflowInput) -> bool:
        """Card authorizations expire: one older than the validity is renewed before shipping."""
        if self._payment is None or self._payment.status != PaymentStatus.AUTHORIZED:
            return True
        if self._authorized_at and workflow.now() - self._authorized_at < timedelta(seconds=input.authorization_validity_seconds):
            return True
        try:
            self._payment = await self._step(PaymentActivities.reauthorize_payment, PaymentRequest(
                order_id=self._order_id, idempotency_key=self._occurrence("reauthorize")))
        except ActivityError as err:
            if not _is_refusal(err, ErrorType.PAYMENT_DECLINED):
                raise
            if not input.new_payment_wait_seconds:
                await self._compensate(f"the card authorization expired and could not be renewed: {_refusal_message(err)}")
                return False
            return await self._wait_for_new_payment(input, _refusal_message(err))
        self._authorized_at = workflow.now()
        self._note(TimelineKind.EVENT, "card authorization renewed")
        return True

    async def _wait_for_new_payment(self, input: OrderWorkflowInput, declined: str) -> bool:
        """The customer is asked for a new payment; each one sent is authorized in turn, and with
        none that works in time the order is cancelled and its stock freed."""
        self._awaiting_payment = True
        await self._set_status(OrderStatus.AWAITING_CUSTOMER, f"{NEW_PAYMENT_NEEDED}: {declined}")
        for attempt in itertools.count(1):
            await self._publish_pending()
            try:
                await workflow.wait_condition(lambda: self._new_payment is not None or self._cancel_request is not None,
                                              timeout=timedelta(seconds=input.new_payment_wait_seconds or 0))
            except TimeoutError:
                self._awaiting_payment = False
                await self._compensate("no new payment arrived in time after the card authorization expired")
                return False
            if self._cancel_request is not None:
                self._awaiting_payment = False
            self._checkpoint()
            payment, self._new_payment = self._new_payment, None
            assert payment is not None
            try:
                self._payment = await self._step(PaymentActivities.reauthorize_payment, PaymentRequest(
                    order_id=self._order_id, idempotency_key=self._occurrence(f"new-payment-{attempt}"),
                    token=payment.token))
            except ActivityError as err:
                if not _is_refusal(err, ErrorType.PAYMENT_DECLINED):
                    raise
                self._note(TimelineKind.EVENT, f"the new payment was declined too: {_refusal_message(err)}")
                continue
            break
        self._awaiting_payment = False
        self._authorized_at = workflow.now()
        self._note(TimelineKind.EVENT, "new payment authorized")
        return True

    async def _book_shipment(self) -> bool:
        """Book the packages; False when no carrier took them: the order is cancelled (nothing
        any carrier takes), or, for packages the packer reported, it is back in PACKING."""
        self._booking_started = True
        self._pack_rounds += 1
        key = self._part_key("book" if self._pack_rounds == 1 else f"book-{self._pack_rounds}")
        try:
            self._shipment = await self._step(
                ShippingActivities.book_shipment, ShipmentRequest(order_id=self._order_id, idempotency_key=key,
                                                                  packages=self._packed_as, part=self._part,
                                                                  lines=self._part_lines))
        except ActivityError as err:
            if not _is_refusal(err, ErrorType.CARRIER_REFUSED):
                raise
            if self._packed_as or self._earlier_shipments:
                # The packer's report, not the goods, fits no carrier (a slip of the finger, or
                # a box too big): the goods are still here, so they are packed again.
                self._packed, self._packed_as = False, None
                await self._set_status(OrderStatus.PACKING, f"no carrier takes the packages as reported "
                                                            f"({_refusal_message(err)}); pack again")
                return False
            # No carrier will take it: the customer is refunded rather than left waiting.
            await self._compensate(_refusal_message(err))
            return False
        return True

    async def _plan_warehouse_step(self, activity: Callable[..., Awaitable[Any]], step: str) -> None:
        """The pick list or packing plan (CPU work: an activity). Staff can work without one,
        so a planner that fails is noted on the timeline and the order goes on."""
        handle = workflow.start_activity_method(
            activity, WarehouseRequest(order_id=self._order_id, idempotency_key=self._part_key(step), part=self._part,
                                       lines=self._part_lines),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PLANNING_RETRY)
        try:
            # Shielded like every step: a Temporal cancel must reach the compensation, not be
            # taken for a failed plan (an unshielded activity fails with the cancel inside).
            await asyncio.shield(handle)
        except asyncio.CancelledError:
            try:
                await handle
            except ActivityError:
                pass
            raise
        except ActivityError as err:
            self._note(TimelineKind.EVENT, f"no {step.replace('-', ' ')}: {_refusal_message(err)}")

    async def _create_documents(self) -> None:
        """Label, invoice and packing slip, rendered and stored once (CPU work: an activity)."""
        result = await self._step(DocumentActivities.create_order_documents, DocumentsRequest(
            order_id=self._order_id, idempotency_key=self._part_key("documents"), part=self._part,
            lines=self._part_lines, final=self._part > 1 or not self._later_skus))
        self._note(TimelineKind.EVENT, f"label, packing slip and invoice {result.invoice_number} ready")

    async def _ship(self, *, final: bool = True) -> None:
        """The parcel left: its goods leave the books and its payment is captured. An order
        shipped in parts does this per shipment: the first captures its invoice and the order
        is PARTIALLY_SHIPPED, the last captures the rest."""
        def ship_stock() -> Awaitable[Any]:
            return self._step(InventoryActivities.ship_reserved_stock, StockRequest(
                order_id=self._order_id, idempotency_key=self._part_key("ship-stock"), lines=self._part_lines))

        def capture() -> Awaitable[Any]:
            return self._step(PaymentActivities.capture_payment, PaymentRequest(
                order_id=self._order_id, idempotency_key=self._part_key("capture"), part=self._part, final=final))

        if workflow.patched(PARALLEL_HANDOVER_PATCH):
            # Independent of each other; SHIPPED is told once both are done, so an order that
            # says SHIPPED has its payment captured.
            _, self._payment = await asyncio.gather(ship_stock(), capture())
        else:
            await ship_stock()
            self._payment = await capture()
        if self._shipment is not None and self._shipment.status == ShipmentStatus.BOOKED:
            self._shipment.status = ShipmentStatus.SHIPPED
        if not final:
            await self._set_status(OrderStatus.PARTIALLY_SHIPPED, "shipment 1 of 2 handed to the carrier; the "
                                                                  f"pre-ordered rest ({', '.join(self._later_skus)}) "
                                                                  "follows when it arrives")
            return
        await self._set_status(OrderStatus.SHIPPED, f"handed to the carrier{self._of_parts()}")

    async def _apply_tracking(self, update: TrackingUpdate) -> None:
        match update.event:
            case TrackingEventKind.IN_TRANSIT if self._status == OrderStatus.SHIPPED:
                await self._set_status(OrderStatus.IN_TRANSIT, update.description or "in transit")
            case TrackingEventKind.DELIVERED if not self._delivered:
                packages = self._tracked_packages()
                done = len(self._delivered_packages & set(packages))
                rest = "" if self._all_shipped() else "; the rest of the order is still to ship"
                self._note(TimelineKind.EVENT, f"carrier: package {update.tracking_number} delivered "
                                               f"({done} of {len(packages)}{rest})")
            case TrackingEventKind.DELIVERED:
                self._needs_attention = False
                await self._set_status(OrderStatus.DELIVERED, update.description or "delivered")
            case TrackingEventKind.EXCEPTION:
                self._needs_attention = True
                if workflow.patched(ALERTS_PATCH):
                    await self._step(AlertActivities.raise_alert, RaiseAlertRequest(
                        kind=AlertKind.DELIVERY_EXCEPTION, order_id=self._order_id, raised_at=workflow.now(),
                        dedupe_key=f"delivery_exception:{self._order_id}:{self._sequence + 1}",
                        message=f"Carrier reported a delivery exception for order {self._order_id}"
                                f" ({update.tracking_number}): "
                                f"{update.description or 'no details'}. Contact the carrier and the customer."))
                await self._set_status(self._status, f"delivery exception: {update.description or 'reported by carrier'}",
                                       delivery_exception=True)
            case _:
                self._note(TimelineKind.EVENT, f"carrier: {update.event}")

    async def _follow_up(self, input: OrderWorkflowInput) -> None:
        if self._status == OrderStatus.COMPLETED:
            return
        if self._status == OrderStatus.DELIVERED and not await self._feedback_within(input.feedback_request_delay_seconds):
            await self._set_status(OrderStatus.FEEDBACK_REQUESTED, "feedback asked for")
            wait, reminder = input.feedback_wait_seconds, input.feedback_reminder_after_seconds
            # Input-determined, so orders started without a reminder replay unchanged.
            if reminder is not None and 0 < reminder < wait:
                if not await self._feedback_within(reminder):
                    await self._set_status(OrderStatus.FEEDBACK_REQUESTED, FEEDBACK_REMINDER)
                wait -= reminder
            await self._feedback_within(wait)
        reason = f"feedback: {self._feedback.rating}/5" if self._feedback else "no feedback received"
        await self._set_status(OrderStatus.COMPLETED, reason)

    async def _feedback_within(self, seconds: float) -> bool:
        await self._publish_pending()
        try:
            await workflow.wait_condition(lambda: self._feedback is not None, timeout=timedelta(seconds=seconds))
        except TimeoutError:
            return False
        return True

    async def _compensate(self, reason: str) -> None:
        """Undo in reverse order what was done; each compensation is idempotent."""
        self._cancellation_reason = reason
        if self._booking_started:
            self._shipment = await self._step(ShippingActivities.cancel_shipment, ShipmentRequest(
                order_id=self._order_id, idempotency_key=self._key("cancel-shipment")))
        if self._reservation_started:
            await self._step(InventoryActivities.release_stock,
                             StockRequest(order_id=self._order_id, idempotency_key=self._key("release")))
        if self._payment_started:
            self._payment = await self._step(PaymentActivities.cancel_payment,
                                             PaymentRequest(order_id=self._order_id, idempotency_key=self._key("cancel-payment")))
        await self._set_status(OrderStatus.CANCELLED, reason)

    # --- building blocks --------------------------------------------------------------

    def _key(self, step: str) -> str:
        return f"{workflow.info().workflow_id}:{step}"

    async def _step(self, activity: Callable[..., Awaitable[Any]], arg: Any) -> Any:
        """Run one activity to its end even if the workflow is cancelled meanwhile, so the
        compensation that follows knows exactly what was done."""
        handle = workflow.start_activity_method(
            activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)
        try:
            return await asyncio.shield(handle)
        except asyncio.CancelledError:
            try:
                await handle
            except ActivityError:
                pass
            raise

    def _checkpoint(self) -> None:
        if self._cancel_request is not None:
            raise _CancelRequested

    async def _wait_for_human(self, done: Callable[[], bool]) -> None:
        await self._publish_pending()
        # Once a shipment of an order shipped in parts left, its parcel's tracking (a delivery
        # exception above all) is handled while the next shipment is in the warehouse.
        tracking = lambda: bool(self._earlier_shipments) and bool(self._tracking)  # noqa: E731
        await workflow.wait_condition(lambda: done() or self._cancel_request is not None or tracking())
        while not done() and self._cancel_request is None and tracking():
            await self._apply_tracking(self._tracking.popleft())
            await self._publish_pending()
            await workflow.wait_condition(lambda: done() or self._cancel_request is not None or tracking())
        if not done():
            self._checkpoint()

    async def _set_status(self, status: OrderStatus, reason: str, *, delivery_exception: bool = False) -> None:
        """Record a status change (or an attention change) and tell everyone, once."""
        self._status = status
        self._sequence += 1
        now = workflow.now()
        self._timeline.append(TimelineEntry(at=now, kind=TimelineKind.STATUS, status=status, message=reason,
                                            sequence=self._sequence))
        change = StatusChange(
            order_id=self._order_id, sequence=self._sequence, status=status, occurred_at=now, reason=reason,
            needs_attention=self._needs_attention,
            tracking_number=self._shipment.tracking_number if self._shipment else None,
            feedback=self._feedback if status == OrderStatus.COMPLETED else None,
            delivery_exception=delivery_exception)
        if workflow.patched(BATCHED_STATUS_PATCH):
            self._unpublished.append(change)
            return
        self._upsert_status()
        await self._step(OrderStatusActivities.publish_status_change, change)

    def _upsert_status(self) -> None:
        workflow.upsert_search_attributes([
            sa.ORDER_STATUS.value_set(self._status.value),
            sa.NEEDS_ATTENTION.value_set(self._needs_attention),
        ])

    async def _publish_pending(self) -> None:
        """Publish the status changes since the order last waited, in one activity, and bring
        the search attributes up to the latest; the order waits with everyone told."""
        if not self._unpublished:
            return
        changes, self._unpublished = self._unpublished, []
        self._upsert_status()
        if len(changes) == 1:
            await self._step(OrderStatusActivities.publish_status_change, changes[0])
        else:
            await self._step(OrderStatusActivities.publish_status_changes, StatusChanges(changes=changes))

    def _note(self, kind: TimelineKind, message: str) -> None:
        self._timeline.append(TimelineEntry(at=workflow.now(), kind=kind, status=self._status, message=message))

    def _progress(self) -> rules.StepProgress:
        return rules.StepProgress(status=self._status, picked=self._picked, packed=self._packed,
                                  handed_over=self._handed_over, delivered=self._delivered,
                                  feedback_received=self._feedback is not None,
                                  cancel_requested=self._cancel_request is not None,
                                  awaiting_payment=self._awaiting_payment,
                                  short_pick_pending=self._short_pick is not None,
                                  shipped_parts=len(self._earlier_shipments))

    def _view(self) -> OrderView:
        return OrderView(order_id=self._order_id, status=self._status, sequence=self._sequence,
                         needs_attention=self._needs_attention, lines=self._lines, payment=self._payment,
                         shipment=self._shipment, earlier_shipments=self._earlier_shipments,
                         cancellation_reason=self._cancellation_reason,
                         rating=self._feedback.rating if self._feedback else None, timeline=self._timeline)

    def _result(self, decision: rules.Decision) -> StepResult:
        return StepResult(accepted=decision.outcome == rules.Outcome.ACCEPT, status=self._status,
                          message=decision.message)

    def _validate(self, decision: rules.Decision) -> None:
        if decision.outcome == rules.Outcome.REFUSE:
            raise ApplicationError(decision.message, {"status": self._status.value}, type="StepRefused")

    def _signal(self, name: str, decision: rules.Decision, apply: Callable[[], None]) -> None:
        if decision.outcome == rules.Outcome.REFUSE:
            self._note(TimelineKind.IGNORED, f"signal {name} ignored: {decision.message}")
        elif decision.outcome == rules.Outcome.ACCEPT:
            apply()

    # --- query ------------------------------------------------------------------------

    @workflow.query
    def view(self) -> OrderView:
        return self._view()

    # --- human steps: updates (with validators) and signals of the same name ------------

    def _apply_pick(self, c: StepConfirmation) -> None:
        self._picked = True
        self._note(TimelineKind.EVENT, f"pick confirmed{' by ' + c.confirmed_by if c.confirmed_by else ''}")

    def _apply_pack(self, c: PackConfirmation) -> None:
        self._packed = True
        self._packed_as = c.packages
        packed_as = ""
        if c.packages:
            kg = sum(p.weight_grams for p in c.packages) / 1000
            packed_as = f": {len(c.packages)} package{'s' if len(c.packages) > 1 else ''} as packed ({kg:.1f} kg)"
        self._note(TimelineKind.EVENT, f"pack confirmed{' by ' + c.confirmed_by if c.confirmed_by else ''}{packed_as}")

    def _apply_handover(self, c: StepConfirmation) -> None:
        self._handed_over = True
        self._note(TimelineKind.EVENT, f"handover confirmed{' by ' + c.confirmed_by if c.confirmed_by else ''}")

    def _apply_tracking_update(self, u: TrackingUpdate) -> None:
        if u.event == TrackingEventKind.DELIVERED:
            self._delivered_packages.add(u.tracking_number)
            self._delivered = self._all_packages_delivered()
        self._track_shipment(u)
        self._tracking.append(u)

    def _track_shipment(self, u: TrackingUpdate) -> None:
        """The shipment the event is about shows where it is (the view's shipments have their
        own status: with an order shipped in parts, one may be delivered while the next is
        picked). Delivered once every package of it is."""
        for shipment in all_shipments(self._earlier_shipments, self._shipment):
            numbers = shipment.all_tracking_numbers()
            if u.tracking_number not in numbers or shipment.status in (ShipmentStatus.DELIVERED,
                                                                       ShipmentStatus.CANCELLED):
                continue
            if u.event != TrackingEventKind.DELIVERED:
                shipment.status = ShipmentStatus(u.event.value)
            elif set(numbers) <= self._delivered_packages:
                shipment.status = ShipmentStatus.DELIVERED
    def _all_packages_delivered(self) -> bool:
        """A shipment of several packages is delivered when every package is, and an order
        shipped in parts when every shipment is (so not before the last part left). (A number
        we do not know, e.g. of a shipment booked before packages existed, counts for the whole.)"""
        if not self._all_shipped():
            return False
        packages = set(self._tracked_packages())
        return not packages or packages <= self._delivered_packages or not (self._delivered_packages & packages)

    def _tracked_packages(self) -> list[str]:
        shipments = all_shipments(self._earlier_shipments, self._shipment)
        return [number for shipment in shipments for number in shipment.all_tracking_numbers()]

    def _apply_feedback(self, f: FeedbackInput) -> None:
        self._feedback = f
        self._note(TimelineKind.EVENT, f"feedback {f.rating}/5")

    def _apply_cancel(self, c: CancelRequest) -> None:
        self._cancel_request = c
        self._note(TimelineKind.EVENT, f"cancellation requested{' by ' + c.requested_by if c.requested_by else ''}: {c.reason}")

    @workflow.update(name="confirm_picked")
    async def confirm_picked(self, c: StepConfirmation) -> StepResult:
        decision = rules.decide_pick(self._progress())
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_pick(c)
        return self._result(decision)

    @confirm_picked.validator
    def _validate_pick(self, c: StepConfirmation) -> None:
        self._validate(rules.decide_pick(self._progress()))

    @workflow.signal(name="confirm_picked")
    def confirm_picked_signal(self, c: StepConfirmation) -> None:
        self._signal("confirm_picked", rules.decide_pick(self._progress()), lambda: self._apply_pick(c))

    @workflow.update(name="confirm_packed")
    async def confirm_packed(self, c: PackConfirmation) -> StepResult:
        decision = rules.decide_pack(self._progress())
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_pack(c)
        return self._result(decision)

    @confirm_packed.validator
    def _validate_pack(self, c: PackConfirmation) -> None:
        self._validate(rules.decide_pack(self._progress()))

    @workflow.signal(name="confirm_packed")
    def confirm_packed_signal(self, c: PackConfirmation) -> None:
        self._signal("confirm_packed", rules.decide_pack(self._progress()), lambda: self._apply_pack(c))

    @workflow.update(name="confirm_handover")
    async def confirm_handover(self, c: StepConfirmation) -> StepResult:
        decision = rules.decide_handover(self._progress())
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_handover(c)
        return self._result(decision)

    @confirm_handover.validator
    def _validate_handover(self, c: StepConfirmation) -> None:
        self._validate(rules.decide_handover(self._progress()))

    @workflow.signal(name="confirm_handover")
    def confirm_handover_signal(self, c: StepConfirmation) -> None:
        self._signal("confirm_handover", rules.decide_handover(self._progress()), lambda: self._apply_handover(c))

    @workflow.update(name="report_tracking")
    async def report_tracking(self, u: TrackingUpdate) -> StepResult:
        decision = rules.decide_tracking(self._progress(), u.event)
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_tracking_update(u)
        else:
            self._note(TimelineKind.EVENT, f"carrier: {u.event} (no change)")
        return self._result(decision)

    @report_tracking.validator
    def _validate_tracking(self, u: TrackingUpdate) -> None:
        self._validate(rules.decide_tracking(self._progress(), u.event))

    @workflow.signal(name="report_tracking")
    def report_tracking_signal(self, u: TrackingUpdate) -> None:
        self._signal("report_tracking", rules.decide_tracking(self._progress(), u.event),
                     lambda: self._apply_tracking_update(u))

    @workflow.update(name="submit_feedback")
    async def submit_feedback(self, f: FeedbackInput) -> StepResult:
        decision = rules.decide_feedback(self._progress())
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_feedback(f)
        return self._result(decision)

    @submit_feedback.validator
    def _validate_feedback(self, f: FeedbackInput) -> None:
        self._validate(rules.decide_feedback(self._progress()))

    @workflow.signal(name="submit_feedback")
    def submit_feedback_signal(self, f: FeedbackInput) -> None:
        self._signal("submit_feedback", rules.decide_feedback(self._progress()), lambda: self._apply_feedback(f))

    @workflow.update(name="report_short_pick")
    async def report_short_pick(self, r: ShortPickReport) -> StepResult:
        decision = rules.decide_short_pick(self._progress())
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_short_pick(r)
        return self._result(decision)

    @report_short_pick.validator
    def _validate_short_pick(self, r: ShortPickReport) -> None:
        self._validate(rules.decide_short_pick(self._progress()))

    @workflow.signal(name="report_short_pick")
    def report_short_pick_signal(self, r: ShortPickReport) -> None:
        self._signal("report_short_pick", rules.decide_short_pick(self._progress()), lambda: self._apply_short_pick(r))

    def _apply_short_pick(self, r: ShortPickReport) -> None:
        # The pick is over (the wait for it ends); the short units are handled next.
        self._short_pick = r

    @workflow.update(name="decide_backorder")
    async def decide_backorder(self, d: BackorderDecisionInput) -> StepResult:
        decision = rules.decide_backorder(self._progress(), self._backorder_decision is not None)
        if decision.outcome == rules.Outcome.ACCEPT:
            self._apply_backorder_decision(d)
        return self._result(decision)

    @decide_backorder.validator
    def _validate_backorder(self, d: BackorderDecisionInput) -> None:
        self._validate(rules.decide_backorder(self._progress(), self._backorder_decision is not None))

    @workflow.update(name="provide_payment")
    async def provide_payment(self, p: NewPayment) -> StepResult:
        decision = rules.decide_new_payment(self._progress())
        if decision.outcome == rules.Outcome.ACCEPT:
            self._new_payment = p
            self._note(TimelineKind.EVENT, "new payment received")
        return self._result(decision)

    @provide_payment.validator
    def _validate_new_payment(self, p: NewPayment) -> None:
        self._validate(rules.decide_new_payment(self._progress()))

    @workflow.signal(name=ATTENTION_SIGNAL)
    def attention_changed(self, change: AttentionChange) -> None:
        """Alerts about this order were raised or resolved outside it (escalation sweep,
        operations): the NeedsAttention search attribute follows its open alerts."""
        self._needs_attention = change.open_alerts > 0
        workflow.upsert_search_attributes([sa.NEEDS_ATTENTION.value_set(self._needs_attention)])
        self._note(TimelineKind.EVENT, change.message or f"{change.open_alerts} open alert(s)")

    @workflow.signal(name="decide_backorder")
    def decide_backorder_signal(self, d: BackorderDecisionInput) -> None:
        self._signal("decide_backorder", rules.decide_backorder(self._progress(), self._backorder_decision is not None),
                     lambda: self._apply_backorder_decision(d))

    def _apply_backorder_decision(self, d: BackorderDecisionInput) -> None:
        self._backorder_decision = d.decision
        self._note(TimelineKind.EVENT, f"customer chose '{d.decision}' for the missing items")

    @workflow.signal(name="stock_allocated")
    def stock_allocated(self, a: StockAllocated) -> None:
        """From replenishment: received stock was reserved for this order's pre-ordered line."""
        if a.sku in self._allocated_skus:
            return
        self._allocated_skus.add(a.sku)
        self._allocated_quantities[a.sku] = a.quantity
        self._awaiting_skus.discard(a.sku)
        self._note(TimelineKind.EVENT, f"{a.sku} arrived and is reserved")

    @workflow.signal(name="stock_delayed")
    def stock_delayed(self, d: StockDelayed) -> None:
        if d.sku in self._awaiting_skus:
            self._delays.append(d)

    @workflow.update(name="cancel_order")
    async def cancel_order(self, c: CancelRequest) -> StepResult:
        decision = rules.decide_cancel(self._progress())
        if decision.outcome != rules.Outcome.ACCEPT:
            return self._result(decision)
        self._apply_cancel(c)
        # Answer once the compensations have run, so the caller sees the final status.
        await workflow.wait_condition(lambda: self._status in rules.FINAL_STATUSES or self._rest_cancelled)
        if self._rest_cancelled:
            return StepResult(accepted=True, status=self._status,
                              message=f"the rest of the order was cancelled; what shipped is {self._status}")
        return StepResult(accepted=True, status=self._status, message=f"order {self._status}")

    @cancel_order.validator
    def _validate_cancel(self, c: CancelRequest) -> None:
        self._validate(rules.decide_cancel(self._progress()))

    @workflow.signal(name="cancel_order")
    def cancel_order_signal(self, c: CancelRequest) -> None:
        self._signal("cancel_order", rules.decide_cancel(self._progress()), lambda: self._apply_cancel(c))
