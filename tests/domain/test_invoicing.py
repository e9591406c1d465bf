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


def test_a_discount_comes_off_each_rate_in_proportion_with_its_vat() -> None:
    from domain.invoicing import discount_shares

    # The factory order: 2 mugs 25.90 (21 %, VAT 4.50) and a book 24.99 (9 %, VAT 2.06); 10 % off.
    lines = [invoice_line("MUG-001", "mug", 2, D("12.95"), D("21")), invoice_line("BOOK-042", "book", 1, D("24.99"), D("9"))]
    totals = invoice_totals(lines, D("5.09"))
    by_rate = {b.rate: (b.discount, b.discount_vat, b.gross, b.vat, b.net) for b in totals.per_rate}
    # 5.09 × 25.90/50.89 = 2.5905 → 2.59, the book's share the rest: 2.50; VAT inside: 0.45 and 0.21
    assert by_rate == {D("21"): (D("2.59"), D("0.45"), D("23.31"), D("4.05"), D("19.26")),
                       D("9"): (D("2.50"), D("0.21"), D("22.49"), D("1.85"), D("20.64"))}
    assert (totals.discount, totals.gross, totals.vat, totals.net, totals.goods) == (
        D("5.09"), D("45.80"), D("5.90"), D("39.90"), D("50.89"))
    assert totals.net + totals.vat == totals.gross

    # Shares always add up to the discount to the cent; a tie goes to the higher rate.
    for discount in (D("0.01"), D("0.02"), D("0.03"), D("1.00"), D("33.33"), D("99.99")):
        shares = discount_shares({D("21"): D("33.33"), D("9"): D("33.33"), D("0"): D("33.34")}, discount)
        assert sum(shares.values()) == discount and all(v >= 0 for v in shares.values())
    assert discount_shares({D("21"): D("10.00"), D("9"): D("10.00")}, D("0.01")) == {D("21"): D("0.01"), D("9"): D("0.00")}
    # Never more than the goods: a discount above them takes them to zero.
    everything = invoice_totals(lines, D("80.00"))
    assert (everything.gross, everything.vat, everything.discount) == (D("0.00"), D("0.00"), D("50.89"))
    assert invoice_totals(lines) == invoice_totals(lines, D("0.00"))
