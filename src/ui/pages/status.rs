//! The service's status for whoever runs it or wonders: a check of the server and its
//! database, on demand.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::status::{ServiceStatus, StatusReport};

#[component]
pub fn StatusPage() -> impl IntoView {
    view! {
        <Title text="Status" />
        <header class="page-header">
            <h1>"Status"</h1>
            <p class="lead">"Whether this Tollgate server and its database are working right now."</p>
        </header>
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
