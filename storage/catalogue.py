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
