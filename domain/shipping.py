"""Carrier choice and parcel estimates: pure rules shared by the shipping activity and quotes."""

from decimal import Decimal

from pydantic import BaseModel

from domain.enums import ShippingPreference

PACKAGING_WEIGHT_FACTOR = Decimal("1.10")


class RateOption(BaseModel):
    carrier: str
    service: str
    price: Decimal
    transit_days: int


class CarrierChoice(BaseModel):
    """Rates in the order they should be tried, and why the first one was chosen."""

    ranked: list[RateOption]
    reason: str


def rank_rates(
    options: list[RateOption],
    preference: ShippingPreference,
    carrier: str | None = None,
    service: str | None = None,
) -> CarrierChoice:
    """Order the carriers that can take the parcel by the customer's preference.

    The rest stay in the list as fallbacks: if the first carrier refuses the booking, the
    next one is tried.
    """
    if not options:
        return CarrierChoice(ranked=[], reason="no carrier can take this parcel")
    cheapest = sorted(options, key=lambda o: (o.price, o.transit_days, o.carrier, o.service))
    if preference == ShippingPreference.FASTEST:
        ranked = sorted(options, key=lambda o: (o.transit_days, o.price, o.carrier, o.service))
        first = ranked[0]
        return CarrierChoice(ranked=ranked, reason=f"fastest: {first.transit_days} day(s) for EUR {first.price}")
    if preference == ShippingPreference.NAMED and carrier:
        named = [o for o in cheapest if o.carrier == carrier and (service is None or o.service == service)]
        if named:
            rest = [o for o in cheapest if o not in named]
            wanted = f"{carrier}/{service}" if service else carrier
            return CarrierChoice(ranked=named + rest, reason=f"customer chose {wanted}")
        wanted = f"{carrier}/{service}" if service else carrier
        return CarrierChoice(
            ranked=cheapest,
            reason=f"{wanted} cannot take this parcel; cheapest alternative {cheapest[0].carrier}/{cheapest[0].service}",
        )
    first = cheapest[0]
    return CarrierChoice(ranked=cheapest, reason=f"cheapest: EUR {first.price}, {first.transit_days} day(s)")


# The carriers' public track-and-trace pages (the demo's carriers; a carrier without one gets
# the bare tracking number in messages).
_TRACKING_URLS = {
    "postnl": "https://jouw.postnl.nl/track-and-trace/{number}-{country}-{postcode}",
    "dhl": "https://www.dhl.com/nl-nl/home/tracking/tracking-parcel.html?tracking-id={number}",
    "dpd": "https://tracking.dpd.de/status/nl_NL/parcel/{number}",
}


def tracking_url(carrier: str, tracking_number: str, country: str | None, postcode: str | None) -> str | None:
    """Where the customer follows this parcel, or None for a carrier without a public page."""
    template = _TRACKING_URLS.get(carrier)
    if template is None:
        return None
    return template.format(number=tracking_number, country=(country or "NL").upper(),
                           postcode=(postcode or "").replace(" ", "").upper())
