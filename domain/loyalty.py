"""Loyalty codes Orderflow issues by itself: the rules (when a customer earns one, and what it
gives) and the message that tells the customer. Pure: the status activity applies them.

Rules (the figures are settings): a rating at or above ``thanks_min_rating`` earns a thank-you
code (a percentage off the next order); a rating low enough to open a case, or a parcel that
arrived more than ``late_delivery_grace`` after the carrier's transit time, earns one make-up
code (a fixed amount off). Each kind is issued at most once per order (a dedupe key), single
use, tied to the customer, and expires after ``valid_days``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.cases import opens_case
from domain.discounts import DiscountKind
from domain.messages import language


class LoyaltyReason(StrEnum):
    THANKS = "thanks"  # good feedback
    MAKE_UP = "make_up"  # a problem: a low rating (which opens a case) or a late delivery


@dataclass(frozen=True)
class LoyaltyRules:
    thanks_min_rating: int
    thanks_percent: Decimal
    make_up_amount: Decimal
    valid_days: int
    late_delivery_grace: timedelta


@dataclass(frozen=True)
class LoyaltyGrant:
    """A code the customer has earned: what it gives and why."""

    reason: LoyaltyReason
    kind: DiscountKind
    value: Decimal
    because: str  # for the customer's message and the code's record: "late delivery", ...


def after_feedback(rules: LoyaltyRules, rating: int) -> LoyaltyGrant | None:
    if rating >= rules.thanks_min_rating:
        return LoyaltyGrant(LoyaltyReason.THANKS, DiscountKind.PERCENTAGE, rules.thanks_percent, "feedback")
    if opens_case(rating):
        return LoyaltyGrant(LoyaltyReason.MAKE_UP, DiscountKind.FIXED, rules.make_up_amount, "low rating")
    return None


def promised_by(shipped_at: datetime, transit_days: int) -> datetime:
    return shipped_at + timedelta(days=transit_days)


def after_delivery(rules: LoyaltyRules, *, shipped_at: datetime | None, delivered_at: datetime,
                   transit_days: int | None) -> LoyaltyGrant | None:
    """A make-up code when the parcel came later than the carrier's transit time allowed."""
    if shipped_at is None or transit_days is None:
        return None
    if delivered_at <= promised_by(shipped_at, transit_days) + rules.late_delivery_grace:
        return None
    return LoyaltyGrant(LoyaltyReason.MAKE_UP, DiscountKind.FIXED, rules.make_up_amount, "late delivery")


def dedupe_key(order_id: str, reason: LoyaltyReason) -> str:
    """One code of each kind per order, however often the activity that issues it runs."""
    return f"loyalty:{reason.value}:{order_id}"


def message_sequence(reason: LoyaltyReason) -> int:
    """The customer message's sequence: negative, so it never meets an order status change's
    (positive) nor a return step's (-11 and below, ``domain.returns.message_sequence``)."""
    return -1 if reason == LoyaltyReason.THANKS else -2


_TEXT = {
    "en": {
        LoyaltyReason.THANKS: "Thank you for your feedback! Here is {value} off your next order.",
        LoyaltyReason.MAKE_UP: "We are sorry about your order ({because}). Here is {value} off your next order.",
    },
    "nl": {
        LoyaltyReason.THANKS: "Bedankt voor je mening! Hier is {value} korting op je volgende bestelling.",
        LoyaltyReason.MAKE_UP: "Het spijt ons dat het niet goed ging met je bestelling ({because}). "
                               "Hier is {value} korting op je volgende bestelling.",
    },
}
_BECAUSE = {"nl": {"low rating": "lage beoordeling", "late delivery": "te late levering"}}
_CODE = {"en": "Your code: {code} (valid until {expires}, once)",
         "nl": "Je code: {code} (geldig tot en met {expires}, eenmalig)"}
_SUBJECT = {"en": "A discount code for you (order {order_id})", "nl": "Een kortingscode voor jou (bestelling {order_id})"}


def render_loyalty_message(*, locale: str | None, order_id: str, code: str, grant: LoyaltyGrant,
                           expires_at: datetime) -> tuple[str, str]:
    """(subject, body) of the message that gives the customer their code."""
    lang = language(locale)
    value = f"{grant.value.normalize():f}%" if grant.kind == DiscountKind.PERCENTAGE else f"EUR {grant.value:.2f}"
    because = _BECAUSE.get(lang, {}).get(grant.because, grant.because)
    body = [_TEXT[lang][grant.reason].format(value=value, because=because),
            _CODE[lang].format(code=code, expires=expires_at.date().isoformat())]
    return _SUBJECT[lang].format(order_id=order_id), "\n".join(body)
