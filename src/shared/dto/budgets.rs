//! Wire types for budgets: a spending limit per window on an API token, a team member or
//! a team.

use serde::{Deserialize, Serialize};

use crate::shared::money::Micros;
use crate::shared::text_enum::text_enum;

text_enum! {
    /// The window a budget's limit is for. Windows are in UTC.
    pub enum BudgetPeriod {
        /// From midnight UTC.
        Day = "day",
        /// From Monday, midnight UTC.
        Week = "week",
        /// From the 1st of the month, midnight UTC.
        Month = "month",
        /// Never resets.
        Total = "total",
    }
}

text_enum! {
    /// What a budget limits.
    pub enum BudgetScope {
        Token = "token",
        Member = "member",
        Team = "team",
    }
}

impl BudgetScope {
    /// The name a refusal gives the limit it hit (`"limit":"token_budget"`).
    pub fn limit_name(self) -> &'static str {
        match self {
            Self::Token => "token_budget",
            Self::Member => "member_budget",
            Self::Team => "team_budget",
        }
    }
}

/// A budget as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub id: String,
    pub scope: BudgetScope,
    /// The token id; `<team id>:<user id>`; or the team id.
    pub subject: String,
    pub limit: Micros,
    pub period: BudgetPeriod,
    /// Spent (and held for calls under way) in the current window.
    pub spent: Micros,
    pub window_start_ms: i64,
    /// When the window resets; `None` for a total.
    pub resets_at_ms: Option<i64>,
}
