"""The demo catalogue with stock, seeded idempotently by ``make run`` and used by tests."""

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Product, StockLevel, StockMovement

# sku, name, price incl. VAT, VAT %, grams, length, width, height (mm), fragile, stock
DEMO_PRODUCTS: list[tuple[str, str, str, str, int, int, int, int, bool, int]] = [
    ("MUG-001", "Stoneware mug, 350 ml", "12.95", "21", 450, 120, 90, 100, False, 200),
    ("VASE-010", "Glass vase, 30 cm", "39.95", "21", 1_800, 160, 160, 320, True, 40),
    ("BOOK-042", "Cookbook 'Dutch kitchen'", "24.99", "9", 900, 250, 190, 30, False, 120),
    ("TEA-100", "Loose leaf tea, 100 g", "6.49", "9", 120, 100, 70, 50, False, 500),
    ("LAMP-200", "Desk lamp", "49.00", "21", 2_100, 450, 200, 200, False, 25),
    ("BENCH-500", "Garden bench, oak", "349.00", "21", 38_000, 1_500, 600, 800, False, 6),
    ("PLANT-007", "Ceramic planter", "19.95", "21", 1_400, 220, 220, 200, True, 60),
    ("SOLDOUT-1", "Limited print (sold out)", "89.00", "21", 600, 600, 400, 20, False, 0),
]


# sku: (supplier, lead time in days, reorder point, reorder quantity)
DEMO_REPLENISHMENT: dict[str, tuple[str, int, int, int]] = {
    "MUG-001": ("keramiek-bv", 5, 20, 100),
    "VASE-010": ("glashuis", 10, 5, 20),
    "TEA-100": ("theehandel", 3, 50, 200),
    "SOLDOUT-1": ("printstudio", 7, 0, 10),
}


async def seed_demo_catalogue(session: AsyncSession) -> int:
    """Add the demo products that are missing, with their opening stock; returns how many."""
    added = 0
    for sku, name, price, vat, grams, length, width, height, fragile, stock in DEMO_PRODUCTS:
        if await session.get(Product, sku) is not None:
            continue
        supplier, lead_time, reorder_point, reorder_quantity = DEMO_REPLENISHMENT.get(sku, ("groothandel", 7, 0, 0))
        session.add(Product(sku=sku, name=name, price=Decimal(price), vat_rate=Decimal(vat), weight_grams=grams,
                            length_mm=length, width_mm=width, height_mm=height, fragile=fragile, supplier=supplier,
                            lead_time_days=lead_time, reorder_point=reorder_point, reorder_quantity=reorder_quantity))
        await session.flush()
        session.add(StockLevel(sku=sku, on_hand=stock, reserved=0))
        if stock:
            session.add(StockMovement(sku=sku, on_hand_delta=stock, reason="opening stock"))
        added += 1
    return added


# Where the demo stock lies: sku -> (location code, share of the SKU's stock, lot, expiry).
# Small goods in zone A, the garden bench in zone B's pallet racking; tea in two lots.
DEMO_BINS: dict[str, list[tuple[str, float, str, str | None]]] = {
    "MUG-001": [("A-02-03-2-1", 0.6, "", None), ("A-05-12-1-1", 0.4, "", None)],
    "VASE-010": [("A-03-06-1-1", 1.0, "", None)],
    "BOOK-042": [("A-01-09-2-1", 0.5, "", None), ("A-04-02-3-1", 0.5, "", None)],
    "TEA-100": [("A-06-14-2-1", 0.4, "T2611", "2027-03-31"), ("A-02-07-1-1", 0.6, "T2612", "2027-06-30")],
    "LAMP-200": [("A-05-04-2-1", 1.0, "", None)],
    "BENCH-500": [("B-07-01-1-1", 1.0, "", None)],
    "PLANT-007": [("A-03-15-1-1", 1.0, "", None)],
}


async def seed_demo_warehouse(session: AsyncSession) -> int:
    """Add the demo warehouse's locations if it has none, and spread each demo SKU's on-hand
    stock over its bins if it has no bin stock yet, so the bins add up to the SKU's total.
    The default containers the catalogue lacks are added too (migration 0016 seeds them; a
    database emptied by hand has none). Returns how many bin stock rows were added."""
    from datetime import date

    from sqlalchemy import func, select

    from activities.planning.layout import demo_locations
    from storage.containers import seed_default_containers
    from storage.models import BinStock, WarehouseLocation

    await seed_default_containers(session)
    if not await session.scalar(select(func.count()).select_from(WarehouseLocation)):
        session.add_all(WarehouseLocation(**spec.__dict__) for spec in demo_locations())
        await session.flush()
    added = 0
    for sku, bins in DEMO_BINS.items():
        level = await session.get(StockLevel, sku)
        if level is None or await session.scalar(select(func.count()).select_from(BinStock).where(BinStock.sku == sku)):
            continue
        left = level.on_hand
        for n, (code, share, lot, expiry) in enumerate(bins):
            quantity = left if n == len(bins) - 1 else round(level.on_hand * share)
            left -= quantity
            session.add(BinStock(location_code=code, sku=sku, lot=lot, quantity=quantity, allocated=0,
                                 expiry_date=date.fromisoformat(expiry) if expiry else None))
            added += 1
    await session.flush()
    return added
