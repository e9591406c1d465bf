"""Shipments of several packages: every package of the packing plan is booked with one carrier
that takes them all, gets its own tracking number in that carrier's format and its own label
("package n of m", its weight, its barcode); without a plan the order ships as one package."""

import re

import pypdfium2 as pdfium
import pytest
import zxingcpp
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.documents import DocumentActivities, Seller
from activities.ports import CarrierRefused, Parcel
from activities.shipping import ShippingActivities
from activities.warehouse import WarehouseActivities
from domain.models import DocumentsRequest, ShipmentRequest
from domain.warehouse import WarehouseRequest
from storage.models import OrderDocument, SandboxCarrierBooking, ShipmentPackage
from storage.queries import shipment_by_tracking_number
from tests.factories import place_order, seed

env = ActivityEnvironment()
SELLER = Seller(name="Orderflow Demo B.V.", address_lines=("Keizersgracht 100", "1015 AA Amsterdam", "NL"),
                vat_number="NL000099998B57", coc_number="12345678")
SIX_LAMPS = [{"sku": "LAMP-200", "quantity": 6}]  # two large boxes: 4 lamps (8.95 kg) and 2 (4.75 kg)
DPD_NUMBER = re.compile(r"^0\d{13}$")


async def _packed_and_booked(sessions, reference: str, **overrides):
    order_id = await place_order(sessions, external_reference=reference, **overrides)
    plan = await env.run(WarehouseActivities(sessions).plan_packing,
                         WarehouseRequest(order_id=order_id, idempotency_key=f"{order_id}:packing-plan"))
    info = await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).book_shipment,
                         ShipmentRequest(order_id=order_id, idempotency_key=f"{order_id}:book"))
    return order_id, plan, info


async def test_a_basket_of_two_boxes_gets_two_tracking_numbers_and_two_labels(sessions) -> None:
    await seed(sessions)
    order_id, plan, info = await _packed_and_booked(sessions, "WEB-PKG-1", lines=SIX_LAMPS)
    assert plan.containers == ["BOX-L", "BOX-L"]
    # PostNL's girth limit (1760 mm) refuses a large box; DPD takes both for 8.95 + 5.25.
    assert (info.carrier, info.service, str(info.price)) == ("dpd", "classic", "14.20")
    assert len(info.package_tracking_numbers) == 2 and len(set(info.package_tracking_numbers)) == 2
    assert info.package_tracking_numbers[0] == info.tracking_number
    assert all(DPD_NUMBER.match(n) for n in info.package_tracking_numbers), info.package_tracking_numbers
    assert "2 packages" in info.choice_reason
    async with sessions() as s:
        rows = (await s.execute(select(ShipmentPackage).where(ShipmentPackage.order_id == order_id)
                                .order_by(ShipmentPackage.package_number))).scalars().all()
        booked = (await s.execute(select(SandboxCarrierBooking.tracking_number))).scalars().all()
        # either package's number finds the shipment (carrier events name any of them)
        for number in info.package_tracking_numbers:
            assert (await shipment_by_tracking_number(s, number)).id == info.shipment_id
    assert [(r.package_number, r.package_count, r.container, r.weight_grams) for r in rows] == [
        (1, 2, "BOX-L", 8_950), (2, 2, "BOX-L", 4_750)]
    assert sorted(booked) == sorted(info.package_tracking_numbers)

    result = await env.run(DocumentActivities(sessions, SELLER).create_order_documents,
                           DocumentsRequest(order_id=order_id, idempotency_key=f"{order_id}:documents"))
    async with sessions() as s:
        docs = {d.filename: d for d in (await s.execute(
            select(OrderDocument).where(OrderDocument.order_id == order_id))).scalars()}
    assert len(result.document_ids) == len(docs) == 6  # 2 × (PDF + ZPL), packing slip, invoice
    for n, (number, weight) in enumerate(zip(info.package_tracking_numbers, ("8.95 kg", "4.75 kg")), start=1):
        page = pdfium.PdfDocument(docs[f"label-{number}.pdf"].content)[0]
        text = page.get_textpage().get_text_range()
        assert f"Package {n} of 2" in text and weight in text and number in text
        codes = [(r.text, r.format.name) for r in zxingcpp.read_barcodes(page.render(scale=200 / 72).to_pil())]
        assert codes == [(number, "Code128")]
        zpl = docs[f"label-{number}.zpl"].content.decode()
        assert f"Package {n} of 2" in zpl and f"^FD{number}^FS" in zpl
    slip = pdfium.PdfDocument(docs[f"packing-slip-{order_id}.pdf"].content)[0].get_textpage().get_text_range()
    assert all(number in slip for number in info.package_tracking_numbers)


async def test_without_a_packing_plan_the_order_is_one_package(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, lines=SIX_LAMPS)
    info = await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).book_shipment,
                         ShipmentRequest(order_id=order_id, idempotency_key="k"))
    assert info.package_tracking_numbers == [] and info.all_tracking_numbers() == [info.tracking_number]
    async with sessions() as s:
        rows = (await s.execute(select(ShipmentPackage).where(ShipmentPackage.order_id == order_id))).scalars().all()
    assert [(r.tracking_number, r.package_number, r.package_count, r.container) for r in rows] == [
        (info.tracking_number, 1, 1, None)]


async def test_a_named_carrier_that_cannot_take_every_package_falls_back(sessions) -> None:
    await seed(sessions)
    _, _, info = await _packed_and_booked(sessions, "WEB-PKG-2", lines=SIX_LAMPS,
                                          shipping={"preference": "named", "carrier": "postnl"})
    assert info.carrier == "dpd" and len(info.package_tracking_numbers) == 2
    assert info.choice_reason.startswith("postnl cannot take")


async def test_a_refusing_carrier_moves_a_shipment_of_packages_to_the_next(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(sessions, lines=SIX_LAMPS)
    await env.run(WarehouseActivities(sessions).plan_packing, WarehouseRequest(order_id=order_id, idempotency_key="p"))
    gateway = SandboxCarrierGateway(sessions, refuse_carriers=frozenset({"dpd"}))
    info = await env.run(ShippingActivities(sessions, gateway).book_shipment,
                         ShipmentRequest(order_id=order_id, idempotency_key="k"))
    assert (info.carrier, info.service) == ("dhl", "parcel")
    assert all(re.match(r"^JVGL\d{16}$", n) for n in info.package_tracking_numbers)
    assert info.choice_reason.startswith("dpd refused the booking")


async def test_the_carrier_checks_every_package(sessions) -> None:
    gateway = SandboxCarrierGateway(sessions)
    small = Parcel(weight_grams=2_000, length_mm=300, width_mm=200, height_mm=150, country="NL", postcode="1012 LG")
    heavy = small.model_copy(update={"weight_grams": 25_000})
    # PostNL takes 23 kg a package: a shipment with one heavier package is refused whole...
    with pytest.raises(CarrierRefused, match=r"postnl/standard cannot take package 2 of 2 \(25000 g"):
        await gateway.book(carrier="postnl", service="standard", parcels=[small, heavy], idempotency_key="x")
    # ...and not offered; DHL takes both, and its price is the sum of both packages'.
    rates = {(r.carrier, r.service): r.price for r in await gateway.rates([small, heavy])}
    assert ("postnl", "standard") not in rates and str(rates["dhl", "parcel"]) == "15.70"
    booking = await gateway.book(carrier="dhl", service="parcel", parcels=[small, heavy], idempotency_key="y")
    again = await gateway.book(carrier="dhl", service="parcel", parcels=[small, heavy], idempotency_key="y")
    assert again == booking and len(booking.package_tracking_numbers) == 2
    await gateway.cancel(tracking_numbers=booking.package_tracking_numbers, idempotency_key="c")
    async with sessions() as s:
        statuses = (await s.execute(select(SandboxCarrierBooking.status))).scalars().all()
    assert statuses == ["CANCELLED", "CANCELLED"]


async def test_cancelling_a_shipment_cancels_every_package(sessions) -> None:
    await seed(sessions)
    order_id, _, info = await _packed_and_booked(sessions, "WEB-PKG-3", lines=SIX_LAMPS)
    cancelled = await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).cancel_shipment,
                              ShipmentRequest(order_id=order_id, idempotency_key="c"))
    assert cancelled.status == "CANCELLED" and cancelled.package_tracking_numbers == info.package_tracking_numbers
    async with sessions() as s:
        carrier = (await s.execute(select(SandboxCarrierBooking.status))).scalars().all()
        ours = (await s.execute(select(ShipmentPackage.status))).scalars().all()
    assert carrier == ours == ["CANCELLED", "CANCELLED"]
