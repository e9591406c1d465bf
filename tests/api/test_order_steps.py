"""Reading orders and moving them on over HTTP: pick, pack, handover, tracking, feedback,
cancel; refusals as 409 naming the status; who may see and do what."""

from sqlalchemy import update

from storage.models import Order, StockLevel
from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import place_order, signed_carrier_event


async def test_an_order_goes_from_placement_to_completed_over_http(api: Api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")

    pick = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert pick.status_code == 200, pick.text
    assert pick.json()["accepted"] is True
    repeat = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert repeat.status_code == 200 and repeat.json()["accepted"] is False

    pack = await api.http.post(f"/orders/{order_id}/pack", json={"confirmed_by": "Jan"}, headers=WAREHOUSE)
    assert pack.status_code == 200 and pack.json()["accepted"] is True
    await api.wait_for_status(order_id, "READY_TO_SHIP")
    handover = await api.http.post(f"/orders/{order_id}/handover", headers=OPS)
    assert handover.status_code == 200 and handover.json()["accepted"] is True

    shipped = await api.wait_for_status(order_id, "SHIPPED", headers=CHANNEL)
    assert shipped["source"] == "workflow"
    assert shipped["payment"]["status"] == "captured"
    assert shipped["customer"]["name"] == "Anna de Vries" and shipped["lines"][0]["unit_price"] == "12.95"
    assert any("pick confirmed by warehouse dev key" in e["message"] for e in shipped["timeline"])
    assert any("pack confirmed by Jan" in e["message"] for e in shipped["timeline"])
    tracking_number = shipped["shipments"][0]["tracking_number"]

    for event in ("IN_TRANSIT", "DELIVERED"):
        response = await api.http.post("/carrier/events", **signed_carrier_event({
            "tracking_number": tracking_number, "event": event, "occurred_at": "2026-05-01T14:03:00+02:00"}, CARRIER))
        assert response.status_code == 200, response.text
        assert response.json()["order_id"] == order_id
    await api.wait_for_status(order_id, "DELIVERED")

    early = await api.http.post(f"/orders/{order_id}/feedback", json={"rating": 6}, headers=CHANNEL)
    assert early.status_code == 422 and "body.rating" in early.json()["message"]
    feedback = await api.http.post(f"/orders/{order_id}/feedback", json={"rating": 5, "comment": "Quick!"},
                                   headers=CHANNEL)
    assert feedback.status_code == 200 and feedback.json()["accepted"] is True

    done = await api.wait_for_status(order_id, "COMPLETED")
    await api.temporal.get_workflow_handle(f"order-{order_id}").result()
    after = (await api.http.get(f"/orders/{order_id}", headers=CHANNEL)).json()
    assert after["source"] == "read_model" and after["status"] == "COMPLETED"
    assert [e["status"] for e in after["timeline"] if e["kind"] == "status"] == [
        "PAYMENT_AUTHORIZED", "RESERVED", "PICKING", "PACKING", "READY_TO_SHIP", "SHIPPED", "IN_TRANSIT",
        "DELIVERED", "COMPLETED"]
    # The staff actions stay on the timeline after the workflow closed, from the action log.
    assert [(e["message"].split(" by ")[0], e["actor"]["key_name"]) for e in after["timeline"]
            if e["kind"] == "action"] == [
        ("pick confirmed", "warehouse dev key"), ("pack confirmed", "warehouse dev key"),
        ("handover confirmed", "ops dev key"), ("feedback submitted: rating 5/5", "webshop dev key")]
    assert after["payment"]["status"] == "captured" and after["payment"]["captured"] == after["total_amount"]
    assert after["shipments"][0]["tracking_number"] == tracking_number
    assert after["feedback"] == {"rating": 5, "comment": "Quick!"}
    assert done["order_id"] == after["order_id"]

    # The workflow has closed: a step now is refused naming the read model's status.
    late = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert late.status_code == 409
    assert late.json()["status"] == "COMPLETED" and "COMPLETED" in late.json()["detail"]
    late_event = await api.http.post("/carrier/events", **signed_carrier_event({
        "tracking_number": tracking_number, "event": "DELIVERED"}, CARRIER))
    assert late_event.status_code == 409 and late_event.json()["status"] == "COMPLETED"


async def test_pack_before_pick_is_refused_with_409_naming_the_status(api: Api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    response = await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE)
    assert response.status_code == 409
    assert response.json() == {"detail": "order is PICKING; confirm the pick before the pack", "status": "PICKING"}
    handover = await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)
    assert handover.status_code == 409 and handover.json()["status"] == "PICKING"
    feedback = await api.http.post(f"/orders/{order_id}/feedback", json={"rating": 4}, headers=CHANNEL)
    assert feedback.status_code == 409 and "PICKING" in feedback.json()["detail"]


async def test_cancel_runs_the_compensations_and_ends_cancelled(api: Api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    response = await api.http.post(f"/orders/{order_id}/cancel", json={"reason": "customer changed their mind"},
                                   headers=CHANNEL)
    assert response.status_code == 200, response.text
    assert response.json() == {"order_id": order_id, "accepted": True, "status": "CANCELLED",
                               "message": "order CANCELLED"}
    await api.temporal.get_workflow_handle(f"order-{order_id}").result()

    order = (await api.http.get(f"/orders/{order_id}", headers=CHANNEL)).json()
    assert order["status"] == "CANCELLED" and order["source"] == "read_model"
    assert order["cancellation_reason"] == "customer changed their mind"
    assert order["payment"]["status"] == "voided"
    async with api.sessions() as session:
        assert (await session.get(StockLevel, "MUG-001")).reserved == 0

    again = await api.http.post(f"/orders/{order_id}/cancel", headers=OPS)
    assert again.status_code == 200 and again.json()["accepted"] is False
    pick = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert pick.status_code == 409 and pick.json()["status"] == "CANCELLED"


async def test_a_declined_card_ends_payment_failed_and_is_read_from_the_read_model(api: Api) -> None:
    order_id = await api.placed(payment={"method": "card", "token": "tok_chargeDeclined"})
    await api.temporal.get_workflow_handle(f"order-{order_id}").result()
    order = (await api.http.get(f"/orders/{order_id}", headers=CHANNEL)).json()
    assert order["status"] == "PAYMENT_FAILED" and order["source"] == "read_model"
    assert "declined" in order["cancellation_reason"]
    cancel = await api.http.post(f"/orders/{order_id}/cancel", headers=CHANNEL)
    assert cancel.status_code == 409 and cancel.json()["status"] == "PAYMENT_FAILED"


async def test_each_route_checks_the_role(api: Api) -> None:
    order_id = await api.placed()
    no_key = await api.http.get(f"/orders/{order_id}")
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"]
    checks = [
        ("GET", f"/orders/{order_id}", CARRIER, None),
        ("GET", "/orders", CARRIER, None),
        ("POST", f"/orders/{order_id}/pick", CHANNEL, None),
        ("POST", f"/orders/{order_id}/pack", CARRIER, None),
        ("POST", f"/orders/{order_id}/handover", CHANNEL, None),
        ("POST", f"/orders/{order_id}/cancel", WAREHOUSE, None),
        ("POST", f"/orders/{order_id}/feedback", WAREHOUSE, {"rating": 5}),
        ("POST", "/carrier/events", WAREHOUSE, {"tracking_number": "X", "event": "DELIVERED"}),
        ("POST", "/carrier/events", CHANNEL, {"tracking_number": "X", "event": "DELIVERED"}),
    ]
    for method, path, headers, body in checks:
        response = await api.http.request(method, path, headers=headers, json=body)
        assert response.status_code == 403, (method, path, headers, response.text)
        assert "needs a key with role" in response.json()["detail"]
        anonymous = await api.http.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)


async def test_a_channel_key_sees_only_its_own_channels_orders(api: Api) -> None:
    theirs = await api.place(OPS, params={"channel": "marketplace"})
    assert theirs.status_code == 201
    other_id = theirs.json()["order_id"]
    ours = await api.placed(external_reference="WEB-2")

    for method, path, body in [("GET", f"/orders/{other_id}", None),
                               ("POST", f"/orders/{other_id}/cancel", None),
                               ("POST", f"/orders/{other_id}/feedback", {"rating": 3})]:
        response = await api.http.request(method, path, headers=CHANNEL, json=body)
        assert response.status_code == 404, (path, response.text)
        assert other_id in response.json()["detail"]

    listed = (await api.http.get("/orders", headers=CHANNEL)).json()["items"]
    assert [o["order_id"] for o in listed] == [ours]
    assert (await api.http.get("/orders", params={"channel": "marketplace"}, headers=CHANNEL)).status_code == 403
    assert (await api.http.get(f"/orders/{other_id}", headers=OPS)).status_code == 200
    assert (await api.http.get(f"/orders/{other_id}", headers=WAREHOUSE)).status_code == 200


async def test_unknown_orders_and_tracking_numbers_are_404(api: Api) -> None:
    for path in ("/orders/ord_doesnotexist", "/orders/not-an-id", "/orders/ord_%00"):
        response = await api.http.get(path, headers=OPS)
        assert response.status_code == 404, path
    pick = await api.http.post("/orders/ord_doesnotexist/pick", headers=WAREHOUSE)
    assert pick.status_code == 404
    event = await api.http.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": "3S0000000000000", "event": "IN_TRANSIT"}, CARRIER))
    assert event.status_code == 404 and "3S0000000000000" in event.json()["detail"]
    naive = await api.http.post("/carrier/events", **signed_carrier_event({
        "tracking_number": "3S0000000000000", "event": "IN_TRANSIT", "occurred_at": "2026-05-01T14:03:00"}, CARRIER))
    assert naive.status_code == 422 and "body.occurred_at" in naive.json()["message"]


async def test_a_step_for_an_order_whose_workflow_is_gone_is_404(api: Api) -> None:
    order_id = await place_order(api.sessions)
    async with api.sessions() as session, session.begin():  # recorded as started, but it is not
        await session.execute(update(Order).where(Order.id == order_id).values(workflow_started=True))
    response = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert response.status_code == 404 and "no workflow" in response.json()["detail"]
    # Reading it still works, from the read model.
    read = await api.http.get(f"/orders/{order_id}", headers=OPS)
    assert read.status_code == 200 and read.json()["source"] == "read_model"


async def test_a_step_on_an_order_never_started_starts_it_first(api: Api) -> None:
    order_id = await place_order(api.sessions)
    response = await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] is True  # recorded, applied when it reaches PICKING
    await api.wait_for_status(order_id, "PACKING")


async def test_search_filters_and_pages_through_orders(api: Api) -> None:
    ids = [await api.placed(external_reference=f"WEB-{n}") for n in range(5)]
    other_customer = await api.placed(external_reference="WEB-OTHER",
                                      customer={**_customer(), "id": "c-99"})
    await api.wait_for_status(ids[0], "PICKING")
    # GET /orders reads the read model, which the workflow updates when it starts waiting at
    # PICKING, a moment after GET /orders/{id} (live from the workflow) shows PICKING.
    await api.wait_listed({"status": "PICKING"}, ids[0])

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.http.get("/orders", params=params, headers=OPS)).json()
        seen += [o["order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([*ids, other_customer]) and len(seen) == 6

    by_customer = (await api.http.get("/orders", params={"customer": "c-99"}, headers=CHANNEL)).json()["items"]
    assert [o["order_id"] for o in by_customer] == [other_customer]
    picking = (await api.http.get("/orders", params={"status": "PICKING"}, headers=OPS)).json()["items"]
    assert ids[0] in [o["order_id"] for o in picking]
    assert all(o["status"] == "PICKING" for o in picking)
    future = (await api.http.get("/orders", params={"created_from": "2999-01-01"}, headers=OPS)).json()["items"]
    assert future == []
    past = (await api.http.get("/orders", params={"created_to": "2000-01-01T00:00:00Z"}, headers=OPS)).json()
    assert past["items"] == []
    marketplace = (await api.http.get("/orders", params={"channel": "marketplace"}, headers=OPS)).json()["items"]
    assert marketplace == []

    for params, where in [({"cursor": "garbage!"}, "query.cursor"), ({"status": "LOST"}, "query.status.0"),
                          ({"limit": "0"}, "query.limit"), ({"created_from": "yesterday"}, "query.created_from"),
                          ({"created_from": "9999-12-31T23:00:00-05:00"}, "query.created_from"),
                          ({"customer": "c\x00"}, "query.customer")]:
        response = await api.http.get("/orders", params=params, headers=OPS)
        assert response.status_code == 422, (params, response.text)
        assert where in response.json()["message"], response.json()["message"]


def _customer() -> dict[str, object]:
    from tests.factories import order_payload

    return dict(order_payload()["customer"])
