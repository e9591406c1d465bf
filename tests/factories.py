"""Test data: the demo catalogue and orders placed straight into the database."""

import copy
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.examples import ORDER
from domain.intake import NewOrder
from storage.catalogue import seed_demo_catalogue, seed_demo_warehouse
from storage.db import transaction
from storage.orders import add_order


def order_payload(**overrides: Any) -> dict[str, Any]:
    """The documented example order (``api.examples.ORDER``), with ``overrides``."""
    payload = copy.deepcopy(ORDER)
    payload.update(overrides)
    return payload


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await seed_demo_catalogue(session)
        await seed_demo_warehouse(session)


async def place_order(sessions: async_sessionmaker[AsyncSession], channel: str = "webshop", **overrides: Any) -> str:
    async with transaction(sessions) as session:
        order = await add_order(session, channel, NewOrder.model_validate(order_payload(**overrides)))
        return order.id


def signed_carrier_event(body: dict[str, Any], headers: dict[str, str],
                         secret: str | None = None) -> dict[str, Any]:
    """httpx keyword arguments for POST /carrier/events: the body as the exact bytes that were
    signed, with the X-Signature a carrier sends (the dev profile's secret unless given)."""
    import json

    from domain.signing import SIGNATURE_HEADER, sign
    from settings import DEV_CARRIER_SIGNING_SECRET

    content = json.dumps(body).encode("utf-8")
    return {"content": content, "headers": {**headers, "Content-Type": "application/json",
                                            SIGNATURE_HEADER: sign(secret or DEV_CARRIER_SIGNING_SECRET, content)}}
