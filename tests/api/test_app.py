"""The app as a whole: health checks, API keys at startup, request ids in logs, OpenAPI, and
``uvicorn --factory api.main:create_app`` as a real process."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import func, select, update
from temporalio.client import Client

from api.examples import ORDER
import temporal_client
from api.main import create_app
from settings import Profile, Settings
from storage.db import create_engine, create_session_factory
from storage.models import ApiKey
from tests.api.conftest import CHANNEL, OPS, Api
from tests.factories import order_payload

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _unreachable_temporal() -> Client:
    return await temporal_client.connect(Settings(_env_file=None), f"127.0.0.1:{_closed_port()}",  # type: ignore[call-arg]
                                         lazy=True)


@asynccontextmanager
async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orderflow.test") as http:
        yield http


async def test_healthz_is_200_when_database_and_temporal_answer(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "temporal": "up", "detail": None}


async def test_healthz_is_503_naming_temporal_when_it_is_unreachable(settings: Settings) -> None:
    app = create_app(settings, temporal=await _unreachable_temporal(), configure_logs=False)
    async with _serve(app) as http:
        app.state.startup_sweep.cancel()
        response = await http.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "up" and body["temporal"].startswith("down")
    assert body["detail"] == "temporal down"


async def test_healthz_is_503_naming_the_database_when_it_is_unreachable(api: Api) -> None:
    broken = create_engine(f"postgresql+asyncpg://orderflow@127.0.0.1:{_closed_port()}/orderflow")
    working = api.app.state.sessions
    api.app.state.sessions = create_session_factory(broken)
    try:
        response = await api.http.get("/healthz")
    finally:
        api.app.state.sessions = working
        await broken.dispose()
    assert response.status_code == 503
    assert response.json()["database"].startswith("down") and response.json()["temporal"] == "up"
    assert response.json()["detail"] == "database down"


async def test_dev_keys_are_upserted_once_and_stored_hashed(api: Api) -> None:
    app = create_app(api.settings, temporal=api.temporal, configure_logs=False)
    async with _serve(app):
        pass
    async with api.sessions() as session:
        rows = (await session.execute(select(ApiKey).order_by(ApiKey.name))).scalars().all()
    assert [(r.name, r.role, r.channel) for r in rows] == [
        ("carrier dev key", "carrier", None), ("ops dev key", "ops", None),
        ("warehouse dev key", "warehouse", None), ("webshop dev key", "channel", "webshop")]
    assert all(len(r.key_hash) == 64 and "dev-key" not in r.key_hash for r in rows)


async def test_the_production_profile_refuses_to_start_while_a_dev_key_is_active(api: Api) -> None:
    production = api.settings.model_copy(update={"profile": Profile.PRODUCTION})
    app = create_app(production, temporal=api.temporal, configure_logs=False)
    with pytest.raises(RuntimeError, match="refuses to start.*channel-dev-key"):
        async with app.router.lifespan_context(app):
            pass

    async with api.sessions() as session, session.begin():
        await session.execute(update(ApiKey).values(revoked=True))
    app = create_app(production, temporal=api.temporal, configure_logs=False)
    async with _serve(app) as http:
        response = await http.get("/orders", headers=OPS)
        assert response.status_code == 401  # and the dev keys do not work
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked.is_(False))) == 0


async def test_every_response_carries_a_request_id_that_is_on_the_log_lines(api: Api) -> None:
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        mine = await api.http.post("/orders", json=order_payload(), headers={**CHANNEL, "X-Request-ID": "req-123"})
        order_id = mine.json()["order_id"]
        fresh = await api.http.get(f"/orders/{order_id}", headers=CHANNEL)
        bogus = await api.http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert mine.headers["x-request-id"] == "req-123"
    assert len(fresh.headers["x-request-id"]) == 32
    assert bogus.headers["x-request-id"] != "bad id with spaces"
    placed = [e for e in logs if e.get("request_id") == "req-123"]
    assert {"order placed", "request handled"} <= {e["event"] for e in placed}
    assert all(e.get("order_id") == order_id for e in placed if e["event"] == "order placed")
    read = [e for e in logs if e.get("request_id") == fresh.headers["x-request-id"]]
    assert read and all(e.get("order_id") == order_id for e in read)
    # Nothing leaks out of the request into the caller's context.
    assert structlog.contextvars.get_contextvars() == {}


async def test_openapi_documents_every_route_with_the_example_order(api: Api) -> None:
    assert ORDER == order_payload()
    assert (await api.http.get("/docs")).status_code == 200
    spec = (await api.http.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path} has no description"
    place = spec["paths"]["/orders"]["post"]
    examples = place["requestBody"]["content"]["application/json"]["examples"]
    assert examples["card"]["value"] == order_payload()
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]
    examples_file = ROOT / "examples" / "order.json"
    if examples_file.exists():
        assert json.loads(examples_file.read_text()) == order_payload()


def _wait_for(url: str, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_uvicorn_serves_the_factory_and_its_logs_are_json_lines(database_url: str) -> None:
    port = _closed_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ORDERFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{_closed_port()}",
           "ORDERFLOW_LOG_JSON": "true", "ORDERFLOW_PROFILE": "dev"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        response = _wait_for(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 503 and response.json()["temporal"].startswith("down")
        request_id = response.headers["x-request-id"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e["event"] == "request handled" and e.get("request_id") == request_id for e in lines), output
    assert any(e.get("logger", "").startswith("uvicorn") for e in lines), output  # uvicorn's own logs, as JSON
    assert not [line for line in output.splitlines() if line.strip() and not line.startswith("{")], output
