"""Customer-service cases over HTTP, and the case a low feedback rating opens by itself."""

from datetime import UTC, datetime

from sqlalchemy import select

from activities.order_status import OrderStatusActivities
from activities.adapters.sandbox_outbound import SandboxNotifier, SandboxPim
from domain.enums import NotificationChannel, OrderStatus
from domain.messages import CUSTOMER_STATUSES_DEFAULT
from domain.models import FeedbackInput, StatusChange
from storage.models import ServiceCase
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import place_order


async def test_a_case_is_opened_noted_and_resolved(api: Api) -> None:
    order_id = await place_order(api.sessions, external_reference="WEB-CASE")
    opened = await api.http.post("/cases", headers=OPS, json={
        "kind": "damaged", "subject": "mug arrived broken", "order_id": order_id, "note": "photo received"})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["status"] == "open" and case["kind"] == "damaged" and case["order_id"] == order_id
    assert opened.headers["Location"] == f"/cases/{case['case_id']}"
    assert [n["text"] for n in case["notes"]] == ["photo received"]

    noted = await api.http.post(f"/cases/{case['case_id']}/notes", headers=OPS,
                                json={"text": "called the customer", "assignee": "Sanne"})
    assert noted.status_code == 200, noted.text
    assert noted.json()["status"] == "in_progress" and noted.json()["assignee"] == "Sanne"

    listed = await api.http.get("/cases", headers=OPS, params={"status": "in_progress", "assignee": "Sanne"})
    assert [c["case_id"] for c in listed.json()] == [case["case_id"]]
    assert (await api.http.get("/cases", headers=OPS, params={"status": "open"})).json() == []

    resolved = await api.http.post(f"/cases/{case['case_id']}/resolve", headers=OPS,
                                   json={"resolution": "new mug sent"})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "new mug sent"
    again = await api.http.post(f"/cases/{case['case_id']}/resolve", headers=OPS, json={"resolution": "x"})
    assert again.status_code == 409 and "resolved already" in again.json()["detail"]
    late_note = await api.http.post(f"/cases/{case['case_id']}/notes", headers=OPS, json={"text": "x"})
    assert late_note.status_code == 409


async def test_bad_case_requests_get_clear_4xx(api: Api) -> None:
    bad_kind = await api.http.post("/cases", headers=OPS, json={"kind": "angry", "subject": "x"})
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json()["message"]
    no_order = await api.http.post("/cases", headers=OPS, json={"kind": "other", "subject": "x",
                                                                "order_id": "ord_doesnotexist"})
    assert no_order.status_code == 422 and "no order" in no_order.json()["detail"]
    assert (await api.http.post("/cases", headers=CHANNEL, json={"kind": "other", "subject": "x"})).status_code == 403
    assert (await api.http.get("/cases", headers=WAREHOUSE)).status_code == 403
    assert (await api.http.get("/cases/case_nothere", headers=OPS)).status_code == 404
    assert (await api.http.post("/cases/nonsense/notes", headers=OPS, json={"text": "x"})).status_code == 404
    async with api.sessions() as session:
        assert (await session.execute(select(ServiceCase))).scalars().all() == []


async def test_a_low_rating_opens_one_case_and_a_good_one_none(api: Api) -> None:
    low = await place_order(api.sessions, external_reference="WEB-LOW")
    good = await place_order(api.sessions, external_reference="WEB-GOOD")
    status = OrderStatusActivities(api.sessions, SandboxPim(api.sessions),
                                   {c: SandboxNotifier(api.sessions) for c in NotificationChannel},
                                   CUSTOMER_STATUSES_DEFAULT)
    for order_id, rating in ((low, 2), (good, 3)):
        change = StatusChange(order_id=order_id, sequence=9, status=OrderStatus.COMPLETED, occurred_at=datetime.now(UTC),
                              reason="feedback received", feedback=FeedbackInput(rating=rating, comment="slow"))
        await status.publish_status_change(change)
        await status.publish_status_change(change)  # a retried activity

    cases = (await api.http.get("/cases", headers=OPS)).json()
    assert [(c["order_id"], c["kind"], c["status"], c["opened_by"]) for c in cases] == [
        (low, "complaint", "open", "feedback")]
    assert cases[0]["subject"] == "feedback rating 2 of 5: slow"
