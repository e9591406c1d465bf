"""An order packed into two boxes over HTTP: the order shows both packages' tracking numbers,
each has a downloadable label that scans, and a carrier event naming the second package
reaches the order."""

import pypdfium2 as pdfium
import zxingcpp

from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api
from tests.factories import signed_carrier_event


async def test_two_boxes_two_labels_and_events_for_either_package(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-TWO-BOXES", lines=[{"sku": "LAMP-200", "quantity": 6}])
    await api.wait_for_status(order_id, "PICKING")
    for step in ("pick", "pack"):
        assert (await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)).status_code == 200
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    shipment = order["shipments"][0]
    numbers = shipment["package_tracking_numbers"]
    assert len(numbers) == 2 and numbers[0] == shipment["tracking_number"]

    listed = (await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)).json()["documents"]
    labels = {d["filename"]: d for d in listed if d["kind"] == "label"}
    assert set(labels) == {f"label-{n}.{ext}" for n in numbers for ext in ("pdf", "zpl")}
    for n, number in enumerate(numbers, start=1):
        pdf = await api.http.get(labels[f"label-{number}.pdf"]["url"], headers=WAREHOUSE)
        assert pdf.status_code == 200
        page = pdfium.PdfDocument(pdf.content)[0]
        assert f"Package {n} of 2" in page.get_textpage().get_text_range()
        assert [r.text for r in zxingcpp.read_barcodes(page.render(scale=200 / 72).to_pil())] == [number]

    assert (await api.http.post(f"/orders/{order_id}/handover", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(order_id, "SHIPPED")
    second = await api.http.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": numbers[1], "event": "IN_TRANSIT"}, CARRIER))
    assert second.status_code == 200, second.text
    assert second.json()["order_id"] == order_id and second.json()["accepted"] is True
    await api.wait_for_status(order_id, "IN_TRANSIT")
    unknown = await api.http.post("/carrier/events", **signed_carrier_event(
        {"tracking_number": numbers[1] + "9", "event": "IN_TRANSIT"}, CARRIER))
    assert unknown.status_code == 404 and "check the number on the label" in unknown.json()["detail"]
    # the read model knows the packages too
    async with api.sessions() as session:
        from storage.queries import order_record
        record = await order_record(session, order_id)
    assert record.package_tracking_numbers == {shipment["shipment_id"]: numbers}
    assert (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()["shipments"][0][
        "package_tracking_numbers"] == numbers
