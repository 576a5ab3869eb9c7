//! The web app as the server serves it: its root component and the HTML document around
//! it. The UI provides one (`ui::app::web_app`) and whoever starts the server (the binary,
//! the tests) hands it over, so the server never depends on the pages.

use leptos::config::LeptosOptions;
use leptos::prelude::AnyView;

#[derive(Clone, Copy)]
pub struct WebApp {
    pub app: fn() -> AnyView,
    pub shell: fn(LeptosOptions) -> AnyView,
}
