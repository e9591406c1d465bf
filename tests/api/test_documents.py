"""An order's documents over HTTP: listed once the shipment is booked, each downloadable;
another channel's order and unknown documents answer 404, the carrier key 403."""

import pypdfium2 as pdfium
import zxingcpp

from tests.api.conftest import CARRIER, CHANNEL, OPS, WAREHOUSE, Api


async def test_documents_of_a_packed_order_are_listed_and_downloadable(api: Api) -> None:
    order_id = await api.placed()
    await api.wait_for_status(order_id, "PICKING")
    listed = await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)
    assert listed.status_code == 200 and listed.json()["documents"] == [] and listed.json()["invoice_number"] is None

    for step in ("pick", "pack"):
        assert (await api.http.post(f"/orders/{order_id}/{step}", headers=WAREHOUSE)).status_code == 200
    order = await api.wait_for_status(order_id, "READY_TO_SHIP")
    tracking = order["shipments"][0]["tracking_number"]
    assert any("invoice" in entry["message"] for entry in order["timeline"])

    listed = await api.http.get(f"/orders/{order_id}/documents", headers=CHANNEL)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["invoice_number"].startswith("INV-")
    by_kind = {(d["kind"], d["filename"].rsplit(".", 1)[1]): d for d in body["documents"]}
    assert set(by_kind) == {("label", "pdf"), ("label", "zpl"), ("invoice", "pdf"), ("packing_slip", "pdf")}

    label = await api.http.get(by_kind["label", "pdf"]["url"], headers=WAREHOUSE)
    assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
    assert f'filename="label-{tracking}.pdf"' in label.headers["content-disposition"]
    assert len(label.content) == by_kind["label", "pdf"]["size"]
    image = pdfium.PdfDocument(label.content)[0].render(scale=200 / 72).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [tracking]

    zpl = await api.http.get(by_kind["label", "zpl"]["url"], headers=OPS)
    assert zpl.status_code == 200 and zpl.headers["content-type"].startswith("application/zpl")
    assert zpl.text.startswith("^XA\n^CI28") and tracking in zpl.text

    invoice = await api.http.get(by_kind["invoice", "pdf"]["url"], headers=CHANNEL)
    assert invoice.status_code == 200 and invoice.content.startswith(b"%PDF")
    text = pdfium.PdfDocument(invoice.content)[0].get_textpage().get_text_range()
    assert body["invoice_number"] in text and "EUR 50.89" in text


async def test_document_refusals(api: Api) -> None:
    order_id = await api.placed()
    other = await api.http.get(f"/orders/{order_id}/documents", headers={"X-API-Key": "nope"})
    assert other.status_code == 401
    carrier = await api.http.get(f"/orders/{order_id}/documents", headers=CARRIER)
    assert carrier.status_code == 403 and "role" in carrier.json()["detail"]
    missing = await api.http.get("/orders/ord_doesnotexist/documents", headers=OPS)
    assert missing.status_code == 404 and "POST /orders" in missing.json()["detail"]
    for bad in ("doc_00000000000000000000", "x" * 300, "doc_%E2%82%AC"):
        response = await api.http.get(f"/orders/{order_id}/documents/{bad}", headers=OPS)
        assert response.status_code == 404, (bad, response.text)
        assert "documents lists them" in response.json()["detail"]
