//! Server functions, grouped by the page that uses them. Each one is a public HTTP
//! endpoint and checks who is calling itself.

pub mod auth;
pub mod credits;
pub mod keys;
pub mod payments;
pub mod purchases;
pub mod status;
pub mod studio;
pub mod teams;
pub mod tokens;
pub mod usage;
pub mod webhooks;

/// A whole number a server function received as text, within `range`. Numbers arrive as
/// text so that one that cannot be read is refused naming its field (422), like any other
/// bad input, instead of failing before the function runs.
#[cfg(feature = "ssr")]
pub(crate) fn whole_number(
    field: &str,
    raw: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, crate::shared::error::AppError> {
    raw.trim().parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        crate::shared::error::AppError::validation(
            field,
            format!("{field} must be a whole number from {} to {}.", range.start(), range.end()),
        )
    })
}
