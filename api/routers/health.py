"""Liveness with substance: the database and Temporal are really asked."""

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import RPCError

from api.deps import Sessions, Temporal
from api.schemas import HealthOut
from api.temporal import is_unavailable
from logs import get_logger

router = APIRouter(tags=["health"])
log = get_logger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


async def _database(sessions: Sessions) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        return f"down: no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except (SQLAlchemyError, OSError) as exc:
        return f"down: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return "up"


async def _temporal(temporal: Temporal) -> str:
    try:
        await temporal.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS))
    except RPCError as exc:
        return f"down: {exc.status.name if exc.status else 'error'}: {exc.message}"
    except RuntimeError as exc:
        if not is_unavailable(exc):  # only a lazy client's failed connection means "down"
            raise
        return f"down: {exc}"
    return "up"


@router.get("/healthz", response_model=HealthOut, summary="Health of the API, database and Temporal",
            responses={503: {"model": HealthOut, "description": "The database or Temporal is down (named)"}})
async def healthz(sessions: Sessions, temporal: Temporal) -> JSONResponse:
    """No key needed. Runs `SELECT 1` on the database and asks Temporal for its system info;
    200 when both answer, 503 naming which is down."""
    database, temporal_state = await asyncio.gather(_database(sessions), _temporal(temporal))
    down = [name for name, state in (("database", database), ("temporal", temporal_state)) if state != "up"]
    body = HealthOut(status="unavailable" if down else "ok", database=database, temporal=temporal_state,
                     detail=f"{' and '.join(down)} down" if down else None)
    if down:
        log.warning("health check failed", database=database, temporal=temporal_state)
    return JSONResponse(status_code=503 if down else 200, content=body.model_dump())
