"""The packer packs otherwise than the plan and says so at the pack step: the carrier is booked
with the packages as packed (their size and weight), the labels say so; a bad report is a clear
422 that changes nothing."""

import asyncio

import pypdfium2 as pdfium
from sqlalchemy import select

from storage.models import ShipmentPackage
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE, Api

AS_PACKED = [{"length_mm": 420, "width_mm": 310, "height_mm": 260, "weight_grams": 4_350, "container": "BOX-M"},
             {"length_mm": 300, "width_mm": 200, "height_mm": 150, "weight_grams": 1_250}]


async def test_the_carrier_is_booked_with_the_packages_as_packed(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-AS-PACKED", lines=[{"sku": "LAMP-200", "quantity": 2}])
    await api.wait_for_status(order_id, "PICKING")
    assert (await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(order_id, "PACKING")
    packed = await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE,
                                 json={"confirmed_by": "Fatima", "packages": AS_PACKED})
    assert packed.status_code == 200 and packed.json()["accepted"] is True, packed.text
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    numbers = order["shipments"][0]["package_tracking_numbers"]
    assert len(numbers) == 2
    async with api.sessions() as s:
        booked = (await s.execute(select(ShipmentPackage).where(ShipmentPackage.order_id == order_id)
                                  .order_by(ShipmentPackage.package_number))).scalars().all()
    assert [(p.length_mm, p.width_mm, p.height_mm, p.weight_grams, p.container) for p in booked] == [
        (420, 310, 260, 4_350, "BOX-M"), (300, 200, 150, 1_250, None)]
    assert any("2 packages as packed (5.6 kg)" in e["message"] and "Fatima" in e["message"]
               for e in order["timeline"])

    labels = [d for d in (await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)).json()["documents"]
              if d["kind"] == "label" and d["filename"].endswith(".pdf")]
    texts = []
    for label in labels:
        pdf = await api.http.get(label["url"], headers=WAREHOUSE)
        texts.append(pdfium.PdfDocument(pdf.content)[0].get_textpage().get_text_range())
    assert sorted(w for w in ("4.35 kg", "1.25 kg") for t in texts if w in t) == ["1.25 kg", "4.35 kg"], texts


async def test_a_bad_package_report_is_refused_and_changes_nothing(api: Api) -> None:
    order_id = await api.placed(external_reference="WEB-BAD-PACK", lines=[{"sku": "MUG-001", "quantity": 1}])
    await api.wait_for_status(order_id, "PICKING")
    assert (await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(order_id, "PACKING")
    good = AS_PACKED[0]
    for packages, where in [([], "body.packages"), ([{**good, "weight_grams": 0}], "weight_grams"),
                            ([{**good, "length_mm": -5}], "length_mm"), ([{**good, "height_mm": 3_001}], "height_mm"),
                            ([{**good, "colour": "red"}], "colour"), ([good] * 100, "body.packages"),
                            ([{**good, "container": ""}], "container"), ("two boxes", "body.packages")]:
        response = await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE, json={"packages": packages})
        assert response.status_code == 422, (packages, response.text)
        assert where in response.json()["message"], response.json()["message"]
    order = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
    assert order["status"] == "PACKING" and not any("pack confirmed" in e["message"] for e in order["timeline"])


async def test_packages_no_carrier_takes_send_the_order_back_to_packing_not_cancelled(api: Api) -> None:
    """A slip of the finger (2.5 m, longer than any carrier service takes) must not cancel the
    order: the goods are still at the pack station, so it is packed and reported again."""
    order_id = await api.placed(external_reference="WEB-TOO-LONG", lines=[{"sku": "MUG-001", "quantity": 1}])
    await api.wait_for_status(order_id, "PICKING")
    assert (await api.http.post(f"/orders/{order_id}/pick", headers=WAREHOUSE)).status_code == 200
    await api.wait_for_status(order_id, "PACKING")
    typo = {"length_mm": 2_500, "width_mm": 200, "height_mm": 150, "weight_grams": 900}
    assert (await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE,
                                json={"packages": [typo]})).status_code == 200
    for _ in range(200):
        order = (await api.http.get(f"/orders/{order_id}", headers=OPS)).json()
        if "pack again" in order["timeline"][-1]["message"]:
            break
        await asyncio.sleep(0.05)
    assert order["status"] == "PACKING" and "no carrier takes the packages as reported" in order["timeline"][-1]["message"]
    again = await api.http.post(f"/orders/{order_id}/pack", headers=WAREHOUSE,
                                json={"packages": [{**typo, "length_mm": 250}]})
    assert again.status_code == 200 and again.json()["accepted"] is True, again.text
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    async with api.sessions() as s:
        booked = (await s.execute(select(ShipmentPackage).where(ShipmentPackage.order_id == order_id))).scalars().all()
    assert [(p.length_mm, p.weight_grams) for p in booked] == [(250, 900)]
