"""Test data: the demo catalogue and orders placed straight into the database."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.intake import NewOrder
from storage.catalogue import seed_demo_catalogue
from storage.db import transaction
from storage.orders import add_order


def order_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_reference": "WEB-1001",
        "customer": {"id": "c-42", "name": "Anna de Vries", "email": "anna@example.nl", "phone": "+31612345678",
                     "locale": "nl", "notification_channels": ["email", "sms"]},
        "shipping_address": {"country": "NL", "street": "Damrak", "house_number": "1", "postcode": "1012 LG",
                             "city": "Amsterdam"},
        "lines": [{"sku": "MUG-001", "quantity": 2}, {"sku": "BOOK-042", "quantity": 1}],
        "payment": {"method": "card", "token": "tok_visa"},
        "shipping": {"preference": "cheapest"},
    }
    payload.update(overrides)
    return payload


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await seed_demo_catalogue(session)


async def place_order(sessions: async_sessionmaker[AsyncSession], channel: str = "webshop", **overrides: Any) -> str:
    async with transaction(sessions) as session:
        order = await add_order(session, channel, NewOrder.model_validate(order_payload(**overrides)))
        return order.id
