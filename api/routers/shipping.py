"""Shipping quotes for a basket before any order exists: what each carrier and service would
cost and when it would arrive, so a webshop can offer the options at checkout."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.shipping import basket_packages
from api.deps import ChannelOrOps, Sessions
from api.errors import ApiError
from api.routers.orders import AUTH_RESPONSES
from domain.enums import ShippingPreference
from domain.shipping import RateOption, rank_rates
from storage.models import Product

router = APIRouter(prefix="/shipping", tags=["shipping"])


class QuoteDestination(BaseModel):
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 country code, e.g. NL")
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = ""


class QuoteLine(BaseModel):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    quantity: int = Field(ge=1, le=10_000)


class QuoteRequest(BaseModel):
    destination: QuoteDestination
    lines: list[QuoteLine] = Field(min_length=1, max_length=200)


class QuoteOption(BaseModel):
    carrier: str
    service: str
    price: Decimal
    transit_days: int
    arrives_by: date
    fastest: bool
    cheapest: bool


class QuoteOut(BaseModel):
    weight_grams: int = Field(description="Gross weight of all the packages (contents and packaging)")
    packages: int = Field(description="How many packages the basket makes, as the warehouse would pack it")
    options: list[QuoteOption]


@router.post("/quotes", response_model=QuoteOut, summary="Shipping options for a basket",
             responses={**AUTH_RESPONSES})
async def quotes(body: QuoteRequest, principal: ChannelOrOps, sessions: Sessions) -> QuoteOut:
    """Body: `{"destination": {"country": "NL", "postcode": "1012 LG"}, "lines": [{"sku", "quantity"}]}`.
    The basket is planned into boxes, crates or pallets as the warehouse would pack the order
    (a basket of more than 500 items is estimated as one parcel); every carrier service that
    takes every one of those packages is listed, cheapest first, with the price of all the
    packages together (EUR, VAT included) and the arrival date. Roles: channel, ops."""
    quantities: dict[str, int] = {}
    for line in body.lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    async with sessions() as session:
        known = set((await session.execute(select(Product.sku).where(
            Product.sku.in_(quantities), Product.active.is_(True)))).scalars())
        unknown = sorted(set(quantities) - known)
        if unknown:
            raise ApiError(422, f"unknown SKU {', '.join(s[:64] for s in unknown[:5])}; GET /products lists the catalogue")
        parcels = await basket_packages(session, quantities, body.destination.country, body.destination.postcode)
    weight = sum(p.weight_grams for p in parcels)
    rates = await SandboxCarrierGateway(sessions).rates(parcels)
    if not rates:
        heaviest = max(p.weight_grams for p in parcels)
        raise ApiError(422, f"no carrier can take this basket ({len(parcels)} package(s), {weight} g, the heaviest "
                            f"{heaviest} g) to {body.destination.country}; split it into smaller orders")
    options = [RateOption(**r.model_dump()) for r in rates]
    fastest = rank_rates(options, ShippingPreference.FASTEST).ranked[0]
    cheapest = rank_rates(options, ShippingPreference.CHEAPEST).ranked
    today = datetime.now(UTC).date()
    return QuoteOut(weight_grams=weight, packages=len(parcels), options=[QuoteOption(
        carrier=o.carrier, service=o.service, price=o.price, transit_days=o.transit_days,
        arrives_by=today + timedelta(days=o.transit_days), fastest=o is fastest, cheapest=o is cheapest[0])
        for o in cheapest])
