//! Endpoint ids: the provider model paths callers name, such as `fal-ai/flux/schnell` or
//! `openrouter/openai/gpt-4o-mini`.
//!
//! An endpoint id becomes part of the URL a provider key is sent to, so it is parsed into
//! this type wherever it enters (the JSON API, the Studio, the pricing API, the admin
//! CLI, the price catalog) and nothing but a parsed id is ever placed under a provider's
//! base URL. The rules leave no way to name another host or climb out of the base path:
//! two or more parts separated by `/`, each of ASCII letters, digits, `.`, `_` and `-`,
//! none empty, none `.` or `..`; no scheme, no `%` escapes, at most 200 characters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::shared::error::AppError;

/// The longest endpoint id accepted.
pub const MAX_LEN: usize = 200;

/// A provider model path that passed [`EndpointId::parse`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndpointId(String);

/// Why a text is not an endpoint id (shown to the caller under `endpoint_id`).
fn refuse(message: impl Into<String>) -> AppError {
    AppError::validation("endpoint_id", message)
}

impl EndpointId {
    /// Reads an endpoint id, refusing anything that is not a plain model path; the error
    /// names the field `endpoint_id`.
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        if raw.is_empty() {
            return Err(refuse("Name the endpoint, e.g. fal-ai/flux/schnell."));
        }
        if raw.len() > MAX_LEN {
            return Err(refuse(format!("An endpoint id is at most {MAX_LEN} characters.")));
        }
        if let Some(c) = raw.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))) {
            let shown = if c.is_ascii_graphic() { format!("`{c}`") } else { format!("{c:?}") };
            return Err(refuse(format!(
                "An endpoint id is a model path such as fal-ai/flux/schnell, made of letters, digits, \
                 `.`, `_` and `-` between slashes; {shown} is not allowed."
            )));
        }
        let mut parts = 0;
        for part in raw.split('/') {
            match part {
                "" => return Err(refuse("An endpoint id has no empty parts: no `//`, and no `/` at either end.")),
                "." | ".." => return Err(refuse("An endpoint id has no `.` or `..` parts.")),
                _ => parts += 1,
            }
        }
        if parts < 2 {
            return Err(refuse("An endpoint id names an owner and a model, e.g. fal-ai/flux/schnell."));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parts between the slashes, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The model's app: its first two parts (`fal-ai/kling-video/v1/standard` →
    /// `fal-ai/kling-video`), under which fal's queue keeps requests.
    pub fn app(&self) -> [&str; 2] {
        let mut parts = self.segments();
        let owner = parts.next().unwrap_or_default();
        [owner, parts.next().unwrap_or_default()]
    }

    /// The OpenRouter model (`openai/gpt-4o-mini`) of an `openrouter/...` endpoint.
    pub fn openrouter_model(&self) -> Option<&str> {
        self.0.strip_prefix("openrouter/")
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EndpointId {
    type Error = AppError;
    fn try_from(raw: String) -> Result<Self, AppError> {
        Self::parse(&raw)
    }
}

impl From<EndpointId> for String {
    fn from(id: EndpointId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(raw: &str) -> String {
        match EndpointId::parse(raw) {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("{raw:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn model_paths_are_endpoint_ids() {
        for ok in [
            "fal-ai/flux/schnell",
            "fal-ai/flux-pro/v1.1-ultra",
            "fal-ai/kling-video/v1/standard/text-to-video",
            "openrouter/openai/gpt-4o-mini",
            "owner/app_2",
        ] {
            assert_eq!(EndpointId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn anything_that_could_leave_the_base_is_refused() {
        for bad in [
            "",
            "http://127.0.0.1:9/steal",
            "http:/127.0.0.1:9/steal",
            "http:%2F%2F127.0.0.1%2Fsteal",
            "//evil.example/steal",
            "/fal-ai/flux",
            "fal-ai/flux/",
            "fal-ai//flux",
            "fal-ai/../../steal",
            "fal-ai/./flux",
            "..",
            "fal-ai/%2e%2e",
            "fal-ai/flux?x=1",
            "fal-ai/flux#x",
            "fal-ai/flux\\..\\x",
            "fal-ai/fl ux",
            "fal-ai/flüx",
            "fal-ai/flux\n",
            "@evil.example/x",
            "schnell",
        ] {
            assert_eq!(field_of(bad), "endpoint_id", "{bad:?}");
        }
        assert_eq!(field_of(&format!("fal-ai/{}", "a".repeat(MAX_LEN))), "endpoint_id");
    }

    #[test]
    fn the_app_and_the_openrouter_model_are_parts_of_the_path() {
        let id = EndpointId::parse("fal-ai/kling-video/v1/standard/text-to-video").unwrap();
        assert_eq!(id.app(), ["fal-ai", "kling-video"]);
        assert_eq!(id.openrouter_model(), None);
        let chat = EndpointId::parse("openrouter/openai/gpt-4o-mini").unwrap();
        assert_eq!(chat.openrouter_model(), Some("openai/gpt-4o-mini"));
    }

    #[test]
    fn json_cannot_smuggle_an_unparsed_id() {
        assert!(serde_json::from_str::<EndpointId>(r#""fal-ai/flux/dev""#).is_ok());
        assert!(serde_json::from_str::<EndpointId>(r#""http://x/y""#).is_err());
    }
}
