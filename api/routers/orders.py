"""Orders: placement (idempotent), reading and searching, and the steps people take on an
order (cancel, pick, pack, handover, feedback), which become workflow updates."""

import base64
import binascii
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from collections.abc import Sequence

import structlog
from fastapi import APIRouter, Body, Header, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.deps import ChannelOrOps, OrderReader, Principal, Sessions, SettingsDep, Temporal, WarehouseOrOps, load_order
from api.errors import ApiError
from api.examples import ORDER_EXAMPLES
from api.routers.warehouse import tell_order_pick_list_done
from api.schemas import (
    CHANNEL_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    ActorOut,
    AddressOut,
    CancelBody,
    CustomerOut,
    DiscountOut,
    ErrorOut,
    FeedbackBody,
    FeedbackOut,
    LineOut,
    OrderOut,
    OrderPage,
    OrderSummary,
    PackBody,
    PaymentOut,
    PlaceOrder,
    RefusedOut,
    ShipmentOut,
    ShippingOut,
    StepBody,
    StepOut,
    TimelineOut,
)
from api.temporal import ensure_started, live_view, send_update, workflow_id
from domain.accountability import NOTED_BY_ORDER_WORKFLOW, Actor, StaffActionKind
from domain.enums import OrderStatus, Role, TimelineKind
from domain.intake import NewOrder
from domain.models import (
    CancelRequest,
    FeedbackInput,
    NewPayment,
    OrderView,
    PackConfirmation,
    PackedPackage,
    StepConfirmation,
)
from domain.rules import FINAL_STATUSES
from domain.stock import BackorderDecisionInput
from logs import get_logger
from storage.db import transaction
from storage.models import Order, PickList, StaffAction, utcnow
from storage.staff_actions import order_actions, record_action
from domain.discounts import DiscountRefused
from storage.orders import UnknownSkus, add_order
from storage.queries import (
    OrderFilters,
    OrderRecord,
    find_order_by_external_reference,
    find_order_by_idempotency_key,
    get_order,
    order_record,
    search_orders,
)
from workflows.order import OrderWorkflow

router = APIRouter(prefix="/orders", tags=["orders"])
log = get_logger(__name__)

OrderId = Annotated[str, Path(description="The order id that POST /orders returned, e.g. ord_3f2a...")]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "The key's role may not do this"},
}
ORDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"model": ErrorOut, "description": "No such order (or another channel's order)"},
}
STEP_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ORDER_RESPONSES,
    409: {"model": RefusedOut, "description": "Not possible in the order's current status (named in the body)"},
    503: {"model": ErrorOut, "description": "Temporal is not reachable; try again"},
}


def invalid(loc: tuple[str | int, ...], message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 in FastAPI's own shape, for checks that need the database or the key."""
    return RequestValidationError([{"loc": loc, "msg": message, "type": kind}])


def fingerprint(order: NewOrder) -> str:
    """The canonical body: the validated order, normalised, keys sorted."""
    # Without a discount code the body's fingerprint stays what it was before codes existed.
    dumped = order.model_dump(mode="json", exclude={"discount_code"} if order.discount_code is None else None)
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- building responses -----------------------------------------------------------------


def _base(order: Order) -> dict[str, Any]:
    c = order.customer
    return dict(
        order_id=order.id, channel=order.channel, external_reference=order.external_reference,
        workflow_id=workflow_id(order.id), workflow_started=order.workflow_started,
        customer=CustomerOut(id=c.id, external_id=c.external_id, name=c.name, email=c.email, phone=c.phone,
                             locale=c.locale, notification_channels=list(c.notification_channels or [])),
        shipping_address=AddressOut(
            country=order.ship_country, street=order.ship_street, house_number=order.ship_house_number,
            house_number_addition=order.ship_house_number_addition, postcode=order.ship_postcode,
            city=order.ship_city),
        lines=[LineOut(line_no=ln.line_no, sku=ln.sku, name=ln.name, quantity=ln.quantity, unit_price=ln.unit_price,
                       vat_rate=ln.vat_rate, line_total=ln.line_total, vat_amount=ln.vat_amount,
                       backorder_policy=ln.backorder_policy) for ln in order.lines],
        payment_method=order.payment_method,
        shipping=ShippingOut(preference=order.shipping_preference, carrier=order.preferred_carrier,
                             service=order.preferred_service),
        backorder_policy=order.backorder_policy, ship_partial=order.ship_partial,
        total_amount=order.total_amount, vat_amount=order.vat_amount,
        discount=DiscountOut(code=order.discount.code, amount=order.discount.amount,
                             given_back=order.discount.released_at is not None) if order.discount else None,
        currency=order.currency, created_at=order.created_at, updated_at=order.updated_at,
    )


ACTION_TEXT = {
    StaffActionKind.PICK: "pick confirmed",
    StaffActionKind.PICK_STEP: "pick-list step confirmed",
    StaffActionKind.PACK: "pack confirmed",
    StaffActionKind.HANDOVER: "handover confirmed",
    StaffActionKind.CANCEL: "cancellation requested",
    StaffActionKind.BACKORDER_DECISION: "out-of-stock question answered",
    StaffActionKind.FEEDBACK: "feedback submitted",
    StaffActionKind.RETURN_REQUEST: "return requested",
    StaffActionKind.RETURN_INSPECTION: "return inspected",
    StaffActionKind.GOODS_RECEIPT: "goods received",
    StaffActionKind.STOCK_ADJUSTMENT: "stock adjusted",
}


def with_actions(timeline: list[TimelineOut], actions: Sequence[StaffAction], *, live: bool) -> list[TimelineOut]:
    """The timeline with the order's staff actions from the action log, in time order, each
    with who did it. A running workflow notes some actions itself (with the same actor), so
    those are not added twice."""
    entries = sorted(timeline, key=lambda e: e.at)
    for a in actions:
        kind = StaffActionKind(a.action)
        if live and kind in NOTED_BY_ORDER_WORKFLOW:
            continue
        actor = Actor(key_name=a.actor, role=a.actor_role, person=a.person)
        before = [e for e in entries if e.at <= a.occurred_at and e.kind != TimelineKind.ACTION]
        status = before[-1].status if before else OrderStatus.RECEIVED
        what = ACTION_TEXT.get(kind, kind.value.replace("_", " "))
        message = f"{what}{': ' + a.detail if a.detail else ''} by {actor.label()}"
        entries.append(TimelineOut(at=a.occurred_at, kind=TimelineKind.ACTION, status=status, message=message,
                                   actor=ActorOut(key_name=a.actor, role=a.actor_role, person=a.person)))
        entries.sort(key=lambda e: e.at)
    return entries


def from_view(order: Order, view: OrderView, actions: Sequence[StaffAction] = ()) -> OrderOut:
    """A running order: progress from the workflow, the rest from the database record."""
    return OrderOut(
        **_base(order), status=view.status, status_sequence=view.sequence, needs_attention=view.needs_attention,
        source="workflow",
        payment=PaymentOut(payment_id=view.payment.payment_id, method=view.payment.method, status=view.payment.status,
                           amount=view.payment.amount, captured=view.payment.captured,
                           refunded=view.payment.refunded) if view.payment else None,
        shipments=[ShipmentOut(shipment_id=s.shipment_id, carrier=s.carrier, service=s.service,
                               tracking_number=s.tracking_number, package_tracking_numbers=s.all_tracking_numbers(),
                               status=s.status, price=s.price,
                               transit_days=s.transit_days, choice_reason=s.choice_reason, part=s.part)
                   for s in view.all_shipments()],
        timeline=with_actions([TimelineOut.model_validate(e.model_dump()) for e in view.timeline], actions, live=True),
        cancellation_reason=view.cancellation_reason,
        feedback=FeedbackOut(rating=view.rating) if view.rating is not None else None,
    )


def from_record(order: Order, record: OrderRecord, actions: Sequence[StaffAction] = ()) -> OrderOut:
    """A finished order (or one the workflow cannot be asked about): the database record."""
    p = record.payment
    status = OrderStatus(order.status)
    return OrderOut(
        **_base(order), status=status, status_sequence=order.status_sequence, needs_attention=order.needs_attention,
        source="read_model",
        payment=PaymentOut(payment_id=p.id, method=p.method, status=p.status, amount=p.amount, captured=p.captured,
                           refunded=p.refunded) if p else None,
        shipments=[ShipmentOut(shipment_id=s.id, carrier=s.carrier, service=s.service,
                               tracking_number=s.tracking_number,
                               package_tracking_numbers=record.package_tracking_numbers.get(s.id) or [s.tracking_number],
                               status=s.status, price=s.price,
                               transit_days=s.transit_days, choice_reason=s.choice_reason, part=s.part)
                   for s in record.shipments],
        timeline=with_actions([TimelineOut(at=e.occurred_at, kind=TimelineKind.STATUS, status=OrderStatus(e.status),
                                           message=e.reason or "", sequence=e.sequence) for e in record.events],
                              actions, live=False),
        cancellation_reason=order.status_reason if status in (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED)
        else None,
        feedback=FeedbackOut(rating=record.feedback.rating, comment=record.feedback.comment)
        if record.feedback else None,
    )


async def _recorded(sessions: Sessions, order_id: str) -> OrderOut:
    async with sessions() as session:
        order = await get_order(session, order_id)
        assert order is not None
        return from_record(order, await order_record(session, order_id), await order_actions(session, order_id))


# --- placement --------------------------------------------------------------------------


async def _existing(sessions: Sessions, channel: str, key: str | None, reference: str) -> Order | None:
    async with sessions() as session:
        if key is not None and (order := await find_order_by_idempotency_key(session, channel, key)) is not None:
            return order
        return await find_order_by_external_reference(session, channel, reference)


def _order_channel(principal: Principal, query_channel: str | None, body_channel: str | None) -> str:
    if principal.role == Role.CHANNEL:
        if principal.channel is None:
            raise ApiError(403, f"channel key {principal.name!r} is bound to no channel; ask operations to fix it")
        return principal.channel  # whatever the request says
    if query_channel and body_channel and query_channel != body_channel:
        raise invalid(("query", "channel"), f"?channel={query_channel} and the body's channel {body_channel!r} "
                                            "differ; name the channel once")
    channel = query_channel or body_channel
    if channel is None:
        raise invalid(("query", "channel"), "an ops key must name the order's sales channel: "
                                            "POST /orders?channel=webshop (or \"channel\" in the body)", "missing")
    return channel


@router.post(
    "", status_code=201, response_model=OrderOut,
    responses={
        200: {"model": OrderOut, "description": "This order exists already (same external_reference or "
                                                "Idempotency-Key): it is returned, nothing is placed or charged"},
        **AUTH_RESPONSES,
        409: {"model": ErrorOut, "description": "Idempotency-Key reused with a different body"},
        422: {"description": "The body is invalid (unknown sku, bad quantity, e-mail, phone, postcode, ...); "
                             "`message` says what and where"},
        503: {"model": ErrorOut, "description": "Stored, but Temporal is not reachable: repeat the same request"},
    },
    summary="Place an order",
)
async def place_order(
    body: Annotated[PlaceOrder, Body(openapi_examples=ORDER_EXAMPLES)],
    principal: ChannelOrOps,
    sessions: Sessions,
    temporal: Temporal,
    settings: SettingsDep,
    response: Response,
    channel: Annotated[str | None, Query(
        pattern=CHANNEL_PATTERN, description="Ops keys only: the sales channel the order is for. "
                                             "A channel key always places orders for its own channel.")] = None,
    idempotency_key: Annotated[str | None, Header(
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Optional. A repeat with the same key returns the first order (200); the same key "
                    "with a different body is refused (409).")] = None,
) -> OrderOut:
    """Body: `external_reference` (the channel's own order number), `customer` {id, name, email,
    phone (E.164), locale, notification_channels}, `shipping_address` {country (ISO), street,
    house_number, house_number_addition, postcode, city}, `lines` [{sku, quantity,
    backorder_policy?}], `payment` {method card|ideal, token}, `shipping` {preference
    fastest|cheapest|named, carrier?, service?}, `backorder_policy` preorder|cancel|ask.

    Prices come from the catalogue and are snapshotted on the lines. The order is stored
    together with its Idempotency-Key, then its workflow (`order-{order_id}`) is started.
    Answers 201 with the order and a `Location` header; the same (channel, external_reference)
    or Idempotency-Key answers 200 with the existing order. Roles: channel (its own channel),
    ops (names the channel with `?channel=`).
    """
    began = time.perf_counter()
    order_channel = _order_channel(principal, channel, body.channel)
    new_order = body.new_order()
    print_ = fingerprint(new_order)
    created_id: str | None = None
    existing: Order | None = None
    for attempt in range(1, 4):
        existing = await _existing(sessions, order_channel, idempotency_key, new_order.external_reference)
        if existing is not None:
            break
        try:
            async with transaction(sessions) as session:
                row = await add_order(session, order_channel, new_order,
                                      idempotency_key=idempotency_key, fingerprint=print_)
                created_id = row.id
            break
        except UnknownSkus as exc:
            unknown = set(exc.skus)
            raise RequestValidationError([
                {"loc": ("body", "lines", i, "sku"), "type": "unknown_sku",
                 "msg": f"unknown sku {line.sku!r}: the catalogue does not sell it (see GET /products)"}
                for i, line in enumerate(new_order.lines) if line.sku in unknown]) from exc
        except DiscountRefused as exc:
            raise invalid(("body", "discount_code"), str(exc), "discount_refused") from exc
        except IntegrityError:
            # A twin request committed first (or created the same new customer): read again.
            if attempt == 3:
                raise

    if existing is not None:
        if (idempotency_key is not None and existing.idempotency_key == idempotency_key
                and existing.request_fingerprint != print_):
            raise ApiError(409, f"Idempotency-Key {idempotency_key!r} was already used for order {existing.id} "
                                "with a different body; send a new key for a new order, or the identical "
                                "body to get that order back")
        order_id = existing.id
        response.status_code = 200
    else:
        assert created_id is not None
        order_id = created_id
    structlog.contextvars.bind_contextvars(order_id=order_id)
    stored = time.perf_counter()

    async with sessions() as session:
        order = await get_order(session, order_id)
        assert order is not None
    await ensure_started(temporal, settings, sessions, order)
    started = time.perf_counter()
    if created_id is not None:
        log.info("order placed", channel=order_channel, external_reference=new_order.external_reference)
    else:
        log.info("order exists already", channel=order_channel, external_reference=new_order.external_reference)
    response.headers["Location"] = f"/orders/{order_id}"
    placed = await _recorded(sessions, order_id)
    # Where the time of a placement went (the benchmark reads it; so can a browser's devtools):
    # storing the order, starting its workflow (and recording that), reading it back.
    response.headers["Server-Timing"] = ", ".join(
        f"{name};dur={(end - begin) * 1000:.1f}" for name, begin, end in (
            ("store", began, stored), ("start", stored, started), ("answer", started, time.perf_counter())))
    return placed


# --- reading ----------------------------------------------------------------------------


def _encode_cursor(created_at: datetime, order_id: str) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), order_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, order_id = json.loads(raw)
        created_at = datetime.fromisoformat(at)
        if created_at.tzinfo is None or not isinstance(order_id, str):
            raise ValueError(cursor)
        return created_at.astimezone(UTC), order_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise invalid(("query", "cursor"), "not a cursor from a previous page; pass next_cursor exactly as "
                                           "returned, or leave it out for the first page") from exc


def _as_utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise invalid(("query", name), "date is out of range") from exc


@router.get("", response_model=OrderPage, responses=AUTH_RESPONSES, summary="Search orders")
async def list_orders(
    principal: OrderReader,
    sessions: Sessions,
    status: Annotated[list[OrderStatus] | None, Query(description="One or more statuses (repeat the parameter)")] = None,
    channel: Annotated[str | None, Query(pattern=CHANNEL_PATTERN,
                                         description="Ops and warehouse keys: only this channel")] = None,
    customer: Annotated[str | None, Query(
        pattern=r"^[\x20-\x7e]{1,128}$",
        description="The channel's own customer id (or Orderflow's cus_ id)")] = None,
    created_from: Annotated[datetime | None, Query(
        description="Placed at or after (ISO 8601; no timezone means UTC)")] = None,
    created_to: Annotated[datetime | None, Query(description="Placed before (ISO 8601; no timezone means UTC)")] = None,
    needs_attention: Annotated[bool | None, Query(description="Only orders that do (true) or do not need attention")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
) -> OrderPage:
    """Orders from the read model, newest first, in pages of `limit`; pass `next_cursor` as
    `cursor` for the next page. A channel key sees only its own channel's orders. Roles:
    channel, warehouse, ops."""
    if principal.role == Role.CHANNEL:
        if channel is not None and channel != principal.channel:
            raise ApiError(403, f"a channel key lists only its own channel's orders ({principal.channel}); "
                                "leave out ?channel=")
        channel = principal.channel
    filters = OrderFilters(channel=channel, statuses=[s.value for s in status or []], customer=customer,
                           created_from=_as_utc(created_from, "created_from"),
                           created_to=_as_utc(created_to, "created_to"), needs_attention=needs_attention)
    after = _decode_cursor(cursor) if cursor else None
    async with sessions() as session:
        rows = await search_orders(session, filters, limit=limit + 1, after=after)
    page = rows[:limit]
    items = [OrderSummary(order_id=r.order.id, channel=r.order.channel, external_reference=r.order.external_reference,
                          customer_id=r.order.customer_id, customer_external_id=r.customer_external_id,
                          status=OrderStatus(r.order.status), needs_attention=r.order.needs_attention,
                          total_amount=r.order.total_amount, currency=r.order.currency,
                          created_at=r.order.created_at, updated_at=r.order.updated_at) for r in page]
    next_cursor = _encode_cursor(page[-1].order.created_at, page[-1].order.id) if len(rows) > limit else None
    return OrderPage(items=items, next_cursor=next_cursor)


@router.get("/{order_id}", response_model=OrderOut, responses=ORDER_RESPONSES, summary="Get an order")
async def get_one(order_id: OrderId, principal: OrderReader, sessions: Sessions, temporal: Temporal) -> OrderOut:
    """The order with customer, address, priced lines, payment, shipments and timeline.

    While the order runs, its progress comes live from the workflow (`source: workflow`); once
    it is COMPLETED, CANCELLED or PAYMENT_FAILED (or the workflow cannot be asked), from the
    database read model (`source: read_model`). Roles: channel (own orders), warehouse, ops.
    """
    order = await load_order(sessions, principal, order_id)
    if OrderStatus(order.status) not in FINAL_STATUSES and order.workflow_started:
        view = await live_view(temporal, order.id)
        if view is not None:
            async with sessions() as session:
                actions = await order_actions(session, order.id)
            return from_view(order, view, actions)
    return await _recorded(sessions, order.id)


# --- steps ------------------------------------------------------------------------------


async def _step(
    sessions: Sessions, temporal: Temporal, settings: SettingsDep, principal: Principal, order_id: str,
    update: Any, arg: Any, action: StaffActionKind, actor: Actor, detail: str | None = None,
) -> StepOut:
    order = await load_order(sessions, principal, order_id)
    await ensure_started(temporal, settings, sessions, order)
    sent_at = utcnow()
    result = await send_update(temporal, sessions, order, update, arg)
    if result.accepted:
        # A harmless repeat (accepted: false) changed nothing, so it is not an action.
        await record_action(sessions, action, actor, sent_at=sent_at, order_id=order.id, detail=detail)
    log.info("order step", step=update.__name__, accepted=result.accepted, status=result.status)
    return StepOut(order_id=order.id, accepted=result.accepted, status=result.status, message=result.message)


def _confirmation(principal: Principal, body: StepBody | None) -> tuple[StepConfirmation, Actor]:
    """The workflow notes ``confirmed_by``: the person named in the body (if any) and always
    the key that sent it, with its role."""
    actor = principal.actor(body.confirmed_by if body else None)
    return StepConfirmation(confirmed_by=actor.label()), actor


OptionalStepBody = Annotated[StepBody | None, Body(openapi_examples={
    "empty": {"summary": "No body: confirmed by the key's name", "value": {}},
    "named": {"summary": "Confirmed by a person", "value": {"confirmed_by": "Jan (zone B)"}},
})]


OptionalPackBody = Annotated[PackBody | None, Body(openapi_examples={
    "as_planned": {"summary": "Packed as the plan says", "value": {}},
    "as_packed": {"summary": "Packed otherwise: the packages as weighed", "value": {
        "confirmed_by": "Fatima (pack station 2)",
        "packages": [{"length_mm": 400, "width_mm": 300, "height_mm": 250, "weight_grams": 4200, "container": "BOX-M"},
                     {"length_mm": 1600, "width_mm": 700, "height_mm": 900, "weight_grams": 41000}]}},
})]


@router.post("/{order_id}/cancel", response_model=StepOut, responses=STEP_RESPONSES, summary="Cancel an order")
async def cancel(
    order_id: OrderId, principal: ChannelOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
    body: Annotated[CancelBody | None, Body(openapi_examples={
        "reason": {"summary": "With a reason", "value": {"reason": "customer changed their mind"}}})] = None,
) -> StepOut:
    """Body (optional): `{"reason": "..."}`. Cancels the order and answers once the
    compensations have run (stock released, payment voided or refunded, booking cancelled):
    the status is then CANCELLED. An order shipped in parts whose first parcel left
    (PARTIALLY_SHIPPED, or its second shipment in the warehouse) has only the rest cancelled:
    the answer is accepted with status SHIPPED, the order re-priced to what shipped, and the
    parcel that left goes on. 409 once the (last) parcel is with the carrier or the order is
    finished; a repeat answers 200 with `accepted: false`. Roles: channel (own orders), ops."""
    order = await load_order(sessions, principal, order_id)
    if order.status == OrderStatus.CANCELLED:
        # The workflow has ended, but a repeated cancel is still a harmless no-op.
        return StepOut(order_id=order.id, accepted=False, status=OrderStatus.CANCELLED,
                       message="order was already cancelled")
    reason = body.reason if body else CancelBody().reason
    actor = principal.actor()
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.cancel_order,
                       CancelRequest(reason=reason, requested_by=actor.label()), StaffActionKind.CANCEL, actor)


@router.post("/{order_id}/pick", response_model=StepOut, responses=STEP_RESPONSES, summary="Confirm the pick")
async def pick(order_id: OrderId, principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
               settings: SettingsDep, body: OptionalStepBody = None) -> StepOut:
    """Body (optional): `{"confirmed_by": "..."}` (default: the key's name). The order's goods
    are picked. Accepted while the order is on its way to PICKING too (applied when it gets
    there); a repeat answers 200 with `accepted: false`. For an order whose pick list finished
    short, the list's outcome is sent (its missing units go down the out-of-stock path), as the
    pick that finished it did: a way to send it again when that pick could not reach the
    order (Temporal was away). Roles: warehouse, ops."""
    confirmation, actor = _confirmation(principal, body)
    async with sessions() as session:
        short_list = await session.scalar(select(PickList.id).where(
            PickList.order_id == order_id, PickList.status == "short"))
    if short_list is not None:
        told = await tell_order_pick_list_done(short_list, sessions, temporal, settings, actor)
        return StepOut(order_id=order_id, accepted=told.accepted, status=told.status, message=told.message)
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.confirm_picked,
                       confirmation, StaffActionKind.PICK, actor)


@router.post("/{order_id}/pack", response_model=StepOut, responses=STEP_RESPONSES, summary="Confirm the pack")
async def pack(order_id: OrderId, principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
               settings: SettingsDep, body: OptionalPackBody = None) -> StepOut:
    """Body (optional): `{"confirmed_by": "..."}`. The order is packed; the carrier is booked
    next, with the packing plan's packages (`GET /orders/{id}/packing-plan`), or with
    `packages` when the packer packed otherwise: each package's outer size (mm) and gross
    weight (g), as weighed at the pack station. 409 naming the status when the pick was not
    confirmed. Roles: warehouse, ops."""
    confirmation, actor = _confirmation(principal, body)
    packages = [PackedPackage(**p.model_dump()) for p in body.packages] if body and body.packages else None
    detail = f"{len(packages)} package(s) as packed, not as planned" if packages else None
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.confirm_packed,
                       PackConfirmation(**confirmation.model_dump(), packages=packages), StaffActionKind.PACK, actor,
                       detail)


@router.post("/{order_id}/handover", response_model=StepOut, responses=STEP_RESPONSES,
             summary="Confirm the handover to the carrier")
async def handover(order_id: OrderId, principal: WarehouseOrOps, sessions: Sessions, temporal: Temporal,
                   settings: SettingsDep, body: OptionalStepBody = None) -> StepOut:
    """Body (optional): `{"confirmed_by": "..."}`. The parcel is with the carrier: stock leaves
    the shelf, a card payment is captured, the order becomes SHIPPED. 409 naming the status
    when the pack was not confirmed. Roles: warehouse, ops."""
    confirmation, actor = _confirmation(principal, body)
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.confirm_handover,
                       confirmation, StaffActionKind.HANDOVER, actor)


@router.post("/{order_id}/feedback", response_model=StepOut, responses=STEP_RESPONSES,
             summary="Submit the customer's feedback")
async def feedback(
    order_id: OrderId, principal: ChannelOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
    body: Annotated[FeedbackBody, Body(openapi_examples={
        "happy": {"summary": "Five stars", "value": {"rating": 5, "comment": "Quick and well packed"}}})],
) -> StepOut:
    """Body: `{"rating": 1-5, "comment": "..."}`. Accepted once the order is delivered; the
    order then completes. The comment of a customer whose personal data was erased is not kept.
    Roles: channel (own orders), ops."""
    order = await load_order(sessions, principal, order_id)
    comment = None if order.customer.erased_at is not None else body.comment
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.submit_feedback,
                       FeedbackInput(rating=body.rating, comment=comment), StaffActionKind.FEEDBACK,
                       principal.actor(), detail=f"rating {body.rating}/5")


@router.post("/{order_id}/payment", response_model=StepOut, responses=STEP_RESPONSES,
             summary="Pay again after the card authorization could not be renewed")
async def new_payment(
    order_id: OrderId, principal: ChannelOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
    body: Annotated[NewPayment, Body(openapi_examples={
        "card": {"summary": "Another card", "value": {"token": "tok_visa"}}})],
) -> StepOut:
    """Body: `{"token": "<the provider's token for the new card>"}`. Answers an order in
    AWAITING_CUSTOMER whose card authorization expired while it waited and could not be
    renewed: the order is authorized with the new card and goes on; a declined card leaves it
    waiting (its timeline says so) until a new payment works or the wait runs out and the order
    is cancelled. 409 naming the status when the order is not waiting for a payment.
    Roles: channel (own orders), ops."""
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.provide_payment, body,
                       StaffActionKind.NEW_PAYMENT, principal.actor())


@router.post("/{order_id}/backorder-decision", response_model=StepOut, responses=STEP_RESPONSES,
             summary="Answer the out-of-stock question")
async def backorder_decision(
    order_id: OrderId, principal: ChannelOrOps, sessions: Sessions, temporal: Temporal, settings: SettingsDep,
    body: Annotated[BackorderDecisionInput, Body(openapi_examples={
        "wait": {"summary": "Keep the missing items as a pre-order", "value": {"decision": "preorder"}},
        "drop": {"summary": "Ship the rest, drop what is missing", "value": {"decision": "cancel"}},
        "all": {"summary": "Cancel the whole order", "value": {"decision": "cancel_order"}}})],
) -> StepOut:
    """Body: `{"decision": "preorder" | "cancel" | "cancel_order"}`. Answers an order in
    AWAITING_CUSTOMER (backorder policy `ask`): `preorder` keeps the missing items as a
    pre-order, `cancel` drops them and ships the rest, `cancel_order` cancels everything.
    409 naming the status when the order is not waiting for this answer; a repeat answers 200
    with `accepted: false`. Roles: channel (own orders), ops."""
    return await _step(sessions, temporal, settings, principal, order_id, OrderWorkflow.decide_backorder, body,
                       StaffActionKind.BACKORDER_DECISION, principal.actor(), detail=str(body.decision))
