use super::*;

fn p(s: &str) -> Result<i64, AmountError> {
    Micros::parse(s).map(Micros::get)
}

#[test]
fn parses_what_people_type() {
    assert_eq!(p("$12.50"), Ok(12_500_000));
    assert_eq!(p("12.5"), Ok(12_500_000));
    assert_eq!(p("0.003"), Ok(3_000));
    assert_eq!(p("  7 "), Ok(7_000_000));
    assert_eq!(p("$ 5"), Ok(5_000_000));
    assert_eq!(p(".5"), Ok(500_000));
    assert_eq!(p("1,234.56"), Ok(1_234_560_000));
    assert_eq!(p("$1,234,567"), Ok(1_234_567_000_000));
    assert_eq!(p("0.000001"), Ok(1));
    assert_eq!(p("-3"), Ok(-3_000_000));
    assert_eq!(p("-$0.25"), Ok(-250_000));
    assert_eq!(p("0"), Ok(0));
}

#[test]
fn refuses_text_that_is_not_an_amount() {
    for bad in [
        "abc", "NaN", "nan", "inf", "-inf", "Infinity", "1e5", "0x10", "12.5.1", "$", ".", "-", "1 2", "+-1", "€5",
        "5$",
    ] {
        assert!(matches!(Micros::parse(bad), Err(AmountError::NotANumber(_))), "{bad} should be refused");
    }
    assert_eq!(Micros::parse(""), Err(AmountError::Empty));
    assert_eq!(Micros::parse("   "), Err(AmountError::Empty));
}

#[test]
fn refuses_commas_that_are_not_thousands_separators() {
    for bad in ["12,50", "1,23", "1234,567", ",123", "1,,234", "1.234,5"] {
        assert!(matches!(Micros::parse(bad), Err(AmountError::NotANumber(_))), "{bad} should be refused");
    }
}

#[test]
fn refuses_more_than_six_decimals_and_overflow() {
    assert_eq!(Micros::parse("0.0000001"), Err(AmountError::TooPrecise));
    assert_eq!(Micros::parse("1.1234567"), Err(AmountError::TooPrecise));
    assert_eq!(Micros::parse("9223372036854.775807"), Ok(Micros(i64::MAX)));
    assert_eq!(Micros::parse("9223372036854.775808"), Err(AmountError::TooLarge));
    assert_eq!(Micros::parse("99999999999999999999999999999999"), Err(AmountError::TooLarge));
}

#[test]
fn positive_amounts_refuse_zero_and_negatives() {
    assert_eq!(Micros::parse_positive("0"), Err(AmountError::NotPositive));
    assert_eq!(Micros::parse_positive("0.000"), Err(AmountError::NotPositive));
    assert_eq!(Micros::parse_positive("-1"), Err(AmountError::Negative));
    assert_eq!(Micros::parse_positive("0.01"), Ok(Micros(10_000)));
}

#[test]
fn formats_cents_with_two_places_and_sub_cent_costs_exactly() {
    assert_eq!(Micros(12_500_000).format(), "$12.50");
    assert_eq!(Micros(0).format(), "$0.00");
    assert_eq!(Micros(3_000).format(), "$0.0030");
    assert_eq!(Micros(25_000).format(), "$0.0250");
    assert_eq!(Micros(1_234).format(), "$0.001234");
    assert_eq!(Micros(1).format(), "$0.000001");
    assert_eq!(Micros(12_345_000).format(), "$12.3450");
    assert_eq!(Micros(1_234_567_000_000).format(), "$1,234,567.00");
    assert_eq!(Micros(-500_000).format(), "-$0.50");
    assert_eq!(Micros(i64::MIN).format(), "-$9,223,372,036,854.775808");
    assert_eq!(Micros::from_usd(5).to_string(), "$5.00");
}

#[test]
fn formatting_then_parsing_gives_the_same_amount() {
    for m in [0, 1, 3_000, 12_500_000, 1_234_567_891, -42, i64::MAX, i64::MIN + 1] {
        assert_eq!(Micros::parse(&Micros(m).format()), Ok(Micros(m)), "{m}");
    }
}

#[test]
fn arithmetic_is_checked() {
    assert_eq!(Micros(i64::MAX).checked_add(Micros(1)), None);
    assert_eq!(Micros(i64::MIN).checked_sub(Micros(1)), None);
    assert_eq!(Micros(i64::MAX).checked_mul(2), None);
    assert_eq!(Micros(2).checked_add(Micros(3)), Some(Micros(5)));
    assert_eq!(Micros::from_cents(1234).to_cents_exact(), Some(1234));
    assert_eq!(Micros(3_000).to_cents_exact(), None);
}
