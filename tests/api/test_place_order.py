"""POST /orders: placement, channel rules, validation, idempotency and crash repair."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from temporalio.service import RPCError

from api.main import create_app
from api.routers import orders as orders_router
from storage.api_keys import upsert_keys
from storage.models import ApiKey, Order
from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import order_payload, place_order
from workflows import search_attributes as sa


async def _count_orders(api: Api, **where: Any) -> int:
    query = select(func.count()).select_from(Order)
    for name, value in where.items():
        query = query.where(getattr(Order, name) == value)
    async with api.sessions() as session:
        return await session.scalar(query)


async def _workflow_exists(api: Api, order_id: str) -> bool:
    try:
        await api.temporal.get_workflow_handle(f"order-{order_id}").describe()
    except RPCError:
        return False
    return True


async def test_channel_places_an_order_201_with_location_and_a_started_workflow(api: Api) -> None:
    response = await api.place()
    assert response.status_code == 201, response.text
    body = response.json()
    order_id = body["order_id"]
    assert response.headers["location"] == f"/orders/{order_id}"
    assert body["channel"] == "webshop"
    assert body["status"] == "RECEIVED"
    assert body["workflow_started"] is True
    assert body["customer"]["external_id"] == "c-42" and body["customer"]["id"].startswith("cus_")
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in body["lines"]] == [
        ("MUG-001", 2, "12.95"), ("BOOK-042", 1, "24.99")]
    assert body["total_amount"] == "50.89"
    description = await api.temporal.get_workflow_handle(f"order-{order_id}").describe()
    attributes = description.typed_search_attributes
    assert attributes.get(sa.CHANNEL) == "webshop"
    assert attributes.get(sa.CUSTOMER_ID) == body["customer"]["id"]
    async with api.sessions() as session:
        assert (await session.get(Order, order_id)).workflow_started is True


async def test_placing_says_where_its_time_went_in_server_timing(api: Api) -> None:
    response = await api.place()
    assert response.status_code == 201, response.text
    phases = [part.strip().split(";dur=") for part in response.headers["server-timing"].split(",")]
    assert [name for name, _ in phases] == ["store", "start", "answer"]
    assert all(float(ms) >= 0 for _, ms in phases)


async def test_a_channel_key_orders_for_its_own_channel_whatever_the_body_says(api: Api) -> None:
    response = await api.place(channel="marketplace")
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "webshop"


async def test_an_ops_key_names_the_channel_with_a_query_parameter(api: Api) -> None:
    missing = await api.place(OPS)
    assert missing.status_code == 422
    assert "query.channel" in missing.json()["message"] and "ops key must name" in missing.json()["message"]

    response = await api.place(OPS, params={"channel": "marketplace"})
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "marketplace"

    in_body = await api.place(OPS, external_reference="WEB-2000", channel="phone")
    assert in_body.status_code == 201 and in_body.json()["channel"] == "phone"

    both = await api.place(OPS, params={"channel": "phone"}, external_reference="WEB-2001", channel="marketplace")
    assert both.status_code == 422 and "differ" in both.json()["message"]


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"X-API-Key": "no-such-key"}, 401),
    (WAREHOUSE, 403),
    (CARRIER, 403),
])
async def test_only_channel_and_ops_keys_place_orders(api: Api, headers: dict[str, str], status: int) -> None:
    response = await api.place(headers)
    assert response.status_code == status
    assert "key" in response.json()["detail"]
    assert await _count_orders(api) == 0


async def test_a_revoked_key_is_refused(api: Api) -> None:
    await upsert_keys(api.sessions, {"old-shop-key": ("channel", "old shop", "oldshop")})
    assert (await api.place({"X-API-Key": "old-shop-key"})).status_code == 201
    async with api.sessions() as session, session.begin():
        await session.execute(update(ApiKey).where(ApiKey.name == "old shop").values(revoked=True))
    response = await api.place({"X-API-Key": "old-shop-key"}, external_reference="WEB-9")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def _lines(*lines: dict[str, Any]) -> list[dict[str, Any]]:
    return list(lines)


@pytest.mark.parametrize(("overrides", "where", "says"), [
    ({"lines": _lines({"sku": "MUG-001", "quantity": 1}, {"sku": "NOPE-1", "quantity": 1})},
     "body.lines.1.sku", "unknown sku 'NOPE-1'"),
    ({"lines": _lines({"sku": "MUG-001", "quantity": 0})}, "body.lines.0.quantity", "greater than 0"),
    ({"lines": _lines({"sku": "MUG-001", "quantity": -3})}, "body.lines.0.quantity", "greater than 0"),
    ({"lines": []}, "body.lines", "at least 1"),
    ({"lines": _lines({"sku": "MUG-001", "quantity": 1}, {"sku": "MUG-001", "quantity": 2})},
     "body.lines", "appears twice"),
    ({"customer": {**order_payload()["customer"], "email": "anna-at-example"}}, "body.customer.email", "email"),
    ({"customer": {**order_payload()["customer"], "phone": "0612345678"}}, "body.customer.phone", "E.164"),
    ({"shipping_address": {**order_payload()["shipping_address"], "postcode": "12345"}},
     "body.shipping_address", "postcode '12345' is not a valid NL postcode"),
    ({"payment": {"method": "cash", "token": "x"}}, "body.payment.method", "card"),
    ({"customer": {**order_payload()["customer"], "name": "Anna\x00"}}, "body", "customer.name contains"),
    ({"customer": {**order_payload()["customer"], "name": "Anna\ud800"}}, "body", "customer.name contains"),
])
async def test_invalid_orders_get_422_naming_what_and_where(
    api: Api, overrides: dict[str, Any], where: str, says: str
) -> None:
    # httpx cannot encode a lone surrogate itself: send the JSON text.
    import json

    content = json.dumps(order_payload(**overrides)).encode()
    response = await api.http.post("/orders", content=content,
                                   headers={**CHANNEL, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert f"{where}:" in body["message"], body["message"]
    assert says in body["message"], body["message"]
    assert await _count_orders(api) == 0


async def test_malformed_json_and_wrong_content_type_get_422(api: Api) -> None:
    broken = await api.http.post("/orders", content=b'{"external_reference": ', headers={
        **CHANNEL, "Content-Type": "application/json"})
    assert broken.status_code == 422 and "malformed JSON" in broken.json()["message"]
    as_text = await api.http.post("/orders", content=b"external_reference=WEB-1", headers={
        **CHANNEL, "Content-Type": "text/plain"})
    assert as_text.status_code == 422 and "Content-Type: application/json" in as_text.json()["message"]
    empty = await api.http.post("/orders", headers=CHANNEL)
    assert empty.status_code == 422 and "body is required" in empty.json()["message"]


async def test_the_same_external_reference_returns_the_existing_order(api: Api) -> None:
    first = await api.place()
    again = await api.place()
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.headers["location"] == first.headers["location"]
    assert await _count_orders(api) == 1


async def test_the_same_idempotency_key_returns_the_existing_order_and_refuses_another_body(api: Api) -> None:
    first = await api.place(idempotency_key="key-1")
    again = await api.place(idempotency_key="key-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["order_id"] == first.json()["order_id"]

    other_body = await api.place(idempotency_key="key-1", external_reference="WEB-1002")
    assert other_body.status_code == 409
    assert "key-1" in other_body.json()["detail"] and "different body" in other_body.json()["detail"]
    assert await _count_orders(api) == 1

    bad_key = await api.place(idempotency_key="spaces are not allowed", external_reference="WEB-1003")
    assert bad_key.status_code == 422 and "header.idempotency-key" in bad_key.json()["message"]


def _insert_together(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make two requests pass the "does it exist?" read before either opens its insert
    transaction (which on SQLite takes the write lock at once). Returns the insert count."""
    barrier = asyncio.Barrier(2)
    real_transaction = orders_router.transaction
    inserts: list[int] = []

    @asynccontextmanager
    async def transaction_together(sessions: Any) -> AsyncIterator[Any]:
        inserts.append(len(inserts) + 1)
        if len(inserts) <= 2:
            await barrier.wait()
        async with real_transaction(sessions) as session:
            yield session

    monkeypatch.setattr(orders_router, "transaction", transaction_together)
    return inserts


async def test_two_identical_requests_racing_make_one_order_and_one_workflow(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both requests pass the "does it exist?" read before either opens its insert transaction
    # (which on SQLite takes the write lock at once).
    inserts = _insert_together(monkeypatch)
    responses = await asyncio.gather(api.place(idempotency_key="race"), api.place(idempotency_key="race"))
    assert inserts == [1, 2]  # both tried to insert: the unique constraint decided
    assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert await _count_orders(api) == 1
    assert await _workflow_exists(api, responses[0].json()["order_id"])


async def test_two_orders_racing_for_the_same_new_customer_are_both_placed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserts = _insert_together(monkeypatch)
    responses = await asyncio.gather(api.place(external_reference="WEB-A"), api.place(external_reference="WEB-B"))
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    # On PostgreSQL the loser's customer insert fails and is retried; SQLite's up-front write
    # lock lets it see the winner's customer instead.
    assert len(inserts) in (2, 3)
    assert len({r.json()["customer"]["id"] for r in responses}) == 1


async def test_many_identical_requests_at_once_make_one_order(api: Api) -> None:
    responses = await asyncio.gather(*(api.place() for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert await _count_orders(api) == 1


async def test_an_order_stored_but_never_started_is_started_by_the_identical_request(api: Api) -> None:
    order_id = await place_order(api.sessions)  # as if the API crashed before starting it
    assert not await _workflow_exists(api, order_id)

    response = await api.place()
    assert response.status_code == 200, response.text
    assert response.json()["order_id"] == order_id
    assert response.json()["workflow_started"] is True
    assert await _workflow_exists(api, order_id)
    await api.wait_for_status(order_id, "PICKING")


async def test_the_startup_sweep_starts_every_order_never_started(api: Api) -> None:
    stranded = [await place_order(api.sessions, external_reference=f"WEB-{n}") for n in range(3)]
    app = create_app(api.settings, temporal=api.temporal, configure_logs=False)
    async with app.router.lifespan_context(app):
        assert await app.state.startup_sweep == 3
    for order_id in stranded:
        assert await _workflow_exists(api, order_id)
        async with api.sessions() as session:
            assert (await session.get(Order, order_id)).workflow_started is True
    assert await _count_orders(api, workflow_started=False) == 0


async def test_an_order_stored_while_temporal_is_down_answers_503_and_the_repeat_starts_it(api: Api) -> None:
    import temporal_client

    down = await temporal_client.connect(api.settings, "127.0.0.1:1", lazy=True)
    app = create_app(api.settings, temporal=down, configure_logs=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test") as http:
        response = await http.post("/orders", json=order_payload(), headers=CHANNEL)
        assert response.status_code == 503, response.text
        assert "Temporal is not reachable" in response.json()["detail"]
        app.state.startup_sweep.cancel()
    assert await _count_orders(api, workflow_started=False) == 1

    repeat = await api.place()
    assert repeat.status_code == 200 and repeat.json()["workflow_started"] is True
