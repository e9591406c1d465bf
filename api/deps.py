"""Request dependencies: the process-wide settings, sessions and Temporal client that the
lifespan built, and the caller's API key with its role (``X-API-Key``)."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import ApiError
from api.schemas import ORDER_ID_PATTERN
from domain.accountability import Actor
from domain.enums import Role
from settings import Settings
from storage.api_keys import find_active_key, touch_last_used
from storage.models import Order, utcnow
from storage.queries import get_order


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessions


def _temporal(request: Request) -> Client:
    return request.app.state.temporal


SettingsDep = Annotated[Settings, Depends(_settings)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
Temporal = Annotated[Client, Depends(_temporal)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="Your API key. Dev profile keys: channel-dev-key, warehouse-dev-key, carrier-dev-key, ops-dev-key")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's role and name, and for a channel key its channel."""

    role: Role
    name: str
    channel: str | None
    key_id: int | None = None

    def can_see(self, order: Order) -> bool:
        return self.role != Role.CHANNEL or order.channel == self.channel

    def actor(self, person: str | None = None) -> Actor:
        """The key as the actor of a staff action; ``person`` is whom the caller names."""
        return Actor(key_name=self.name, role=self.role.value, person=person or None)


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'APIKey header="X-API-Key"'}


async def authenticate(api_key: Annotated[str | None, Depends(_api_key_header)], sessions: Sessions) -> Principal:
    if not api_key:
        raise ApiError(401, "no API key: send your key in the X-API-Key header", headers=UNAUTHORIZED_HEADERS)
    async with sessions() as session:
        row = await find_active_key(session, api_key)
    if row is None:
        raise ApiError(401, "the API key in X-API-Key is unknown or revoked; ask operations for a valid key",
                       headers=UNAUTHORIZED_HEADERS)
    principal = Principal(role=Role(row.role), name=row.name, channel=row.channel, key_id=row.id)
    structlog.contextvars.bind_contextvars(role=principal.role.value, key_name=principal.name)
    try:
        await touch_last_used(sessions, row, utcnow())
    except SQLAlchemyError:
        # Bookkeeping only: a busy database must not refuse an authenticated request.
        structlog.get_logger(__name__).warning("could not note the key's last use", exc_info=True)
    return principal


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = ", ".join(r.value for r in roles)

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, f"a {principal.role} key may not do this; it needs a key with role {allowed}")
        return principal

    return check


AnyRole = Annotated[Principal, Depends(require(Role.CHANNEL, Role.WAREHOUSE, Role.CARRIER, Role.OPS))]
OrderReader = Annotated[Principal, Depends(require(Role.CHANNEL, Role.WAREHOUSE, Role.OPS))]
ChannelOrOps = Annotated[Principal, Depends(require(Role.CHANNEL, Role.OPS))]
WarehouseOrOps = Annotated[Principal, Depends(require(Role.WAREHOUSE, Role.OPS))]
CarrierOrOps = Annotated[Principal, Depends(require(Role.CARRIER, Role.OPS))]
Ops = Annotated[Principal, Depends(require(Role.OPS))]

_ORDER_ID = re.compile(ORDER_ID_PATTERN)


async def load_order(sessions: async_sessionmaker[AsyncSession], principal: Principal, order_id: str) -> Order:
    """The order if the caller may see it; 404 otherwise (another channel's order is not
    admitted to exist)."""
    if _ORDER_ID.match(order_id):
        async with sessions() as session:
            order = await get_order(session, order_id)
        if order is not None and principal.can_see(order):
            return order
    raise ApiError(404, f"no order {order_id[:64]!r} for this key; check the order id returned by POST /orders")
