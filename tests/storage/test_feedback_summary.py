"""GET /feedback/summary's figures, computed in SQL: the same on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from decimal import Decimal

from storage.db import transaction
from storage.feedback import feedback_summary
from storage.models import OrderFeedback, Shipment
from tests.factories import place_order, seed


async def _feedback(sessions, reference: str, rating: int, at: datetime, carriers: list[str],
                    channel: str = "webshop") -> str:
    order_id = await place_order(sessions, channel=channel, external_reference=reference)
    async with transaction(sessions) as session:
        session.add(OrderFeedback(order_id=order_id, rating=rating, comment=None, received_at=at))
        for n, carrier in enumerate(carriers):
            session.add(Shipment(id=f"shp_{reference}_{n}", order_id=order_id, carrier=carrier, service="standard",
                                 tracking_number=f"T{reference}{n}", status="DELIVERED" if n < 2 else "CANCELLED",
                                 price=Decimal("4.95"), transit_days=1, choice_reason="test"))
    return order_id


async def test_average_and_counts_by_rating_channel_carrier_and_month(sessions) -> None:
    await seed(sessions)
    await _feedback(sessions, "S1", 5, datetime(2026, 3, 31, 23, 30, tzinfo=UTC), ["postnl"])
    await _feedback(sessions, "S2", 4, datetime(2026, 4, 1, 0, 30, tzinfo=UTC), ["dhl"], channel="marketplace")
    # two packages with one carrier count once for it; a cancelled booking counts for none
    await _feedback(sessions, "S3", 1, datetime(2026, 4, 15, tzinfo=UTC), ["postnl", "postnl", "dpd"])
    await _feedback(sessions, "S4", 2, datetime(2026, 5, 2, tzinfo=UTC), [])  # never shipped: no carrier

    async with sessions() as session:
        s = await feedback_summary(session)
    assert s.count == 4 and s.average_rating == Decimal("3.00")
    assert s.by_rating == {1: 1, 2: 1, 3: 0, 4: 1, 5: 1}
    assert [(g.key, g.count, g.average_rating) for g in s.by_channel] == [
        ("marketplace", 1, Decimal("4.00")), ("webshop", 3, Decimal("2.67"))]
    assert [(g.key, g.count, g.average_rating) for g in s.by_carrier] == [
        ("dhl", 1, Decimal("4.00")), ("postnl", 2, Decimal("3.00"))]
    assert [(g.key, g.count, g.average_rating) for g in s.by_month] == [
        ("2026-03", 1, Decimal("5.00")), ("2026-04", 2, Decimal("2.50")), ("2026-05", 1, Decimal("2.00"))]

    async with sessions() as session:
        april = await feedback_summary(session, received_from=datetime(2026, 4, 1, tzinfo=UTC),
                                       received_before=datetime(2026, 5, 1, tzinfo=UTC))
        none = await feedback_summary(session, received_from=datetime(2027, 1, 1, tzinfo=UTC))
    assert april.count == 2 and april.average_rating == Decimal("2.50")
    assert [g.key for g in april.by_month] == ["2026-04"] and april.by_rating[5] == 0
    assert none.count == 0 and none.average_rating is None and none.by_carrier == [] and none.by_rating[1] == 0
