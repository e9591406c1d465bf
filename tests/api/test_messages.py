"""GET /orders/{id}/messages: what the customer was told, per status change and channel."""

import asyncio

from tests.api.conftest import CARRIER, CHANNEL, Api


async def test_messages_list_what_the_customer_was_told(api: Api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    # The live status comes first; the messages are sent when the order next waits, a moment later.
    for _ in range(200):
        response = await api.http.get(f"/orders/{order_id}/messages", headers=CHANNEL)
        assert response.status_code == 200, response.text
        messages = response.json()["messages"]
        if {m["channel"] for m in messages} == {"email", "sms"}:
            break
        await asyncio.sleep(0.05)
    # the factory's customer: Dutch, by e-mail and SMS; payment authorized is news to them
    authorized = [m for m in messages if m["subject"] and m["channel"] == "email"]
    assert authorized and authorized[0]["recipient"] == "anna@example.nl"
    assert {m["channel"] for m in messages} == {"email", "sms"}
    assert "betaling" in authorized[0]["body"]
    assert (await api.http.get(f"/orders/{order_id}/messages", headers=CARRIER)).status_code == 403
    missing = await api.http.get("/orders/ord_nope/messages", headers=CHANNEL)
    assert missing.status_code == 404 and missing.json()["detail"]
