"""Names and addresses in any script on the documents: Japanese, Korean, Chinese, Arabic and
Hebrew print with embedded fonts that cover them (checked in the PDF with pdfium), Arabic is
joined and right-to-left runs are in visual order with their numbers left to right, and
the label still scans."""

import ctypes
import time
import unicodedata

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import zxingcpp
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.adapters.sandbox_carrier import SandboxCarrierGateway
from activities.document_text import layout
from activities.documents import DocumentActivities, LabelData, Seller, render_label_pdf
from activities.shipping import ShippingActivities
from domain.models import DocumentsRequest, ShipmentRequest
from storage.models import OrderDocument
from tests.factories import place_order, seed

env = ActivityEnvironment()
SELLER = Seller(name="Orderflow Demo B.V.", address_lines=("Keizersgracht 100", "1015 AA Amsterdam", "NL"),
                vat_number="NL000099998B57", coc_number="12345678")


def _fonts(page: pdfium.PdfPage) -> dict[str, bool]:
    """Base font name (without the subset tag) → embedded, for every text object on the page."""
    fonts = {}
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
        font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
        name = ctypes.create_string_buffer(256)
        pdfium_c.FPDFFont_GetBaseFontName(font, name, 256)
        fonts[name.value.decode().split("+")[-1]] = bool(pdfium_c.FPDFFont_GetIsEmbedded(font))
    return fonts


def _label(lines: tuple[str, ...], country: str) -> bytes:
    return render_label_pdf(LabelData(
        sender=SELLER, recipient_lines=lines, carrier="dhl", service="parcel", tracking_number="JVGL0612345678901234",
        package_number=1, package_count=1, weight_grams=1500, order_id="ord_script", country=country))


def test_a_japanese_name_in_tokyo_prints_with_an_embedded_japanese_font() -> None:
    _label(("山田太郎",), "JP")  # fonts are loaded once per process
    started = time.perf_counter()
    pdf = _label(("山田太郎", "千代田区丸の内 1-1", "100-0001 東京都", "JP"), "JP")
    elapsed = time.perf_counter() - started
    page = pdfium.PdfDocument(pdf)[0]
    text = page.get_textpage().get_text_range()
    for expected in ("山田太郎", "千代田区丸の内 1-1", "100-0001 東京都", "JVGL0612345678901234"):
        assert expected in text, expected
    fonts = _fonts(page)
    assert fonts.keys() >= {"NotoSans-Regular", "NotoSansJP-Thin"} and all(fonts.values()), fonts
    assert [r.text for r in zxingcpp.read_barcodes(page.render(scale=200 / 72).to_pil())] == ["JVGL0612345678901234"]
    print(f"Japanese label: {elapsed * 1000:.1f} ms, {len(pdf)} bytes")


def test_korean_and_chinese_take_their_own_fonts() -> None:
    page = pdfium.PdfDocument(_label(("김민준", "세종대로 110", "04524 서울"), "KR"))[0]
    assert "김민준" in page.get_textpage().get_text_range() and _fonts(page).get("NotoSansKR-Thin") is True
    page = pdfium.PdfDocument(_label(("王小明", "北京市朝阳区"), "CN"))[0]
    assert "王小明" in page.get_textpage().get_text_range() and _fonts(page).get("NotoSansSC-Thin") is True
    # The same Han characters go to Taiwan in the traditional forms' font.
    assert _fonts(pdfium.PdfDocument(_label(("王小明",), "TW"))[0]).get("NotoSansTC-Thin") is True


def test_an_arabic_name_is_joined_right_to_left_and_embedded() -> None:
    page = pdfium.PdfDocument(_label(("محمد", "شارع الملك فهد 12", "11564 الرياض", "SA"), "SA"))[0]
    assert "محمد" in page.get_textpage().get_text_range()
    fonts = _fonts(page)
    assert fonts.get("NotoSansArabic-Regular") is True and all(fonts.values()), fonts

    # Drawn in visual order, in the joined forms (initial, medial, final), not the isolated letters.
    (run,) = layout("محمد", 12)
    assert [unicodedata.name(c) for c in run.text] == [
        "ARABIC LETTER DAL FINAL FORM", "ARABIC LETTER MEEM MEDIAL FORM", "ARABIC LETTER HAH MEDIAL FORM",
        "ARABIC LETTER MEEM INITIAL FORM"]
    # A right-to-left line: the street name to the right of its number, the number left to right.
    street = layout("شارع الملك فهد 12", 12)
    assert [(r.font.name, r.level) for r in street] == [("NotoSans", 2), ("NotoSansArabic", 1)]
    assert street[0].text == "12"
    clusters = [d.cluster for d in street[1].text.__shapeData__]  # logical index of each glyph drawn
    assert clusters == sorted(clusters, reverse=True) and set(clusters) >= {0, 14}  # last letter first
    # A left-to-right line keeps a name in Arabic script in its place.
    mixed = layout("Customer: محمد (VIP)", 12)
    assert [r.font.name for r in mixed] == ["NotoSans", "NotoSansArabic", "NotoSans"]
    assert unicodedata.normalize("NFKC", mixed[1].text).strip() == "دمحم"


def test_a_hebrew_address_reads_right_to_left() -> None:
    page = pdfium.PdfDocument(_label(("דוד כהן", "רחוב הרצל 12", "6100000 תל אביב", "IL"), "IL"))[0]
    text = page.get_textpage().get_text_range()
    assert "דוד כהן" in text and "רחוב הרצל 12" in text
    assert _fonts(page).get("NotoSansHebrew-Thin") is True
    line = layout("רחוב הרצל 12", 12)
    assert [r.text for r in line] == ["12", " לצרה בוחר"]  # visual order, left to right


def test_plain_latin_lines_stay_one_run_in_noto_sans() -> None:
    assert [(r.font.name, r.text) for r in layout("Anna de Vries", 12)] == [("NotoSans", "Anna de Vries")]
    assert [(r.font.name, r.text) for r in layout("Юлия Łódź-Ελένη", 12)] == [("NotoSans", "Юлия Łódź-Ελένη")]


async def test_invoice_and_packing_slip_print_a_japanese_customer(sessions) -> None:
    await seed(sessions)
    order_id = await place_order(
        sessions, external_reference="WEB-JP-1",
        customer={"id": "c-jp", "name": "山田太郎", "email": "taro@example.jp", "locale": "en",
                  "notification_channels": ["email"]},
        shipping_address={"country": "JP", "street": "丸の内", "house_number": "1-1", "postcode": "100-0001",
                          "city": "東京都千代田区"})
    await env.run(ShippingActivities(sessions, SandboxCarrierGateway(sessions)).book_shipment,
                  ShipmentRequest(order_id=order_id, idempotency_key="book"))
    await env.run(DocumentActivities(sessions, SELLER).create_order_documents,
                  DocumentsRequest(order_id=order_id, idempotency_key="documents"))
    async with sessions() as s:
        docs = (await s.execute(select(OrderDocument).where(OrderDocument.order_id == order_id,
                                                            OrderDocument.content_type == "application/pdf"))).scalars()
        for doc in docs:
            page = pdfium.PdfDocument(doc.content)[0]
            text = page.get_textpage().get_text_range()
            assert "山田太郎" in text and "東京都千代田区" in text, doc.filename
            assert _fonts(page).get("NotoSansJP-Thin") is True, doc.filename
