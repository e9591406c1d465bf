"""What the customer is told at each status change, in Dutch or English by their locale."""

from domain.enums import OrderStatus

CUSTOMER_STATUSES_DEFAULT = frozenset({
    OrderStatus.PAYMENT_AUTHORIZED,
    OrderStatus.PAYMENT_FAILED,
    OrderStatus.AWAITING_CUSTOMER,
    OrderStatus.AWAITING_STOCK,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.FEEDBACK_REQUESTED,
    OrderStatus.CANCELLED,
})

_TEXT: dict[str, dict[OrderStatus, str]] = {
    "en": {
        OrderStatus.PAYMENT_AUTHORIZED: "We have received your order and your payment.",
        OrderStatus.PAYMENT_FAILED: "Your payment was not accepted, so your order has not been placed.",
        OrderStatus.AWAITING_CUSTOMER: "Part of your order is out of stock: please tell us how to proceed.",
        OrderStatus.AWAITING_STOCK: "Part of your order is on pre-order; we ship as soon as it arrives.",
        OrderStatus.PARTIALLY_SHIPPED: "Part of your order is on its way; the rest follows in a second parcel.",
        OrderStatus.SHIPPED: "Your order is on its way.",
        OrderStatus.IN_TRANSIT: "Your parcel is in transit.",
        OrderStatus.DELIVERED: "Your order has been delivered.",
        OrderStatus.FEEDBACK_REQUESTED: "How did we do? We would love to hear your feedback.",
        OrderStatus.CANCELLED: "Your order has been cancelled.",
        OrderStatus.COMPLETED: "Thank you for your order.",
    },
    "nl": {
        OrderStatus.PAYMENT_AUTHORIZED: "We hebben je bestelling en je betaling ontvangen.",
        OrderStatus.PAYMENT_FAILED: "Je betaling is niet geaccepteerd; je bestelling is niet geplaatst.",
        OrderStatus.AWAITING_CUSTOMER: "Een deel van je bestelling is niet op voorraad: laat ons weten wat je wilt.",
        OrderStatus.AWAITING_STOCK: "Een deel van je bestelling is een pre-order; we verzenden zodra het binnen is.",
        OrderStatus.PARTIALLY_SHIPPED: "Een deel van je bestelling is onderweg; de rest volgt in een tweede pakket.",
        OrderStatus.SHIPPED: "Je bestelling is onderweg.",
        OrderStatus.IN_TRANSIT: "Je pakket is onderweg.",
        OrderStatus.DELIVERED: "Je bestelling is bezorgd.",
        OrderStatus.FEEDBACK_REQUESTED: "Hoe hebben we het gedaan? We horen graag je mening.",
        OrderStatus.CANCELLED: "Je bestelling is geannuleerd.",
        OrderStatus.COMPLETED: "Bedankt voor je bestelling.",
    },
}
# AWAITING_CUSTOMER with this reason asks for a new payment, not about missing stock.
NEW_PAYMENT_NEEDED = "the card authorization expired and could not be renewed; send a new payment"
_NEW_PAYMENT = {"en": "We could not renew the authorization of your card, so your order is on hold. Please pay "
                      "again with another card; without a new payment the order will be cancelled.",
                "nl": "We konden de autorisatie van je kaart niet verlengen, dus je bestelling staat stil. Betaal "
                      "opnieuw met een andere kaart; zonder nieuwe betaling wordt de bestelling geannuleerd."}
# A feedback request sent again (same status, this reason) reads as a reminder.
FEEDBACK_REMINDER = "feedback reminder"
_REMINDER = {"en": "A gentle reminder: how did we do? Your feedback takes a minute.",
             "nl": "Een vriendelijke herinnering: hoe hebben we het gedaan? Je mening kost maar een minuut."}
_SUBJECT = {"en": "Your order {order_id}: {status}", "nl": "Je bestelling {order_id}: {status}"}
_TRACKING = {"en": "Track your parcel: {number}", "nl": "Volg je pakket: {number}"}
_EXCEPTION = {"en": "There is a problem with the delivery of your parcel ({reason}). We are on it and will let you "
                    "know how it goes on.",
              "nl": "Er is een probleem met de bezorging van je pakket ({reason}). We zoeken het uit en laten je "
                    "weten hoe het verder gaat."}
_REASON = {"en": "Reason: {reason}", "nl": "Reden: {reason}"}
_FEEDBACK_LINK = {"en": "Rate your order here (1 to 5 stars): {link}",
                  "nl": "Geef hier je beoordeling (1 tot 5 sterren): {link}"}
# Statuses whose message carries the reason: what is missing and when it is expected, or why
# the order stopped.
_EXPLAINED = frozenset({OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED, OrderStatus.AWAITING_CUSTOMER,
                        OrderStatus.AWAITING_STOCK, OrderStatus.PARTIALLY_SHIPPED})


def language(locale: str | None) -> str:
    lang = (locale or "nl").split("-")[0].split("_")[0].lower()
    return lang if lang in _TEXT else "en"


def render_status_message(
    *, locale: str | None, order_id: str, status: OrderStatus, tracking_number: str | None, reason: str | None,
    feedback_link: str | None = None, tracking_url: str | None = None, delivery_exception: bool = False,
) -> tuple[str, str]:
    """(subject, body) of the message for this status change. A feedback request and its
    reminder carry ``feedback_link``, the order's own link that needs no API key."""
    lang = language(locale)
    body = [_TEXT[lang].get(status, status.value)]
    if status == OrderStatus.FEEDBACK_REQUESTED and reason == FEEDBACK_REMINDER:
        body = [_REMINDER[lang]]
    if status == OrderStatus.AWAITING_CUSTOMER and reason and reason.startswith(NEW_PAYMENT_NEEDED):
        body = [_NEW_PAYMENT[lang]]
    if reason and status in _EXPLAINED:
        body.append(_REASON[lang].format(reason=reason))
    if delivery_exception:
        body = [_EXCEPTION[lang].format(reason=(reason or "").removeprefix("delivery exception: "))]
    if tracking_number:
        body.append(_TRACKING[lang].format(number=tracking_url or tracking_number))
    if feedback_link and status == OrderStatus.FEEDBACK_REQUESTED:
        body.append(_FEEDBACK_LINK[lang].format(link=feedback_link))
    return _SUBJECT[lang].format(order_id=order_id, status=status.value), "\n".join(body)
