"""Feedback through the customer's own link: no API key, one order only, the same path as
``POST /orders/{id}/feedback``; forged tokens are 404; a thank-you code follows good feedback."""

import re
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from domain.feedback_links import FeedbackLinks, feedback_token, order_of_token
from settings import DEV_FEEDBACK_LINK_SECRET, Profile, Settings
from storage.models import CustomerMessage, DiscountCode, OrderFeedback, ServiceCase, StaffAction
from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.conftest import start_time_skipping_server
from tests.factories import signed_carrier_event


@pytest.fixture
async def time_skipping_env():  # type: ignore[no-untyped-def]
    """A server of this module's own (overriding the shared one the api fixture uses): these
    tests skip days, and a shared server's leftover workflows can hold its clock still."""
    env = await start_time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()

LINK = re.compile(r"http://127\.0\.0\.1:8000(/feedback/(\S+))")


async def delivered(api: Api, **overrides) -> str:
    """An order placed and taken to DELIVERED over HTTP, as staff and carrier would."""
    order_id = await api.placed(**overrides)
    await api.wait_for_status(order_id, "PICKING")
    for step in ("pick", "pack"):
        assert (await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    assert (await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)).status_code == 200
    shipped = await api.wait_for_status(order_id, "SHIPPED")
    tracking = shipped["shipments"][0]["tracking_number"]
    response = await api.http.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": tracking, "event": "DELIVERED"}, CARRIER))
    assert response.status_code == 200, response.text
    await api.wait_for_status(order_id, "DELIVERED")
    return order_id


async def messages(api: Api, order_id: str, channel: str = "email") -> list[CustomerMessage]:
    async with api.sessions() as session:
        return list((await session.execute(select(CustomerMessage).where(
            CustomerMessage.order_id == order_id, CustomerMessage.channel == channel)
            .order_by(CustomerMessage.sent_at, CustomerMessage.id))).scalars())


async def test_the_link_in_the_request_and_reminder_takes_feedback_without_a_key(
        api: Api, time_skipping_env: WorkflowEnvironment) -> None:
    order_id = await delivered(api, external_reference="WEB-FB-LINK")
    await time_skipping_env.sleep(timedelta(days=3, minutes=1))
    await api.wait_for_status(order_id, "FEEDBACK_REQUESTED")
    await time_skipping_env.sleep(timedelta(days=7, minutes=1))  # no answer: one reminder
    await api.wait_for(f"/orders/{order_id}", "FEEDBACK_REQUESTED")
    for _ in range(200):
        asked = [m for m in await messages(api, order_id) if "/feedback/" in m.body]
        if len(asked) == 2:
            break
        await time_skipping_env.sleep(timedelta(seconds=1))
    request, reminder = asked
    assert "herinnering" in reminder.body.lower()  # the customer's locale is nl
    path, token = LINK.search(request.body).groups()  # type: ignore[union-attr]
    assert LINK.search(reminder.body).group(1) == path  # type: ignore[union-attr]
    assert order_of_token(DEV_FEEDBACK_LINK_SECRET, token) == order_id
    assert [m.channel for m in await messages(api, order_id, "sms") if "/feedback/" in m.body] == ["sms", "sms"]

    page = await api.http.get(path)  # no X-API-Key
    assert page.status_code == 200, page.text
    body = page.json()
    assert body == {"order_id": order_id, "status": "FEEDBACK_REQUESTED", "accepts_feedback": True, "feedback": None,
                    "lines": [{"name": body["lines"][0]["name"], "quantity": 2},
                              {"name": body["lines"][1]["name"], "quantity": 1}]}
    assert "Damrak" not in page.text and "anna@example.nl" not in page.text

    given = await api.http.post(path, json={"rating": 5, "comment": "Snel en goed verpakt"})
    assert given.status_code == 200, given.text
    assert given.json()["accepted"] is True and given.json()["order_id"] == order_id
    await api.wait_for_status(order_id, "COMPLETED")
    await api.temporal.get_workflow_handle(f"order-{order_id}").result()
    done = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
    assert done["source"] == "read_model" and done["feedback"] == {"rating": 5, "comment": "Snel en goed verpakt"}
    # The same path as POST /orders/{id}/feedback: the action log names the link.
    async with api.sessions() as session:
        actions = (await session.execute(select(StaffAction.actor, StaffAction.actor_role, StaffAction.detail)
                                         .where(StaffAction.action == "feedback"))).all()
    assert actions == [("feedback link", "channel", "rating 5/5")]

    again = await api.http.post(path, json={"rating": 1})
    assert again.status_code == 409
    assert again.json()["status"] == "COMPLETED" and "received already (5/5)" in again.json()["detail"]
    after = (await api.http.get(path)).json()
    assert after["accepts_feedback"] is False and after["feedback"] == {"rating": 5, "comment": "Snel en goed verpakt"}

    # Good feedback earns a thank-you code: tied to the customer, single use, told to them.
    async with api.sessions() as session:
        code = (await session.execute(select(DiscountCode).where(DiscountCode.order_id == order_id))).scalar_one()
        assert await session.scalar(select(func.count()).select_from(ServiceCase)) == 0
    assert code.kind == "percentage" and code.value == 10 and code.max_uses == 1 and code.customer_id
    thanks = [m for m in await messages(api, order_id) if m.sequence == -1]
    assert len(thanks) == 1 and code.code in thanks[0].body and "10%" in thanks[0].body


async def test_a_low_rating_through_the_link_opens_a_case_and_sends_a_make_up_code(api: Api) -> None:
    order_id = await delivered(api, external_reference="WEB-FB-LOW")
    path = f"/feedback/{feedback_token(DEV_FEEDBACK_LINK_SECRET, order_id)}"
    given = await api.http.post(path, json={"rating": 1, "comment": "kapot aangekomen"})
    assert given.status_code == 200 and given.json()["accepted"] is True
    await api.wait_for_status(order_id, "COMPLETED")
    await api.temporal.get_workflow_handle(f"order-{order_id}").result()
    async with api.sessions() as session:
        case = (await session.execute(select(ServiceCase))).scalar_one()
        code = (await session.execute(select(DiscountCode).where(DiscountCode.order_id == order_id))).scalar_one()
    assert case.order_id == order_id and case.opened_by == "feedback"
    assert code.kind == "fixed" and code.value == 10 and code.code.startswith("SORRY-")
    make_up = [m for m in await messages(api, order_id) if m.sequence == -2]
    assert len(make_up) == 1 and code.code in make_up[0].body and "EUR 10.00" in make_up[0].body


async def test_forged_and_mangled_tokens_are_404_and_bad_ratings_422(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-FB-BAD")
    await api.wait_for_status(order_id, "PICKING")
    token = feedback_token(DEV_FEEDBACK_LINK_SECRET, order_id)
    other_secret = feedback_token("another-secret-of-enough-length", order_id)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (other_secret, flipped, order_id, "summary.x", token + "x", "ord_nothere." + token.split(".")[1],
                feedback_token(DEV_FEEDBACK_LINK_SECRET, "ord_doesnotexist")):
        for response in (await api.http.get(f"/feedback/{bad}"),
                         await api.http.post(f"/feedback/{bad}", json={"rating": 4})):
            assert response.status_code == 404, (bad, response.text)
            assert "not valid" in response.json()["detail"]

    for rating in (0, 6, "five", 4.5, None):
        response = await api.http.post(f"/feedback/{token}", json={"rating": rating})
        assert response.status_code == 422, (rating, response.text)
        assert "rating" in response.json()["message"]
    too_long = await api.http.post(f"/feedback/{token}", json={"rating": 3, "comment": "x" * 2001})
    assert too_long.status_code == 422 and "comment" in too_long.json()["message"]
    # A good rating before delivery: the workflow refuses it, naming the status.
    early = await api.http.post(f"/feedback/{token}", json={"rating": 4})
    assert early.status_code == 409 and early.json()["status"] == "PICKING" and "delivered" in early.json()["detail"]
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OrderFeedback)) == 0
        assert await session.scalar(select(func.count()).select_from(StaffAction)) == 0
    # The link is for one order: an ops or channel key changes nothing about that.
    assert (await api.http.get(f"/feedback/{flipped}", headers=OPS)).status_code == 404
    assert (await api.http.get(f"/feedback/{token}", headers=CHANNEL)).status_code == 200


def test_tokens_are_scoped_to_one_order_and_one_secret() -> None:
    token = feedback_token("s" * 32, "ord_abc123")
    assert order_of_token("s" * 32, token) == "ord_abc123"
    assert order_of_token("t" * 32, token) is None
    assert order_of_token("s" * 32, token.replace("ord_abc123", "ord_abc124")) is None
    assert order_of_token("s" * 32, "") is None and order_of_token("s" * 32, "ord_abc123.") is None
    assert FeedbackLinks("https://shop.example/", "s" * 32).for_order("ord_abc123") == \
        f"https://shop.example/feedback/{token}"


def test_production_refuses_the_documented_feedback_link_secret() -> None:
    others = {"carrier_signing_secret": "s3cret", "payload_keys": {"k1": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="},
              "payload_key_id": "k1"}
    with pytest.raises(ValidationError, match="ORDERFLOW_FEEDBACK_LINK_SECRET"):
        Settings(profile=Profile.PRODUCTION, _env_file=None, **others)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(feedback_link_secret="short", _env_file=None)  # type: ignore[call-arg]
    ok = Settings(profile=Profile.PRODUCTION, feedback_link_secret="x" * 32, _env_file=None, **others)  # type: ignore[call-arg]
    assert ok.feedback_link_secret.get_secret_value() == "x" * 32


async def test_the_summary_is_for_operations_and_checks_its_dates(api: Api) -> None:
    from datetime import UTC, datetime

    from storage.db import transaction
    from tests.factories import place_order

    order_id = await place_order(api.sessions, external_reference="WEB-FB-SUM")
    async with transaction(api.sessions) as session:
        session.add(OrderFeedback(order_id=order_id, rating=4, comment=None,
                                  received_at=datetime(2026, 6, 3, tzinfo=UTC)))
    response = await api.http.get("/feedback/summary", headers=OPS, params={"from": "2026-06-01", "to": "2026-06-03"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1 and body["average_rating"] == "4.00" and body["by_rating"]["4"] == 1
    assert body["by_channel"] == [{"key": "webshop", "count": 1, "average_rating": "4.00"}]
    assert body["by_month"] == [{"key": "2026-06", "count": 1, "average_rating": "4.00"}]
    assert body["by_carrier"] == []
    before = (await api.http.get("/feedback/summary", headers=OPS, params={"to": "2026-06-02"})).json()
    assert before["count"] == 0 and before["average_rating"] is None

    swapped = await api.http.get("/feedback/summary", headers=OPS, params={"from": "2026-07-01", "to": "2026-06-01"})
    assert swapped.status_code == 422 and "swap" in swapped.json()["message"]
    bad_date = await api.http.get("/feedback/summary", headers=OPS, params={"from": "June"})
    assert bad_date.status_code == 422 and "from" in bad_date.json()["message"]
    assert (await api.http.get("/feedback/summary")).status_code == 401
    assert (await api.http.get("/feedback/summary", headers=CHANNEL)).status_code == 403
