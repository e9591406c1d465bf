"""The catalogue: products with their stock; ops create and change products."""

import re
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response
from sqlalchemy.exc import IntegrityError

from api.deps import AnyRole, Ops, Sessions
from api.errors import ApiError
from api.examples import PRODUCT_EXAMPLE
from api.routers.orders import AUTH_RESPONSES, invalid
from api.schemas import SKU_PATTERN, ErrorOut, ProductIn, ProductOut, ProductPage, StockOut
from logs import get_logger
from storage.db import transaction
from storage.models import Product, StockLevel
from storage.queries import list_products

router = APIRouter(prefix="/products", tags=["products"])
log = get_logger(__name__)

_SKU = re.compile(SKU_PATTERN)
Sku = Annotated[str, Path(description="Stock keeping unit, e.g. MUG-001")]


def product_out(p: Product) -> ProductOut:
    on_hand, reserved = (p.stock.on_hand, p.stock.reserved) if p.stock is not None else (0, 0)
    return ProductOut(sku=p.sku, name=p.name, price=p.price, vat_rate=p.vat_rate, weight_grams=p.weight_grams,
                      length_mm=p.length_mm, width_mm=p.width_mm, height_mm=p.height_mm, fragile=p.fragile,
                      ean=p.ean, active=p.active, updated_at=p.updated_at,
                      stock=StockOut(on_hand=on_hand, reserved=reserved, available=on_hand - reserved))


@router.get("", response_model=ProductPage, responses=AUTH_RESPONSES, summary="List products with stock")
async def list_all(
    principal: AnyRole,
    sessions: Sessions,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) products")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ProductPage:
    """Products by sku with price, VAT rate, dimensions and stock (on hand, reserved,
    available), in pages of `limit`. Roles: any key."""
    if cursor is not None and not _SKU.match(cursor):
        raise invalid(("query", "cursor"), "not a cursor from a previous page; pass next_cursor exactly as returned")
    async with sessions() as session:
        rows = await list_products(session, limit=limit + 1, after=cursor, active=active)
    page = rows[:limit]
    return ProductPage(items=[product_out(p) for p in page],
                       next_cursor=page[-1].sku if len(rows) > limit else None)


@router.get("/{sku}", response_model=ProductOut, summary="Get a product with stock",
            responses={**AUTH_RESPONSES, 404: {"model": ErrorOut, "description": "Unknown sku"}})
async def get_one(sku: Sku, principal: AnyRole, sessions: Sessions) -> ProductOut:
    """One product with its stock: `on_hand`, `reserved` (held for orders), `available`.
    Roles: any key."""
    if _SKU.match(sku):
        async with sessions() as session:
            product = await session.get(Product, sku)
        if product is not None:
            return product_out(product)
    raise ApiError(404, f"no product with sku {sku[:64]!r}; see GET /products")


@router.put("/{sku}", response_model=ProductOut, summary="Create or update a product",
            responses={**AUTH_RESPONSES, 201: {"model": ProductOut, "description": "Created"},
                       200: {"model": ProductOut, "description": "Updated"}})
async def put(
    sku: Annotated[str, Path(pattern=SKU_PATTERN, description="Stock keeping unit: letters, digits, . _ -")],
    body: Annotated[ProductIn, Body(openapi_examples={"mug": {"summary": "A mug", "value": PRODUCT_EXAMPLE}})],
    principal: Ops,
    sessions: Sessions,
    response: Response,
) -> ProductOut:
    """Body: `{"name", "price" (euro incl. VAT, > 0), "vat_rate" (0, 9 or 21), "weight_grams",
    "length_mm", "width_mm", "height_mm" (all > 0), "fragile", "ean", "active"}`.

    Creates the product (201, with zero stock) or replaces its details (200). Orders already
    placed keep the prices they were placed at. Stock changes go through
    POST /stock/adjustments. Roles: ops."""
    fields = body.model_dump()
    created = False
    for attempt in (1, 2):
        created = False
        try:
            async with transaction(sessions) as session:
                product = await session.get(Product, sku)
                if product is None:
                    session.add(Product(sku=sku, **fields))
                    await session.flush()
                    session.add(StockLevel(sku=sku, on_hand=0, reserved=0))
                    created = True
                else:
                    for name, value in fields.items():
                        setattr(product, name, value)
            break
        except IntegrityError:
            if attempt == 2:  # a concurrent PUT created it: the second attempt updates
                raise
    log.info("product saved", sku=sku, created=created)
    async with sessions() as session:
        saved = await session.get(Product, sku)
        assert saved is not None
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/products/{sku}"
    return product_out(saved)
