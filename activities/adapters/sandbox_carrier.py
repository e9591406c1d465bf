"""A sandbox carrier API for the demo carriers: rate cards by weight and destination zone,
transit times, size and weight limits checked per package, and a tracking number per package
in each carrier's own format. Bookings are recorded in the database and honour the caller's
idempotency key; a share of calls can fail as a busy API does (retried by Temporal)."""

import random
import string
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.ports import CarrierBooking, CarrierRate, CarrierRefused, Parcel
from domain.enums import ShipmentStatus
from storage.idempotency import run_once
from storage.models import SandboxCarrierBooking
from storage.db import transaction

EU = frozenset({"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
                "IE", "IT", "LT", "LU", "LV", "MT", "PL", "PT", "RO", "SE", "SI", "SK"})


def zone(country: str) -> str:
    if country == "NL":
        return "domestic"
    return "eu" if country in EU else "world"


class Service(BaseModel):
    carrier: str
    service: str
    max_weight_grams: int
    max_length_mm: int
    max_girth_mm: int  # length + 2 × (width + height)
    # zone → list of (up to grams, price); a zone missing here is not served
    rates: dict[str, list[tuple[int, Decimal]]]
    transit_days: dict[str, int]
    tracking_prefix: str
    tracking_digits: int


def _d(s: str) -> Decimal:
    return Decimal(s)


SERVICES: list[Service] = [
    Service(carrier="postnl", service="standard", max_weight_grams=23_000, max_length_mm=1_000, max_girth_mm=1_760,
            rates={"domestic": [(2_000, _d("4.95")), (10_000, _d("6.95")), (23_000, _d("13.50"))],
                   "eu": [(2_000, _d("9.50")), (10_000, _d("14.50")), (23_000, _d("24.00"))]},
            transit_days={"domestic": 1, "eu": 3}, tracking_prefix="3S", tracking_digits=13),
    Service(carrier="dhl", service="parcel", max_weight_grams=31_500, max_length_mm=1_200, max_girth_mm=3_000,
            rates={"domestic": [(5_000, _d("5.75")), (31_500, _d("9.95"))],
                   "eu": [(5_000, _d("11.50")), (31_500, _d("19.95"))],
                   "world": [(5_000, _d("29.00")), (31_500, _d("59.00"))]},
            transit_days={"domestic": 2, "eu": 3, "world": 6}, tracking_prefix="JVGL", tracking_digits=16),
    Service(carrier="dhl", service="express", max_weight_grams=31_500, max_length_mm=1_200, max_girth_mm=3_000,
            rates={"domestic": [(5_000, _d("12.50")), (31_500, _d("18.50"))],
                   "eu": [(5_000, _d("24.00")), (31_500, _d("39.00"))],
                   "world": [(5_000, _d("55.00")), (31_500, _d("95.00"))]},
            transit_days={"domestic": 1, "eu": 1, "world": 2}, tracking_prefix="JD", tracking_digits=18),
    Service(carrier="dpd", service="classic", max_weight_grams=31_500, max_length_mm=1_750, max_girth_mm=3_000,
            rates={"domestic": [(5_000, _d("5.25")), (31_500, _d("8.95"))],
                   "eu": [(5_000, _d("10.25")), (31_500, _d("16.95"))]},
            transit_days={"domestic": 1, "eu": 2}, tracking_prefix="0", tracking_digits=13),
    Service(carrier="freight", service="pallet", max_weight_grams=1_000_000, max_length_mm=2_400, max_girth_mm=9_000,
            rates={"domestic": [(1_000_000, _d("65.00"))], "eu": [(1_000_000, _d("145.00"))]},
            transit_days={"domestic": 2, "eu": 4}, tracking_prefix="FRT", tracking_digits=10),
]


def _price(service: Service, parcel: Parcel) -> Decimal | None:
    """What ``service`` charges for one package, or None if it cannot take it."""
    table = service.rates.get(zone(parcel.country))
    if table is None:
        return None
    dims = sorted((parcel.length_mm, parcel.width_mm, parcel.height_mm), reverse=True)
    if dims[0] > service.max_length_mm or dims[0] + 2 * (dims[1] + dims[2]) > service.max_girth_mm:
        return None
    for up_to, price in table:
        if parcel.weight_grams <= up_to:
            return price
    return None


def _total(service: Service, parcels: list[Parcel]) -> Decimal | None:
    """What ``service`` charges for all the packages, or None if one of them is refused."""
    prices = [_price(service, p) for p in parcels]
    return None if not prices or None in prices else sum(prices, Decimal("0.00"))  # type: ignore[arg-type]


def _describe(parcel: Parcel) -> str:
    return f"{parcel.weight_grams} g, {parcel.length_mm}×{parcel.width_mm}×{parcel.height_mm} mm, to {parcel.country}"


class CarrierUnavailable(Exception):
    """The carrier's API did not answer (a transient failure: the activity is retried)."""


class SandboxCarrierGateway:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, refuse_carriers: frozenset[str] = frozenset(),
                 fail_rate: float = 0.0) -> None:
        self._sessions = sessions
        # Carriers that refuse every booking: lets tests and demos exercise the fallback.
        self._refuse = refuse_carriers
        # Share of booking calls that fail as a busy carrier API does (settings: sandbox_carrier_fail_rate).
        self._fail_rate = fail_rate

    async def rates(self, parcels: list[Parcel]) -> list[CarrierRate]:
        rates = []
        for service in SERVICES:
            price = _total(service, parcels)
            if price is not None:
                rates.append(CarrierRate(carrier=service.carrier, service=service.service, price=price,
                                         transit_days=service.transit_days[zone(parcels[0].country)]))
        return rates

    async def book(self, *, carrier: str, service: str, parcels: list[Parcel], idempotency_key: str) -> CarrierBooking:
        match = next((s for s in SERVICES if s.carrier == carrier and s.service == service), None)
        if match is None:
            raise CarrierRefused(f"{carrier}/{service} is not a known service")
        if self._fail_rate and random.random() < self._fail_rate:
            raise CarrierUnavailable(f"sandbox carrier {carrier}: 503 service unavailable")
        if carrier in self._refuse:
            raise CarrierRefused(f"{carrier} refused the booking")
        if not parcels:
            raise CarrierRefused(f"{carrier}/{service}: a booking needs at least one package")
        for n, parcel in enumerate(parcels, start=1):
            if _price(match, parcel) is None:
                which = f"package {n} of {len(parcels)} " if len(parcels) > 1 else "a parcel "
                raise CarrierRefused(f"{carrier}/{service} cannot take {which}({_describe(parcel)})")

        async def work(session: AsyncSession) -> CarrierBooking:
            numbers = []
            for _ in parcels:
                digits = "".join(random.choices(string.digits, k=match.tracking_digits))
                numbers.append(f"{match.tracking_prefix}{digits}")
                session.add(SandboxCarrierBooking(tracking_number=numbers[-1], carrier=carrier, service=service,
                                                  status=ShipmentStatus.BOOKED))
            await session.flush()
            return CarrierBooking(carrier=carrier, service=service, tracking_number=numbers[0],
                                  package_tracking_numbers=numbers)

        return await run_once(self._sessions, f"carrier:book:{idempotency_key}", "carrier.book", CarrierBooking, work)

    async def cancel(self, *, tracking_numbers: list[str], idempotency_key: str) -> None:
        async with transaction(self._sessions) as session:
            for number in tracking_numbers:
                booking = await session.get(SandboxCarrierBooking, number)
                if booking is not None:
                    booking.status = ShipmentStatus.CANCELLED
