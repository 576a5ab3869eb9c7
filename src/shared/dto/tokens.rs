//! Wire types for tokens: shared by the browser, the server functions and the services.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    /// The first characters of the token, enough to recognise it.
    pub display_prefix: String,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    /// The team whose wallet the token's calls pay from (id and name); `None`: the owner's.
    #[serde(default)]
    pub team: Option<(String, String)>,
}

/// A token just made: the secret is in this answer and nowhere else, ever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub secret: String,
    pub info: TokenInfo,
}
