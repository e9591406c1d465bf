"""The stock issue's proof, through the real API: two hundred customers order the last fifty
vases at the same moment. The dev server, the worker and the API run as processes, on a
PostgreSQL database made for this test when ``TEST_DATABASE_URL`` names a server (``make
test-postgres``, CI), else on a SQLite file.

It checks that exactly fifty orders get a vase and none is oversold; that the other 150 are
handled by their backorder policy (pre-orders wait in a first-come, first-served queue, the
``cancel`` policy drops the line or cancels the order, ``ask`` waits for the customer's answer
and then does what it says); that the supplier gets one purchase order for all the pre-orders
plus the reorder quantity (its confirmation is set to come after the test, so all the demand
lands on the unconfirmed purchase order); that goods receipts serve the pre-orders in order of
arrival, a partial receipt exactly the first ones; and that the stock ledger sums to the stock
figures. "Order of arrival" is the order in which the claims were recorded: their ids.

The burst's figures (time to place the 200 orders, POST /orders latency) are printed, not
asserted: this machine is shared (run with ``-s`` to see them).
"""

import asyncio
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from scripts.stack import Stack, running_stack
from storage.catalogue import DEMO_REPLENISHMENT
from storage.db import create_engine, create_session_factory
from storage.models import PreorderClaim
from tests.factories import order_payload
from tests.integration.conftest import CHANNEL_KEY, OPS_KEY, WAREHOUSE_KEY

pytestmark = pytest.mark.integration

T = TypeVar("T")

SKU = "VASE-010"  # 40 in the demo catalogue; the test adds 10
EXTRA_SKU = "BOOK-042"  # plenty: the second line some orders have
ORDERS = 200
UNITS = 50
REORDER_QUANTITY = DEMO_REPLENISHMENT[SKU][3]
FIRST_RECEIPT = 25  # fewer than the pre-orders: exactly the first 25 claims are served
# Much longer than the test: every pre-order lands on the one purchase order the supplier has
# not confirmed yet (goods may be received before the confirmation arrives).
SUPPLIER_CONFIRM_DELAY_SECONDS = 3600
SETTLE_TIMEOUT = 180.0  # the burst on 2 shared cores takes well under a minute
SETTLED = {"PICKING", "AWAITING_STOCK", "AWAITING_CUSTOMER", "CANCELLED"}


@dataclass(frozen=True)
class Customer:
    """One of the 200 orders: its backorder policy (order-level, and per line for the vase),
    whether it also buys a book, and for ``ask`` what the customer answers."""

    number: int
    policy: str
    vase_policy: str | None = None
    with_book: bool = False
    answer: str | None = None

    @property
    def effective_policy(self) -> str:
        return self.vase_policy or self.policy

    def body(self) -> dict[str, Any]:
        vase: dict[str, Any] = {"sku": SKU, "quantity": 1}
        if self.vase_policy:
            vase["backorder_policy"] = self.vase_policy
        lines = [vase, {"sku": EXTRA_SKU, "quantity": 1}] if self.with_book else [vase]
        return order_payload(
            external_reference=f"RACE-{self.number:03d}", lines=lines, backorder_policy=self.policy,
            customer={"id": f"race-{self.number:03d}", "name": f"Klant {self.number}",
                      "email": f"klant{self.number}@example.nl", "phone": "+31612345678", "locale": "nl",
                      "notification_channels": ["email"]})

    def status_without_a_vase(self, answered: bool) -> str:
        """Where the order settles when the vases ran out before it reached them."""
        decision = self.effective_policy
        if decision == "ask":
            if not answered:
                return "AWAITING_CUSTOMER"
            decision = self.answer or ""
        if decision == "preorder":
            return "AWAITING_STOCK"
        if decision == "cancel" and self.with_book:
            return "PICKING"  # the vase line is dropped, the book ships
        return "CANCELLED"


def customers() -> list[Customer]:
    """100 pre-order the vase (half of them by a per-line policy on an order that says
    ``cancel``), 50 say ``cancel``, 50 say ``ask`` and answer preorder, cancel or cancel_order;
    half of the cancel and ask orders also buy a book."""
    answers = ("preorder", "cancel", "cancel_order")
    result = []
    for n in range(ORDERS):
        kind = n % 8
        if kind in (0, 1):
            result.append(Customer(n, "preorder"))
        elif kind in (2, 3):
            result.append(Customer(n, "cancel", vase_policy="preorder"))
        elif kind in (4, 5):
            result.append(Customer(n, "cancel", with_book=kind == 5))
        else:
            result.append(Customer(n, "ask", with_book=kind == 7, answer=answers[(n // 8) % 3]))
    return result


@pytest.fixture(scope="module")
async def database_url() -> AsyncIterator[str | None]:
    """A PostgreSQL database of this test's own on the server ``TEST_DATABASE_URL`` names,
    dropped afterwards; None (the stack's SQLite file) without it."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if not configured:
        yield None
        return
    url = make_url(configured)
    name = f"orderflow_race_{uuid.uuid4().hex[:12]}"

    async def on_the_server(statement: str) -> None:
        # From the configured database (the CI user may reach no other), outside a transaction.
        admin = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with admin.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await admin.dispose()

    await on_the_server(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await on_the_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("race"), {
        "ORDERFLOW_SUPPLIER_CONFIRM_DELAY_SECONDS": str(SUPPLIER_CONFIRM_DELAY_SECONDS),
        "ORDERFLOW_LOG_LEVEL": "WARNING",  # 200 orders' info lines cost CPU the burst needs
    }, database_url=database_url, temporal_in_memory=True) as running:
        yield running


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    # One connection per customer, so that the burst is not queued in the client.
    limits = httpx.Limits(max_connections=ORDERS, max_keepalive_connections=ORDERS)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:
        yield http


async def ok(response: Awaitable[httpx.Response], *codes: int) -> Any:
    answer = await response
    assert answer.status_code in (codes or (200,)), f"{answer.request.method} {answer.request.url}: " \
                                                    f"{answer.status_code} {answer.text}"
    return answer.json()


async def gather_limited(calls: list[Callable[[], Awaitable[T]]], limit: int = 20) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def stock(api: httpx.AsyncClient, sku: str = SKU) -> dict[str, Any]:
    return await ok(api.get(f"/stock/{sku}", headers=OPS_KEY))


async def movements(api: httpx.AsyncClient, sku: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = await ok(api.get(f"/stock/{sku}/movements", headers=WAREHOUSE_KEY,
                                params={"limit": 500, **({"after": after} if after is not None else {})}))
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        after = page["next_cursor"]


async def read_model_statuses(api: httpx.AsyncClient) -> dict[str, str]:
    """Every order's status in the read model (GET /orders: this stack has only these)."""
    page = await ok(api.get("/orders", headers=CHANNEL_KEY, params={"limit": 200}))
    assert page["next_cursor"] is None
    return {item["order_id"]: item["status"] for item in page["items"]}


async def wait_until(stack: Stack, what: str, attempt: Callable[[], Awaitable[T | None]]) -> T:
    """Call ``attempt()`` once a second until it returns something, failing fast if a process
    of the stack died. (Once a second: polling faster takes CPU from the orders.)"""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        stack.processes.check_alive()
        result = await attempt()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {SETTLE_TIMEOUT} s")
        await asyncio.sleep(1)


async def settle(stack: Stack, api: httpx.AsyncClient, expected: Callable[[str, str], bool], what: str) -> dict[str, str]:
    """Wait until every order's read-model status satisfies ``expected(order_id, status)``."""
    last: dict[str, str] = {}

    async def attempt() -> dict[str, str] | None:
        nonlocal last
        last = await read_model_statuses(api)
        if len(last) == ORDERS and all(expected(order_id, status) for order_id, status in last.items()):
            return last
        return None

    try:
        return await wait_until(stack, what, attempt)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; statuses now: {dict(Counter(last.values()))}") from exc


async def claim_queue(stack: Stack) -> list[tuple[int, str, str]]:
    """The vase's pre-order claims in the order they were recorded: (id, order, status)."""
    engine = create_engine(stack.database_url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (await session.execute(select(PreorderClaim.id, PreorderClaim.order_id, PreorderClaim.status)
                                          .where(PreorderClaim.sku == SKU).order_by(PreorderClaim.id))).all()
        return [(row.id, row.order_id, row.status) for row in rows]
    finally:
        await engine.dispose()


def assert_ledger_adds_up(ledger: list[dict[str, Any]], figures: dict[str, Any]) -> None:
    """The movements sum to the stock figures, and no prefix of them ever went below zero or
    reserved more than was on hand."""
    on_hand = reserved = 0
    for movement in ledger:
        on_hand += movement["on_hand_delta"]
        reserved += movement["reserved_delta"]
        assert 0 <= reserved <= on_hand, f"after movement {movement['id']}: {on_hand} on hand, {reserved} reserved"
    assert (on_hand, reserved) == (figures["on_hand"], figures["reserved"])


async def test_200_orders_for_the_last_50_vases(stack: Stack, api: httpx.AsyncClient) -> None:
    # --- 50 vases, no purchase order yet -----------------------------------------------------
    before = await stock(api)
    await ok(api.post("/stock/adjustments", headers=OPS_KEY,
                      json={"sku": SKU, "delta": UNITS - before["on_hand"], "reason": "recount before the sale"}), 201)
    assert {k: v for k, v in (await stock(api)).items() if k in ("on_hand", "reserved", "available")} == \
        {"on_hand": UNITS, "reserved": 0, "available": UNITS}
    assert (await ok(api.get("/purchase-orders", headers=OPS_KEY, params={"sku": SKU})))["items"] == []
    book_before = await stock(api, EXTRA_SKU)
    book_price = Decimal((await ok(api.get(f"/products/{EXTRA_SKU}", headers=OPS_KEY)))["price"])

    # --- the burst: 200 POST /orders released together ---------------------------------------
    plan = customers()
    start = asyncio.Event()
    latencies: list[float] = []

    async def place(customer: Customer) -> dict[str, Any]:
        await start.wait()
        began = time.perf_counter()
        response = await api.post("/orders", json=customer.body(), headers=CHANNEL_KEY)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 201, response.text
        return response.json()

    tasks = [asyncio.create_task(place(c)) for c in plan]
    await asyncio.sleep(0.2)  # every task is waiting at the start line
    began = time.perf_counter()
    start.set()
    placed = await asyncio.gather(*tasks)
    burst_seconds = time.perf_counter() - began
    by_order = {order["order_id"]: customer for order, customer in zip(placed, plan, strict=True)}
    assert len(by_order) == ORDERS

    # Until the customers answer, ask orders without a vase wait: every order settles.
    first = await settle(stack, api, lambda _, status: status in SETTLED, "200 orders reaching their first stop")
    settled_seconds = time.perf_counter() - began

    # --- exactly 50 orders got a vase ---------------------------------------------------------
    ledger = await movements(api, SKU)
    reserving = [m["order_id"] for m in ledger if m["reason"] == "reserve"]
    assert len(reserving) == len(set(reserving)) == UNITS, Counter(m["reason"] for m in ledger)
    assert all(m["reserved_delta"] == 1 for m in ledger if m["reason"] == "reserve")
    winners = set(reserving)
    assert winners <= by_order.keys()
    figures = await stock(api)
    waiting_policy = [o for o in by_order if o not in winners and by_order[o].effective_policy == "preorder"]
    assert (figures["on_hand"], figures["reserved"], figures["available"]) == (UNITS, UNITS, 0)
    assert figures["waiting_preorders"] == len(waiting_policy)

    def expected_status(order_id: str, answered: bool) -> str:
        return "PICKING" if order_id in winners else by_order[order_id].status_without_a_vase(answered)

    assert {o: expected_status(o, False) for o in by_order} == first

    # The pre-orders' claims, in the order they were recorded: one per pre-ordering order.
    queue = await claim_queue(stack)
    assert sorted(o for _, o, _ in queue) == sorted(waiting_policy)
    assert {status for _, _, status in queue} == {"waiting"}

    # --- the customers who were asked answer -------------------------------------------------
    asked = [o for o, status in first.items() if status == "AWAITING_CUSTOMER"]
    assert len(asked) == sum(1 for o in by_order if o not in winners and by_order[o].policy == "ask")
    answers = await gather_limited([lambda o=o: ok(api.post(
        f"/orders/{o}/backorder-decision", headers=CHANNEL_KEY, json={"decision": by_order[o].answer})) for o in asked])
    assert all(a["accepted"] for a in answers), answers
    final = await settle(stack, api, lambda o, status: status == expected_status(o, True),
                         "the asked orders doing what their customers answered")
    answered_seconds = time.perf_counter() - began
    preorders = [o for o, status in final.items() if status == "AWAITING_STOCK"]
    queue = await claim_queue(stack)
    assert sorted(o for _, o, _ in queue) == sorted(preorders)
    # Those who answered "preorder" answered after the burst: they queue behind it.
    asked_preorders = {o for o in asked if by_order[o].answer == "preorder"}
    assert {o for _, o, _ in queue[-len(asked_preorders):]} == asked_preorders

    # Orders that lost the vase by "cancel" (policy or answer): the line is dropped and the
    # book ships at the book's price, or the order is cancelled (GET /orders/{id} from the
    # workflow, or from the read model once it closed).
    dropped = [o for o in by_order if o not in winners and (by_order[o].effective_policy == "cancel" or (
        by_order[o].effective_policy == "ask" and by_order[o].answer != "preorder"))]
    for view in await gather_limited([lambda o=o: ok(api.get(f"/orders/{o}", headers=CHANNEL_KEY)) for o in dropped]):
        assert view["status"] == final[view["order_id"]]
        if view["status"] == "PICKING":
            assert any(f"cancelled the missing units of: {SKU}" in t["message"] for t in view["timeline"]), view["timeline"]
            assert Decimal(view["total_amount"]) == book_price
        else:
            assert view["status"] == "CANCELLED" and view["cancellation_reason"], view

    # A book is held for every order with a book that is not cancelled.
    books_held = sum(1 for o, status in final.items() if by_order[o].with_book and status != "CANCELLED")
    assert (await stock(api, EXTRA_SKU))["reserved"] == book_before["reserved"] + books_held

    # --- one purchase order: every pre-order plus the reorder quantity ------------------------
    wanted = len(preorders) + REORDER_QUANTITY

    async def purchase_order_for_all() -> list[dict[str, Any]] | None:
        items = (await ok(api.get("/purchase-orders", headers=OPS_KEY, params={"sku": SKU})))["items"]
        return items if items and items[0]["quantity"] == wanted else None

    pos = await wait_until(stack, f"a purchase order for {wanted} units", purchase_order_for_all)
    assert len(pos) == 1, pos
    po = pos[0]
    assert (po["status"], po["received"]) == ("placed", 0)  # not confirmed yet: it took all the demand
    figures = await stock(api)
    assert figures["incoming"] == [{"purchase_order_id": po["id"], "quantity": wanted,
                                    "expected_date": po["expected_date"], "status": "placed"}]
    assert figures["waiting_preorders"] == len(preorders)

    # --- a partial receipt serves exactly the first claims, in order of arrival ---------------
    arrival = [order_id for _, order_id, _ in queue]
    assert FIRST_RECEIPT < len(arrival)
    receipt_began = time.perf_counter()
    receipt = await ok(api.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE_KEY,
                                json={"quantity": FIRST_RECEIPT, "receipt_id": "PAKBON-RACE-1"}))
    receipt_answers = [time.perf_counter() - receipt_began]
    assert [a["order_id"] for a in receipt["allocations"]] == arrival[:FIRST_RECEIPT]
    assert all(a["quantity"] == 1 and a["complete"] for a in receipt["allocations"])
    served = set(arrival[:FIRST_RECEIPT])
    await settle(stack, api, lambda o, status: status == ("PICKING" if o in served else final[o]),
                 f"the first {FIRST_RECEIPT} pre-orders moving on to picking")
    figures = await stock(api)
    assert (figures["on_hand"], figures["reserved"], figures["available"], figures["waiting_preorders"]) == (
        UNITS + FIRST_RECEIPT, UNITS + FIRST_RECEIPT, 0, len(arrival) - FIRST_RECEIPT)

    # --- the rest of the delivery: every other pre-order, still in order; the rest is available
    rest = wanted - FIRST_RECEIPT
    receipt_began = time.perf_counter()
    receipt = await ok(api.post(f"/purchase-orders/{po['id']}/receipt", headers=WAREHOUSE_KEY,
                                json={"quantity": rest, "receipt_id": "PAKBON-RACE-2"}))
    receipt_answers.append(time.perf_counter() - receipt_began)
    assert [a["order_id"] for a in receipt["allocations"]] == arrival[FIRST_RECEIPT:]
    assert receipt["purchase_order"]["status"] == "received"
    await settle(stack, api, lambda o, status: status == ("PICKING" if o in arrival else final[o]),
                 "every pre-order moving on to picking")
    figures = await stock(api)
    assert (figures["on_hand"], figures["reserved"], figures["available"], figures["waiting_preorders"]) == (
        UNITS + wanted, UNITS + len(arrival), REORDER_QUANTITY, 0)
    assert figures["incoming"] == []
    assert {status for _, _, status in await claim_queue(stack)} == {"allocated"}
    assert len((await ok(api.get("/purchase-orders", headers=OPS_KEY, params={"sku": SKU})))["items"]) == 1

    # --- the ledger adds up, and it shows the pre-orders served in order of arrival ----------
    ledger = await movements(api, SKU)
    assert_ledger_adds_up(ledger, figures)
    assert [m["order_id"] for m in ledger if m["reason"] == "allocate pre-order"] == arrival
    assert Counter(m["reason"] for m in ledger) == Counter({
        "opening stock": 1, "adjustment": 1, "reserve": UNITS, "goods receipt": 2, "allocate pre-order": len(arrival)})
    assert_ledger_adds_up(await movements(api, EXTRA_SKU), await stock(api, EXTRA_SKU))

    p50, p95 = (statistics.quantiles(latencies, n=100)[i] for i in (49, 94))
    print(f"\n{'PostgreSQL' if 'postgresql' in stack.database_url else 'SQLite'}: {ORDERS} POST /orders in "
          f"{burst_seconds:.1f} s, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
          f"all orders at their first stop after {settled_seconds:.1f} s, answers applied after "
          f"{answered_seconds:.1f} s; {len(pos)} purchase order of {po['quantity']} ({len(arrival)} pre-orders + "
          f"{REORDER_QUANTITY}); receipts of {FIRST_RECEIPT} and {rest} answered in "
          f"{receipt_answers[0]:.1f} s and {receipt_answers[1]:.1f} s, serving claims 1-{FIRST_RECEIPT} and "
          f"{FIRST_RECEIPT + 1}-{len(arrival)} in that order; whole run {time.perf_counter() - began:.1f} s")
