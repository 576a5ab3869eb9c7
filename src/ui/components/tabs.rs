//! A WAI-ARIA tab set whose tabs are links (`?tab=...`), so every tab has an address,
//! works without JavaScript, and arrow keys move between tabs once hydrated.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tab {
    pub slug: &'static str,
    pub label: &'static str,
}

/// The tab list. `active` is the selected slug; `base` is the page path.
#[component]
pub fn TabList(
    label: &'static str,
    base: &'static str,
    tabs: &'static [Tab],
    #[prop(into)] active: Signal<String>,
) -> impl IntoView {
    let navigate = use_navigate();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let current = tabs.iter().position(|t| t.slug == active.get_untracked()).unwrap_or(0);
        let next = match ev.key().as_str() {
            "ArrowRight" => (current + 1) % tabs.len(),
            "ArrowLeft" => (current + tabs.len() - 1) % tabs.len(),
            "Home" => 0,
            "End" => tabs.len() - 1,
            _ => return,
        };
        ev.prevent_default();
        navigate(&format!("{base}?tab={}", tabs[next].slug), Default::default());
        focus_tab(tabs[next].slug);
    };
    view! {
        <div class="tabs" role="tablist" aria-label=label on:keydown=on_keydown>
            {tabs
                .iter()
                .map(|t| {
                    let slug = t.slug;
                    let selected = move || active.get() == slug;
                    view! {
                        <a
                            class="tabs__tab"
                            role="tab"
                            id=format!("tab-{slug}")
                            href=format!("{base}?tab={slug}")
                            aria-controls=format!("panel-{slug}")
                            aria-selected=move || selected().to_string()
                            tabindex=move || if selected() { "0" } else { "-1" }
                        >
                            {t.label}
                        </a>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The panel of the selected tab.
#[component]
pub fn TabPanel(slug: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="tabs__panel" role="tabpanel" id=format!("panel-{slug}") aria-labelledby=format!("tab-{slug}") tabindex="0">
            {children()}
        </div>
    }
}

fn focus_tab(slug: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(el) = document().get_element_by_id(&format!("tab-{slug}")) {
            if let Ok(el) = el.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = slug;
}
