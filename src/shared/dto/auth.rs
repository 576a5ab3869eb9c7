//! Wire types for auth: shared by the browser, the server functions and the services.

use crate::shared::money::Micros;
use serde::{Deserialize, Serialize};

/// The signed-in person as the header and pages show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub email: String,
    pub is_admin: bool,
    /// What can be spent now.
    pub available: Micros,
    pub reserved: Micros,
    /// Credits taken back by a refund or dispute after they were spent: paid first out of
    /// the next credits; no new work until then.
    pub owed: Micros,
    /// A postpaid account's credit limit (zero when prepaid) and what is drawn on it.
    pub credit_limit: Micros,
    pub credit_used: Micros,
    /// The available balance is under the low-balance threshold.
    pub low_balance: bool,
    /// Where the low-balance warning starts.
    pub low_balance_threshold: Micros,
    /// The "Get started" dialog is still to be shown.
    pub onboarding: bool,
    /// The number of the wallet's latest money event when this was read: the live balance
    /// follows the events after it.
    pub event_seq: i64,
    /// The team whose wallet the figures above are (chosen in the header); `None`: the
    /// person's own.
    #[serde(default)]
    pub team: Option<crate::shared::dto::teams::TeamSummary>,
    /// The teams the person may switch to.
    #[serde(default)]
    pub teams: Vec<crate::shared::dto::teams::TeamSummary>,
    /// How many calls the wallet may have going at once, and how that grows.
    #[serde(default)]
    pub calls_at_once: CallsAtOnce,
}

impl AccountSummary {
    /// Whether `available` (the balance as now known) is under the low-balance threshold;
    /// a postpaid account spends on credit and is never warned. As the server decides
    /// `low_balance`, for figures newer than it.
    pub fn is_low(&self, available: Micros) -> bool {
        available < self.low_balance_threshold && !self.credit_limit.is_positive()
    }
}

/// A wallet's limit on calls in flight: by what its buyers paid, or set by an
/// administrator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallsAtOnce {
    pub max: i64,
    pub set_by_admin: bool,
    /// The next tier: from how much paid in all, how many at once.
    pub next: Option<(Micros, u32)>,
}

impl CallsAtOnce {
    /// One line for the Balance tab, e.g. "Up to 2 calls at once; 10 from $10.00 paid in all."
    pub fn describe(&self) -> String {
        let runs = if self.max == 1 { "1 generation".to_string() } else { format!("{} generations", self.max) };
        match (self.set_by_admin, self.next) {
            (true, _) => format!("You can run {runs} at a time (set for this wallet)."),
            (false, Some((from, n))) => format!(
                "You can run {runs} at a time. Once purchases for this wallet add up to {}, you can run {n}.",
                from.format()
            ),
            (false, None) => format!("You can run {runs} at a time."),
        }
    }
}

/// Where to go after signing in: only a path on this site, never another site. Browsers
/// ignore tabs and newlines in addresses and read `\\` as `/`, so any of those, or any
/// other control character, anywhere in the path sends the person to the default page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 512 =>
        {
            n.to_string()
        }
        _ => "/credits".to_string(),
    }
}

/// Percent-encodes `s` for a query value, keeping `/` so local paths stay readable
/// (`next=/studio%3Fmodel%3Dflux`).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/settings/api-tokens")), "/settings/api-tokens");
        assert_eq!(safe_next(Some("https://evil.example")), "/credits");
        assert_eq!(safe_next(Some("//evil.example")), "/credits");
        assert_eq!(safe_next(Some("/\\evil.example")), "/credits");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/credits");
        assert_eq!(safe_next(Some("/\t\\evil.example")), "/credits");
        assert_eq!(safe_next(Some("/credits\r\nSet-Cookie: x=y")), "/credits");
        assert_eq!(safe_next(Some("/a/b\\c")), "/credits");
        assert_eq!(safe_next(None), "/credits");
    }
}
