//! Where a provider is reached: the sandbox, or a configured base URL that every URL a
//! key is sent to must stay under.

use url::Url;

use super::RunFailure;

#[derive(Clone, Debug)]
pub(super) enum Endpoint {
    Sandbox,
    Http(Base),
}

/// A provider's configured base URL. Every URL a key is sent to is built from it by
/// appending path segments, each percent-encoded on its own (so none can add a host, a
/// query or a `..`), and checked to still be under it before the key is attached.
#[derive(Clone, Debug)]
pub struct Base(Url);

impl Base {
    pub fn new(mut url: Url) -> Self {
        if !url.path().ends_with('/') {
            let with_slash = format!("{}/", url.path());
            url.set_path(&with_slash);
        }
        url.set_query(None);
        url.set_fragment(None);
        Self(url)
    }

    /// The base with `segments` appended to its path.
    pub fn at<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.0.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Whether `url` is on this base's origin (scheme, host and port) and under its path.
    pub fn contains(&self, url: &Url) -> bool {
        let base = &self.0;
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path().starts_with(base.path())
            && url.path_segments().is_some_and(|mut parts| {
                !parts
                    .any(|p| matches!(p.to_ascii_lowercase().as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."))
            })
    }

    /// `url`, once it is known to be under this base: the check made before a key is
    /// attached to a request.
    pub(super) fn guard(&self, url: Url) -> Result<Url, RunFailure> {
        if self.contains(&url) {
            Ok(url)
        } else {
            tracing::error!(
                base = %self.0,
                host = url.host_str().unwrap_or("-"),
                "refused to send a provider key outside the provider's configured base URL"
            );
            Err(RunFailure::OffBase)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::endpoint::EndpointId;

    fn base(url: &str) -> Base {
        Base::new(Url::parse(url).unwrap())
    }

    #[test]
    fn urls_are_built_under_the_base_path() {
        let prefixed = base("http://127.0.0.1:9/prefix");
        assert_eq!(prefixed.at(["api", "v1", "key"]).as_str(), "http://127.0.0.1:9/prefix/api/v1/key");
        assert_eq!(base("https://openrouter.ai/").at(["auth"]).as_str(), "https://openrouter.ai/auth");
        let id = EndpointId::parse("fal-ai/flux/schnell").unwrap();
        assert_eq!(base("https://fal.run/").at(id.segments()).as_str(), "https://fal.run/fal-ai/flux/schnell");
    }

    #[test]
    fn a_segment_cannot_leave_the_base() {
        let b = base("http://127.0.0.1:9/prefix/");
        for hostile in ["http://127.0.0.1:1/steal", "//evil.example/x", "../../steal", "a/../../b", "?q", "#f", "%2F"] {
            let url = b.at([hostile]);
            assert!(b.contains(&url), "{hostile} gave {url}");
            assert_eq!(url.host_str(), Some("127.0.0.1"));
            assert_eq!(url.port(), Some(9));
            assert!(url.path().starts_with("/prefix/"), "{url}");
            assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
        }
    }

    #[test]
    fn only_urls_under_the_base_are_contained() {
        let b = base("http://127.0.0.1:9/prefix/");
        let yes = |u: &str| b.contains(&Url::parse(u).unwrap());
        assert!(yes("http://127.0.0.1:9/prefix/fal-ai/flux"));
        assert!(!yes("http://127.0.0.1:10/prefix/fal-ai/flux"), "another port");
        assert!(!yes("https://127.0.0.1:9/prefix/fal-ai/flux"), "another scheme");
        assert!(!yes("http://localhost:9/prefix/fal-ai/flux"), "another host");
        assert!(!yes("http://127.0.0.1:9/prefixed/x"), "a sibling path");
        assert!(!yes("http://127.0.0.1:9/other"), "outside the path");
        assert!(!yes("http://u:p@127.0.0.1:9/prefix/x"), "credentials");
        assert!(!yes("http://127.0.0.1:9/prefix/../x"), "climbing out");
        assert!(b.guard(Url::parse("http://evil.example/prefix/x").unwrap()).is_err());
    }
}
