//! Money as integers: micro-USD (1 USD = 1,000,000 micros), shared by server and browser.
//!
//! `rust_decimal` is used only at the edges: reading what a person typed and writing
//! what they read. Arithmetic is checked `i64` and never silently wraps.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of money in micro-USD. May be negative (an adjustment, a signed total).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Micros(pub i64);

pub const MICROS_PER_USD: i64 = 1_000_000;
const MICROS_PER_CENT: i64 = 10_000;

/// Why a text is not an amount. The message is written for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("Enter an amount.")]
    Empty,
    #[error("\"{0}\" is not an amount. Use digits, e.g. 12.50.")]
    NotANumber(String),
    #[error("Amounts have at most 6 decimal places.")]
    TooPrecise,
    #[error("That amount is too large.")]
    TooLarge,
    #[error("The amount must not be negative.")]
    Negative,
    #[error("The amount must be more than zero.")]
    NotPositive,
}

impl Micros {
    pub const ZERO: Self = Self(0);

    pub const fn from_usd(dollars: i64) -> Self {
        Self(dollars * MICROS_PER_USD)
    }

    pub const fn from_cents(cents: i64) -> Self {
        Self(cents * MICROS_PER_CENT)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// Dollars as a JSON number, for answers that show both it and the exact micros.
    /// Never computed with: money stays integers.
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / MICROS_PER_USD as f64
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Self> {
        self.0.checked_mul(factor).map(Self)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Whole cents, for payment providers that count in cents. `None` when the amount
    /// has a fraction of a cent.
    pub fn to_cents_exact(self) -> Option<i64> {
        (self.0 % MICROS_PER_CENT == 0).then_some(self.0 / MICROS_PER_CENT)
    }

    /// Reads an amount a person typed: "$12.50", "12.5", "0.003", "1,234.56", "-3".
    /// Commas are accepted only as thousands separators, so "12,50" is refused rather
    /// than read as twelve hundred.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(AmountError::Empty);
        }
        let (negative, rest) = match t.strip_prefix('-') {
            Some(r) => (true, r.trim_start()),
            None => (false, t),
        };
        let rest = rest.strip_prefix('$').unwrap_or(rest).trim_start();
        let digits = strip_thousands(rest).ok_or_else(|| AmountError::NotANumber(t.to_string()))?;
        let well_formed = !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.matches('.').count() <= 1
            && digits.chars().any(|c| c.is_ascii_digit());
        if !well_formed {
            return Err(AmountError::NotANumber(t.to_string()));
        }
        if digits.split_once('.').is_some_and(|(_, frac)| frac.len() > 6) {
            return Err(AmountError::TooPrecise);
        }
        let value = Decimal::from_str_exact(&digits).map_err(|_| AmountError::TooLarge)?;
        let micros = value.checked_mul(Decimal::from(MICROS_PER_USD)).ok_or(AmountError::TooLarge)?;
        let micros = i64::try_from(micros).map_err(|_| AmountError::TooLarge)?;
        Ok(Self(if negative { -micros } else { micros }))
    }

    /// Like [`Micros::parse`], for amounts that must be more than zero.
    pub fn parse_positive(text: &str) -> Result<Self, AmountError> {
        let m = Self::parse(text)?;
        if m.is_negative() {
            Err(AmountError::Negative)
        } else if m.0 == 0 {
            Err(AmountError::NotPositive)
        } else {
            Ok(m)
        }
    }

    /// The one way amounts are written: "$12.50", "$1,234.00", "-$0.50"; amounts with a
    /// fraction of a cent get at least four decimals ("$0.0030") and as many more as
    /// needed to be exact ("$0.001234").
    pub fn format(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let dollars = abs / MICROS_PER_USD as u64;
        let frac = abs % MICROS_PER_USD as u64;
        let mut frac_text = format!("{frac:06}");
        let min_places = if frac.is_multiple_of(MICROS_PER_CENT as u64) { 2 } else { 4 };
        while frac_text.len() > min_places && frac_text.ends_with('0') {
            frac_text.pop();
        }
        format!("{sign}${}.{frac_text}", group_thousands(dollars))
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

impl FromStr for Micros {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Removes thousands separators when they are where they belong ("1,234,567.5");
/// `None` when a comma is anywhere else.
fn strip_thousands(s: &str) -> Option<String> {
    if !s.contains(',') {
        return Some(s.to_string());
    }
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let first_ok = (1..=3).contains(&groups[0].len());
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    if !first_ok || !rest_ok || frac.is_some_and(|f| f.contains(',')) {
        return None;
    }
    let mut out = groups.concat();
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
