"""The Orderflow HTTP API: ``uvicorn --factory api.main:create_app``.

The lifespan builds ONE database engine and ONE Temporal client per process (tests may inject
their own), makes sure the API keys are in order (the dev profile upserts the documented dev
keys; the production profile refuses to start while any of them is active), and starts the
workflow of every order that a crash left stored but not started.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api import errors
from api.metrics import ApiMetrics, RequestMetricsMiddleware
from api.metrics import router as metrics_router
from api.middleware import RequestContextMiddleware
from api.routers import warehouse as warehouse_router
from api.routers import warehouse_tasks
from api.routers import waves as waves_router
from api.routers import alerts as alerts_router
from api.routers import carrier, documents, health, messages, orders, products, purchase_orders, shipping, stock
from api.routers import admin_keys, customers
from api.routers import cases as cases_router
from api.routers import containers as containers_router
from api.routers import dispatches as dispatches_router
from api.routers import discount_codes as discount_codes_router
from api.routers import feedback as feedback_router
from api.routers import returns as returns_router
from api.temporal import sweep_until_done
from logs import configure_logging, get_logger
from tracing import configure_tracing, instrument_api
import temporal_client
from settings import DEV_API_KEYS, Profile, Settings, get_settings
from storage.api_keys import active_keys_among, upsert_keys
from storage.db import create_engine, create_session_factory

log = get_logger(__name__)

DESCRIPTION = """
Orderflow's HTTP API. Every order is a durable Temporal workflow: sales channels place and
follow orders, warehouse staff confirm pick, pack and handover, carriers report tracking,
operations manage the catalogue and stock.

Authenticate with your key in the **`X-API-Key`** header (Authorize button). The dev profile
has `channel-dev-key` (channel `webshop`), `warehouse-dev-key`, `carrier-dev-key` and
`ops-dev-key`. No key: 401; a role that may not do this: 403; another channel's order: 404.

Errors say what was wrong in `detail` (422s also in `message`, one line per problem naming the
field). A step that does not fit the order's status answers 409 with the current `status`.
Every response carries an `X-Request-ID` (yours, if you sent one) that is on every log line.
"""


async def _check_api_keys(settings: Settings, app: FastAPI) -> None:
    if settings.profile == Profile.PRODUCTION:
        active = await active_keys_among(app.state.sessions, DEV_API_KEYS)
        if active:
            raise RuntimeError(
                f"the production profile refuses to start: the documented dev API keys {', '.join(active)} are "
                "active in api_keys; revoke them (UPDATE api_keys SET revoked = true WHERE name LIKE '% dev key')")
        return
    inserted = await upsert_keys(app.state.sessions, DEV_API_KEYS)
    log.info("dev API keys ready", keys=sorted(DEV_API_KEYS), inserted=inserted)


def _report_sweep(task: "asyncio.Task[int]") -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("startup sweep failed; unstarted orders start on their next identical request or API start, "
                  "pending case refunds on the escalation sweep's next tick", exc_info=exc)


def create_app(
    settings: Settings | None = None,
    *,
    temporal: Client | None = None,
    engine: AsyncEngine | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    """The app. Injected ``temporal`` and ``engine`` are used as they are and left open."""
    settings = settings or get_settings()
    if configure_logs:
        # Before uvicorn logs anything through the app: its loggers join our pipeline.
        configure_logging(settings.log_level, settings.log_json)
    configure_tracing(settings, "orderflow-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.settings = settings
        app.state.engine = engine or create_engine(settings.database_url, echo=settings.database_echo)
        app.state.sessions = create_session_factory(app.state.engine)
        # Lazy: the API starts (and /healthz says so) even while Temporal is still coming up.
        app.state.temporal = temporal or await temporal_client.connect(settings, lazy=True)
        try:
            await _check_api_keys(settings, app)
            app.state.startup_sweep = asyncio.create_task(
                sweep_until_done(app.state.temporal, settings, app.state.sessions), name="startup-sweep")
            app.state.startup_sweep.add_done_callback(_report_sweep)
            log.info("API started", profile=settings.profile, temporal=settings.temporal_address,
                     task_queue=settings.task_queue)
            yield
        finally:
            sweep = getattr(app.state, "startup_sweep", None)
            if sweep is not None and not sweep.done():
                sweep.cancel()
                with suppress(asyncio.CancelledError):
                    await sweep
            if own_engine:
                await app.state.engine.dispose()

    app = FastAPI(
        title="Orderflow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "orders", "description": "Place, read, search and move orders on"},
            {"name": "carrier", "description": "Tracking events from carriers"},
            {"name": "documents", "description": "Shipping labels, invoices and packing slips"},
            {"name": "products", "description": "The catalogue with stock"},
            {"name": "stock", "description": "Stock figures, the stock ledger and adjustments"},
            {"name": "purchasing", "description": "Purchase orders and goods receipt"},
            {"name": "health", "description": "Database and Temporal reachability"},
            {"name": "returns", "description": "Returns, their inspection, refunds and credit notes"},
            {"name": "cases", "description": "Customer-service cases"},
            {"name": "discount codes", "description": "Loyalty discount codes"},
            {"name": "feedback", "description": "The customer's feedback link (no API key) and the feedback figures"},
            {"name": "warehouse", "description": "Pick lists, scanned picks, waves, cycle counts, put-away, "
                                                 "packing plans and the container catalogue"},
            {"name": "admin", "description": "API keys: create, list, revoke (operations)"},
            {"name": "customers", "description": "Erasing a customer's personal data"},
            {"name": "alerts", "description": "Escalations for operations: late picks, tracking silence, "
                                              "delivery exceptions, failed refunds, late suppliers, unanswered cases"},
        ],
    )
    errors.install(app)
    app.add_middleware(RequestContextMiddleware)
    app.state.metrics = ApiMetrics()
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)
    app.include_router(metrics_router)
    instrument_api(app, settings)  # its server span wraps each request, all middleware included
    for module in (orders, documents, messages, shipping, carrier, products, stock, purchase_orders, health):
        app.include_router(module.router)
    app.include_router(returns_router.router)
    app.include_router(admin_keys.router)
    app.include_router(customers.router)
    app.include_router(cases_router.router)
    app.include_router(discount_codes_router.router)
    app.include_router(feedback_router.router)
    app.include_router(warehouse_router.router)
    app.include_router(warehouse_tasks.router)
    app.include_router(waves_router.router)
    app.include_router(containers_router.router)
    app.include_router(dispatches_router.router)
    app.include_router(alerts_router.router)
    return app
