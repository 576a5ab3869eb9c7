//! A message carried in the address (`?notice=...`) by a redirect from the server, such
//! as the end of connecting OpenRouter. Only known codes are shown, with fixed text, so
//! a link cannot make the page say anything else.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The text for a notice code, and whether it reports a problem.
pub fn notice_text(code: &str) -> Option<(&'static str, bool)> {
    Some(match code {
        "openrouter_connected" => {
            ("OpenRouter is connected. OpenRouter calls now use your own key and cost no credits.", false)
        }
        "oauth_denied" => ("You declined access on OpenRouter, so nothing was connected or saved.", true),
        "oauth_state" => (
            "This connection could not be verified as yours (its security check did not match), so nothing was saved. Please connect again.",
            true,
        ),
        "oauth_used" => {
            ("This connection link was already used or has ended, so nothing was saved. Please connect again.", true)
        }
        "oauth_expired" => (
            "The connection took longer than 10 minutes and has expired, so nothing was saved. Please connect again.",
            true,
        ),
        "oauth_exchange" => (
            "OpenRouter did not issue a key, so nothing was saved. Please try again in a moment, or paste a key instead.",
            true,
        ),
        "oauth_forbidden" => {
            ("Only the team's owners and admins can connect its OpenRouter account, so nothing was saved.", true)
        }
        "oauth_failed" => ("Something went wrong on our side while connecting OpenRouter. Nothing was saved.", true),
        _ => return None,
    })
}

/// Which notice of the address the person has dismissed (or a page has made untrue),
/// shared by the banner and the pages.
#[derive(Clone, Copy)]
pub struct Notices {
    dismissed: RwSignal<Option<String>>,
}

impl Notices {
    /// Provided by the app to the banner and every page.
    pub fn provide() {
        provide_context(Notices { dismissed: RwSignal::new(None) });
    }

    /// Hides the notice `code` while the address still carries it: what a page just did
    /// made it untrue (a key removed after "OpenRouter is connected").
    pub fn dismiss(&self, code: &str) {
        self.dismissed.set(Some(code.to_string()));
    }
}

#[component]
pub fn NoticeBanner() -> impl IntoView {
    let query = use_query_map();
    let dismissed = expect_context::<Notices>().dismissed;
    let current = move || {
        let code = query.with(|q| q.get("notice"))?;
        if dismissed.get().as_deref() == Some(code.as_str()) {
            return None;
        }
        notice_text(&code).map(|(text, error)| (code, text, error))
    };
    move || {
        current().map(|(code, text, error)| {
            let shown = code.clone();
            view! {
                <div
                    class=if error { "notice notice--error notice-banner" } else { "notice notice--ok notice-banner" }
                    role=if error { "alert" } else { "status" }
                    data-notice=shown
                >
                    <p>{text}</p>
                    <button type="button" class="btn btn--small" on:click=move |_| dismissed.set(Some(code.clone()))>
                        "Dismiss"
                    </button>
                </div>
            }
        })
    }
}

/// "Continue where you left off": shown when a page was opened from the billing gate
/// (`?next=<path>`), to take the person back once they are done here.
#[component]
pub fn ContinueLink() -> impl IntoView {
    let query = use_query_map();
    move || {
        let next = query.with(|q| q.get("next"))?;
        // Only paths on this site, never another site.
        let safe = crate::api::auth::safe_next(Some(&next));
        (safe == next).then(|| {
            view! {
                <p class="continue-link">
                    <a class="btn btn--small" href=safe>"Continue where you left off \u{2192}"</a>
                </p>
            }
        })
    }
}
