"""Invoice arithmetic: VAT per rate from the lines' snapshots, exact to the cent."""

from decimal import Decimal

from domain.invoicing import invoice_line, invoice_reference, invoice_totals

D = Decimal


def test_vat_per_rate_and_totals_from_vat_inclusive_prices() -> None:
    lines = [
        invoice_line("MUG-001", "mug", 2, D("12.95"), D("21")),   # 25.90 incl., VAT 4.50
        invoice_line("LAMP-200", "lamp", 1, D("49.00"), D("21")),  # 49.00 incl., VAT 8.50
        invoice_line("BOOK-042", "book", 1, D("24.99"), D("9")),   # 24.99 incl., VAT 2.06
        invoice_line("TEA-100", "tea", 3, D("6.49"), D("9")),      # 19.47 incl., VAT 1.61
        invoice_line("GIFT-1", "gift card", 1, D("25.00"), D("0")),
    ]
    assert [(l.line_total, l.vat_amount) for l in lines] == [
        (D("25.90"), D("4.50")), (D("49.00"), D("8.50")), (D("24.99"), D("2.06")), (D("19.47"), D("1.61")),
        (D("25.00"), D("0.00"))]
    totals = invoice_totals(lines)
    by_rate = {b.rate: (b.net, b.vat, b.gross) for b in totals.per_rate}
    assert by_rate == {
        D("21"): (D("61.90"), D("13.00"), D("74.90")),
        D("9"): (D("40.79"), D("3.67"), D("44.46")),
        D("0"): (D("25.00"), D("0.00"), D("25.00")),
    }
    assert [b.rate for b in totals.per_rate] == [D("21"), D("9"), D("0")]
    assert (totals.net, totals.vat, totals.gross) == (D("127.69"), D("16.67"), D("144.36"))
    assert totals.net + totals.vat == totals.gross
    assert all(isinstance(v, Decimal) for v in (totals.net, totals.vat, totals.gross))


def test_vat_is_the_sum_of_the_rounded_line_snapshots_not_recomputed() -> None:
    # Three lines of 0.05 at 21 %: each line's VAT rounds to 0.01, so the invoice says 0.03
    # (what the order and the payment were computed with), not 0.15 * 21/121 = 0.03 by luck.
    lines = [invoice_line(f"S{i}", "s", 1, D("0.05"), D("21")) for i in range(3)]
    assert [l.vat_amount for l in lines] == [D("0.01")] * 3
    totals = invoice_totals(lines)
    assert totals.vat == D("0.03")
    assert totals.gross == D("0.15")
    # Rates given as 21.00 (from a Numeric column) and 21 are the same rate.
    mixed = invoice_totals([invoice_line("A", "a", 1, D("1.21"), D("21.00")), invoice_line("B", "b", 1, D("1.21"), D("21"))])
    assert len(mixed.per_rate) == 1 and mixed.vat == D("0.42")


def test_empty_invoice_is_zero() -> None:
    totals = invoice_totals([])
    assert (totals.net, totals.vat, totals.gross, totals.per_rate) == (D("0.00"), D("0.00"), D("0.00"), [])


def test_reference_shows_year_and_gap_free_number() -> None:
    assert invoice_reference(7, 2026) == "INV-2026-000007"
