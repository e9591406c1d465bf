"""What the customer reads: the tracking link per carrier, and a delivery problem in their language."""

from domain.enums import OrderStatus
from domain.messages import render_status_message
from domain.shipping import tracking_url


def test_carriers_with_a_public_page_get_a_link_others_the_bare_number() -> None:
    assert tracking_url("postnl", "3S1234567890123", "nl", "1012 lg") == (
        "https://jouw.postnl.nl/track-and-trace/3S1234567890123-NL-1012LG")
    assert tracking_url("dpd", "01234567890123", "DE", "10115").endswith("/01234567890123")
    assert tracking_url("freight", "FRT0123456789", "NL", "1012 LG") is None
    _, body = render_status_message(locale="en", order_id="ord_1", status=OrderStatus.SHIPPED,
                                    tracking_number="FRT0123456789", reason=None, tracking_url=None)
    assert body.endswith("Track your parcel: FRT0123456789")


def test_a_delivery_exception_reads_as_a_problem_with_the_carriers_words() -> None:
    _, body = render_status_message(
        locale="nl-NL", order_id="ord_1", status=OrderStatus.IN_TRANSIT, tracking_number="3S1",
        reason="delivery exception: address not found", tracking_url="https://example.test/3S1",
        delivery_exception=True)
    assert body.splitlines() == [
        "Er is een probleem met de bezorging van je pakket (address not found). We zoeken het uit en laten je "
        "weten hoe het verder gaat.", "Volg je pakket: https://example.test/3S1"]
