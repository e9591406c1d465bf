"""GET /metrics on the API: requests by route template (never the raw path) and status, their
latency, orders by status from the read model, and the optional bearer token."""

import asyncio

import httpx
from pydantic import SecretStr
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from settings import Settings
from storage.models import Order
from tests.api.conftest import CHANNEL, OPS, Api


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    order_id = await api.placed()
    assert (await api.http.get(f"/orders/{order_id}", headers=OPS)).status_code == 200
    assert (await api.http.get("/orders/ord_doesnotexist", headers=OPS)).status_code == 404
    assert (await api.http.get(f"/orders/{order_id}")).status_code == 401
    assert (await api.http.get(f"/no/such/path/{order_id}")).status_code == 404

    response = await api.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert value(text, "orderflow_api_requests_total", method="POST", route="/orders", status="201") == 1
    assert value(text, "orderflow_api_requests_total", method="GET", route="/orders/{order_id}", status="200") >= 1
    assert value(text, "orderflow_api_requests_total", method="GET", route="/orders/{order_id}", status="404") == 1
    assert value(text, "orderflow_api_requests_total", method="GET", route="/orders/{order_id}", status="401") == 1
    assert value(text, "orderflow_api_requests_total", method="GET", route="unmatched", status="404") == 1
    assert value(text, "orderflow_api_request_duration_seconds_count", method="POST", route="/orders") == 1
    # No order id (nor any other raw path) becomes a label value.
    assert order_id not in text and "ord_doesnotexist" not in text and "/no/such/path" not in text


async def metrics_once(api: Api, name: str, expected: float, **labels: str) -> str:
    """GET /metrics until ``name{labels}`` is ``expected``: the API answers an order's status
    from its workflow, a moment before the status change reaches the read model."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        text = (await api.http.get("/metrics")).text
        if value(text, name, **labels) == expected:
            return text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name}{labels} stayed {value(text, name, **labels)}, expected {expected}")
        await asyncio.sleep(0.05)


async def test_orders_by_status_come_from_the_read_model(api: Api) -> None:
    first, second = await api.placed(), await api.placed(external_reference="metrics-2")
    await metrics_once(api, "orderflow_orders", 2, status="PICKING")
    async with api.sessions.begin() as session:  # as if the first needed attention
        await session.execute(update(Order).where(Order.id == first).values(needs_attention=True))

    text = (await api.http.get("/metrics")).text
    assert value(text, "orderflow_orders_needing_attention") == 1
    # Every status is there, at 0 when no order has it, so a panel shows it before it happens.
    assert ("orderflow_orders", frozenset({("status", "CANCELLED")})) in samples(text)
    assert value(text, "orderflow_orders", status="CANCELLED") == 0

    assert (await api.http.post(f"/orders/{second}/cancel", headers=CHANNEL)).status_code == 200
    text = await metrics_once(api, "orderflow_orders", 1, status="CANCELLED")
    assert value(text, "orderflow_orders", status="PICKING") == 1


async def test_a_metrics_token_is_required_once_set(settings: Settings, time_skipping_env: WorkflowEnvironment) -> None:
    app = create_app(settings.model_copy(update={"api_metrics_token": SecretStr("scrape-secret")}),
                     temporal=time_skipping_env.client, configure_logs=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test") as http:
            missing = await http.get("/metrics")
            assert missing.status_code == 401
            assert "Authorization: Bearer" in missing.json()["detail"]
            assert "ORDERFLOW_API_METRICS_TOKEN" in missing.json()["detail"]
            assert missing.headers["www-authenticate"] == "Bearer"
            for wrong in ("Bearer not-it", "Basic c2NyYXBlLXNlY3JldA==", "scrape-secret", "Bearer "):
                assert (await http.get("/metrics", headers={"Authorization": wrong})).status_code == 401, wrong
            # An API key is not a metrics token.
            assert (await http.get("/metrics", headers=OPS)).status_code == 401
            ok = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
            assert ok.status_code == 200
            assert "orderflow_api_requests_total" in ok.text
