//! The one error type shared by the server, server functions and the browser.
//!
//! Each variant is something a user (or an API client) can act on. Internal causes are
//! logged on the server with their context and reach the browser only as `Internal`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("You do not have access to this.")]
    Forbidden,
    #[error("{what} was not found.")]
    NotFound { what: String },
    /// Input that was refused; nothing was changed. `field` names the form field or
    /// API parameter so the message can be shown next to it; `also` has the other fields
    /// of the same form that were refused with it (an empty sign-up form: both).
    #[error("{message}")]
    Validation {
        field: String,
        message: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<FieldProblem>,
    },
    #[error("{message}")]
    Conflict { message: String },
    #[error(
        "Insufficient credits: this needs {} and {} is available.",
        crate::shared::money::Micros(*.needed_micros),
        crate::shared::money::Micros(*.available_micros)
    )]
    InsufficientCredits { needed_micros: i64, available_micros: i64 },
    /// A budget (`limit`: `member_budget`, `team_budget` or `token_budget`) has too little
    /// left in its window for this; `message` says which and when it resets.
    #[error("{message}")]
    OverBudget {
        limit: String,
        message: String,
        needed_micros: i64,
        limit_micros: i64,
        spent_micros: i64,
        resets_at_ms: Option<i64>,
    },
    /// An AI provider failed or refused the call; nothing was charged.
    #[error("{message}")]
    Provider { message: String },
    /// The wallet has as many calls going as it may (`limit`: `concurrency`); `message`
    /// says how many, and how the limit grows.
    #[error("{message}")]
    TooManyCalls { limit: String, message: String, in_flight: i64, max_in_flight: i64, retry_after_secs: u64 },
    #[error("Too many requests. Please wait {retry_after_secs} seconds and try again.")]
    RateLimited { retry_after_secs: u64 },
    /// The server could not be reached, or its answer could not be read (browser side).
    #[error("Could not reach Tollgate. Check your connection and try again.")]
    Network,
    #[error("Something went wrong on our side. Nothing was charged; please try again.")]
    Internal,
}

/// Another field refused with the first (see [`AppError::Validation`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl AppError {
    /// The message for `field`, when this refused it (as the first field or another).
    pub fn field_message(&self, name: &str) -> Option<&str> {
        match self {
            Self::Validation { field, message, .. } if field == name => Some(message),
            Self::Validation { also, .. } => also.iter().find(|p| p.field == name).map(|p| p.message.as_str()),
            _ => None,
        }
    }

    /// Both refusals as one: `self`'s field first, then `other`'s. Either being no
    /// validation error, that one wins (it is not about the input).
    pub fn and(self, other: AppError) -> AppError {
        match (self, other) {
            (Self::Validation { field, message, mut also }, Self::Validation { field: f, message: m, also: more }) => {
                also.push(FieldProblem { field: f, message: m });
                also.extend(more);
                Self::Validation { field, message, also }
            }
            (Self::Validation { .. }, other) => other,
            (first, _) => first,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into(), also: Vec::new() }
    }

    /// The HTTP status this error is answered with, by the JSON API and during SSR.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound { .. } => 404,
            Self::Validation { .. } => 422,
            Self::Conflict { .. } => 409,
            Self::InsufficientCredits { .. } | Self::OverBudget { .. } => 402,
            Self::Provider { .. } => 502,
            Self::RateLimited { .. } | Self::TooManyCalls { .. } => 429,
            Self::Network => 503,
            Self::Internal => 500,
        }
    }

    /// A short title for error pages.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Unauthorized => "Sign in required",
            Self::Forbidden => "Access denied",
            Self::NotFound { .. } => "Page not found",
            Self::Validation { .. } => "Check your input",
            Self::Conflict { .. } => "Already done",
            Self::InsufficientCredits { .. } => "Not enough credits",
            Self::OverBudget { .. } => "Budget reached",
            Self::Provider { .. } => "Provider problem",
            Self::RateLimited { .. } => "Slow down",
            Self::TooManyCalls { .. } => "Too many calls at once",
            Self::Network => "Connection problem",
            Self::Internal => "Something went wrong",
        }
    }

    /// Seconds to wait before trying again, for answers that say so (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } | Self::TooManyCalls { retry_after_secs, .. } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// Logs an internal failure with its context on the server and returns the opaque
    /// `Internal` error for the caller. The cause never leaves the server.
    #[cfg(feature = "ssr")]
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(context, error = %cause, "internal error");
        Self::Internal
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server, a body that could not be decoded (not UTF-8, say) is the
            // caller's malformed request.
            ServerFnErrorErr::Deserialization(msg) if cfg!(feature = "ssr") => {
                Self::validation("request", format!("The request could not be read: {msg}"))
            }
            // Transport problems seen by the browser.
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) | ServerFnErrorErr::Deserialization(_) => {
                Self::Network
            }
            // Arguments the server could not read: the caller sent something malformed.
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::MissingArg(msg) => {
                Self::validation("request", format!("The request could not be read: {msg}"))
            }
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_statuses_clients_expect() {
        assert_eq!(AppError::Unauthorized.status_code(), 401);
        assert_eq!(AppError::not_found("Gift code").status_code(), 404);
        assert_eq!(AppError::validation("amount", "too small").status_code(), 422);
        let broke = AppError::InsufficientCredits { needed_micros: 3_000, available_micros: 0 };
        assert_eq!(broke.status_code(), 402);
        assert_eq!(AppError::Internal.status_code(), 500);
    }

    #[test]
    fn errors_round_trip_through_json_with_a_kind_tag() {
        let err = AppError::validation("amount", "Enter at least $5.00");
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(json, r#"{"kind":"validation","field":"amount","message":"Enter at least $5.00"}"#);
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), err);
    }

    #[test]
    fn a_form_refused_on_two_fields_names_both() {
        let both = AppError::validation("email", "Enter your email address.")
            .and(AppError::validation("password", "Use at least 8 characters."));
        assert_eq!(both.field_message("email"), Some("Enter your email address."));
        assert_eq!(both.field_message("password"), Some("Use at least 8 characters."));
        assert_eq!(both.field_message("next"), None);
        let json = serde_json::to_value(&both).unwrap();
        assert_eq!(json["also"][0]["field"], "password");
        // One field: the answer is as it always was.
        let one = serde_json::to_value(AppError::validation("email", "x")).unwrap();
        assert_eq!(one, serde_json::json!({ "kind": "validation", "field": "email", "message": "x" }));
        assert_eq!(serde_json::from_value::<AppError>(one).unwrap(), AppError::validation("email", "x"));
        // Anything but a refusal of the input wins.
        assert_eq!(AppError::validation("email", "x").and(AppError::Internal), AppError::Internal);
    }

    #[test]
    fn internal_errors_say_nothing_about_their_cause() {
        assert!(!AppError::Internal.to_string().to_lowercase().contains("sql"));
        let err = AppError::from_server_fn_error(ServerFnErrorErr::ServerError("db password wrong".into()));
        assert_eq!(err, AppError::Internal);
    }
}
