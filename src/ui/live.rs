//! The live balance: the signed-in person's money events, followed in the browser from
//! `GET /api/v1/events/stream` (Server-Sent Events; the browser reconnects by itself and
//! resumes after the last event it saw). Each event carries the wallet's balance after
//! it, so the balance shown changes within a second of a change made anywhere (another
//! tab, the command line, another instance) without reloading the page, and lists of
//! money (transactions, usage, payments) reload.

use leptos::prelude::*;

use crate::shared::money::Micros;
use crate::ui::context::AccountResource;

/// A wallet's money as of one of its events (`seq`): what an event carries, or what the
/// account summary read (with the number of the latest event then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveBalance {
    pub seq: i64,
    pub available: Micros,
    pub reserved: Micros,
    pub owed: Micros,
}

impl LiveBalance {
    /// The figures of an account summary, as of its latest event.
    pub fn of(account: &crate::api::auth::AccountSummary) -> Self {
        Self { seq: account.event_seq, available: account.available, reserved: account.reserved, owed: account.owed }
    }
}

/// What the stream has said: provided to every page by the app.
#[derive(Clone, Copy)]
pub struct Live {
    /// The balance after the latest event; `None` until one arrives.
    pub balance: RwSignal<Option<LiveBalance>>,
    /// Counts events: what lists money depends on it, and reloads when it changes.
    pub version: RwSignal<u64>,
}

impl Live {
    /// The figures to show: the latest event's, unless the account was read after it (a
    /// reload after a purchase, say). Every figure on a page comes from here, so none of
    /// them can be older than another.
    pub fn now(&self, read: LiveBalance) -> LiveBalance {
        match self.balance.get() {
            Some(event) if event.seq > read.seq => event,
            _ => read,
        }
    }
}

/// Provides [`Live`] and (in the browser) follows the stream while someone is signed in.
pub fn provide_live(account: AccountResource) {
    let live = Live { balance: RwSignal::new(None), version: RwSignal::new(0) };
    provide_context(live);
    #[cfg(feature = "hydrate")]
    browser::follow(live, account);
    #[cfg(not(feature = "hydrate"))]
    let _ = account;
}

/// The event's balance, if it carries one.
pub fn balance_of(event: &serde_json::Value) -> Option<LiveBalance> {
    let b = &event["data"]["balance"];
    Some(LiveBalance {
        seq: event["seq"].as_i64()?,
        available: Micros(b["available_micros"].as_i64()?),
        reserved: Micros(b["reserved_micros"].as_i64()?),
        owed: Micros(b["owed_micros"].as_i64().unwrap_or(0)),
    })
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    use super::{Live, balance_of};
    use crate::ui::context::AccountResource;

    pub(super) fn follow(live: Live, account: AccountResource) {
        let source = StoredValue::new_local(None::<web_sys::EventSource>);
        Effect::new(move |_| {
            // Events after the ones the page was drawn with.
            let after = match account.get() {
                Some(Ok(Some(a))) => Some(a.event_seq),
                _ => None,
            };
            source.update_value(|open| match (after, open.is_some()) {
                (Some(after), false) => *open = connect(live, after),
                (None, true) => {
                    if let Some(es) = open.take() {
                        es.close();
                    }
                    live.balance.set(None);
                }
                _ => {}
            });
        });
    }

    /// Lists reload at once after the first event, then at most this often however fast
    /// events come (an API client makes two per call), with one more reload after the
    /// last; the balance itself changes with every event.
    const RELOAD_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_millis(1000);

    /// Whether a reload happened less than [`RELOAD_AT_MOST_EVERY`] ago, and whether an
    /// event has come since.
    #[derive(Default)]
    struct Reloads {
        recent: std::cell::Cell<bool>,
        owed: std::cell::Cell<bool>,
    }

    fn reload(live: Live, reloads: std::rc::Rc<Reloads>) {
        if reloads.recent.replace(true) {
            reloads.owed.set(true);
            return;
        }
        live.version.update(|v| *v += 1);
        set_timeout(
            move || {
                reloads.recent.set(false);
                if reloads.owed.replace(false) {
                    reload(live, reloads);
                }
            },
            RELOAD_AT_MOST_EVERY,
        );
    }

    fn connect(live: Live, after: i64) -> Option<web_sys::EventSource> {
        let reloads = std::rc::Rc::new(Reloads::default());
        // `after` only for the first connection: on reconnecting, the browser sends the
        // last id it saw (Last-Event-ID), which the server prefers.
        let es = web_sys::EventSource::new(&format!("/api/v1/events/stream?after={after}")).ok()?;
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else { return };
            if let Some(balance) = balance_of(&event) {
                live.balance.set(Some(balance));
            }
            reload(live, reloads.clone());
        });
        es.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Lives as long as the page: the stream is followed until sign-out or unload.
        on_message.forget();
        Some(es)
    }
}
