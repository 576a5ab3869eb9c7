use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::status::{ServiceStatus, StatusReport};

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Prepaid credits for AI generation"</h1>
            <p class="lead">
                "Tollgate sells credits through Stripe, meters every image, video and LLM call \
                 against them, and lets people bring their own fal.ai and OpenRouter keys instead."
            </p>
            <p class="hero__actions">
                <a class="btn btn--primary" href="/credits">"View credits"</a>
                <a class="btn" href="/settings/api-keys">"Manage API keys"</a>
            </p>
        </section>
        <section class="features" aria-label="What Tollgate does">
            <article class="card">
                <h2>"Buy once, spend per call"</h2>
                <p>"Balances are kept to the micro-dollar in a double-entry ledger. Nothing is charged twice."</p>
            </article>
            <article class="card">
                <h2>"Fair metering"</h2>
                <p>"Funds are held before work starts and settled at the real cost. Provider errors are never charged."</p>
            </article>
            <article class="card">
                <h2>"Your keys, your bill"</h2>
                <p>"With your own provider key, calls to that provider cost no credits. Keys and credits work side by side."</p>
            </article>
        </section>
        <StatusCard />
    }
}

/// Asks the server how it is doing. The button works only once the page is hydrated,
/// and its answer comes from a server function that queries the database.
#[component]
fn StatusCard() -> impl IntoView {
    let check = ServerAction::<ServiceStatus>::new();
    let pending = check.pending();
    view! {
        <section class="card status-card" aria-labelledby="status-title">
            <div class="status-card__head">
                <div>
                    <h2 id="status-title">"Service status"</h2>
                    <p class="muted">"Checks the server and its database right now."</p>
                </div>
                <button
                    type="button"
                    class="btn btn--primary"
                    on:click=move |_| {
                        check.dispatch(ServiceStatus {});
                    }
                    disabled=move || pending.get()
                >
                    {move || if pending.get() { "Checking…" } else { "Check status" }}
                </button>
            </div>
            <div role="status" aria-live="polite" class="status-card__result">
                {move || check.value().get().map(|result| match result {
                    Ok(report) => view! { <StatusTable report /> }.into_any(),
                    Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}

#[component]
fn StatusTable(report: StatusReport) -> impl IntoView {
    let latency = format!("{:.1} ms", report.database_latency_micros as f64 / 1000.0);
    let mode = if report.sandbox { "Sandbox (simulated payments)" } else { "Live" };
    view! {
        <p class="notice notice--ok">"All systems operational."</p>
        <dl class="facts">
            <div><dt>"Database"</dt><dd>{report.database}</dd></div>
            <div><dt>"Schema version"</dt><dd>{report.schema_version}</dd></div>
            <div><dt>"Database round trip"</dt><dd>{latency}</dd></div>
            <div><dt>"Mode"</dt><dd>{mode}</dd></div>
            <div><dt>"Version"</dt><dd>{report.version}</dd></div>
            <div><dt>"Uptime"</dt><dd>{format_uptime(report.uptime_secs)}</dd></div>
        </dl>
    }
}

fn format_uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
        _ => format!("{} d {} h", secs / 86400, (secs % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::format_uptime;

    #[test]
    fn uptime_is_shown_in_the_largest_sensible_unit() {
        assert_eq!(format_uptime(5), "5 s");
        assert_eq!(format_uptime(125), "2 min");
        assert_eq!(format_uptime(3 * 3600 + 120), "3 h 2 min");
        assert_eq!(format_uptime(2 * 86400 + 3600), "2 d 1 h");
    }
}
