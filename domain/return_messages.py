"""What the customer is told at each step of a return, in Dutch or English by their locale."""

from domain.messages import language
from domain.returns import ReturnStatus

_TEXT: dict[str, dict[ReturnStatus, str]] = {
    "en": {
        ReturnStatus.AWAITING_PARCEL: "We have registered your return {number}. Please send the goods back to us.",
        ReturnStatus.INSPECTED: "We have received and inspected your return {number}; your refund follows.",
        ReturnStatus.REFUNDED: "Your return {number} has been refunded.",
        ReturnStatus.REFUND_FAILED: "Your refund for return {number} is delayed; customer service will contact you.",
        ReturnStatus.EXPIRED: "We did not receive the parcel for your return {number} in time, so it has been closed.",
    },
    "nl": {
        ReturnStatus.AWAITING_PARCEL: "We hebben je retour {number} geregistreerd. Stuur de artikelen naar ons terug.",
        ReturnStatus.INSPECTED: "We hebben je retour {number} ontvangen en gecontroleerd; je terugbetaling volgt.",
        ReturnStatus.REFUNDED: "Je retour {number} is terugbetaald.",
        ReturnStatus.REFUND_FAILED: "Je terugbetaling voor retour {number} is vertraagd; de klantenservice neemt contact op.",
        ReturnStatus.EXPIRED: "We hebben het pakket voor je retour {number} niet op tijd ontvangen; de retour is gesloten.",
    },
}
_SUBJECT = {"en": "Your return {number} for order {order_id}", "nl": "Je retour {number} voor bestelling {order_id}"}


def render_return_message(
    *, locale: str | None, order_id: str, return_number: int, status: ReturnStatus, detail: str | None
) -> tuple[str, str]:
    """(subject, body) of the message for this step of a return."""
    lang = language(locale)
    number = f"R{return_number:06d}"
    body = [_TEXT[lang][status].format(number=number)]
    # The refund, the reason a return closed, and the return label (tracking number and link).
    if detail and status in (ReturnStatus.REFUNDED, ReturnStatus.EXPIRED, ReturnStatus.AWAITING_PARCEL):
        body.append(detail)
    return _SUBJECT[lang].format(number=number, order_id=order_id), "\n".join(body)
