//! Admin > Webhooks: register endpoints (the signing secret shown once), remove them, read
//! the delivery log and send a delivery again.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::webhooks::{
    AddWebhook, RemoveWebhook, ReplayWebhookDelivery, WebhookDelivery, WebhookEndpoint, get_webhooks,
};
use crate::shared::format::utc_minute;
use crate::ui::components::error_page::ErrorPage;
use crate::ui::components::forms::{Field, FormError, field_error, form_error};
use crate::ui::components::frame::SignedIn;

#[component]
pub fn AdminWebhooksPage() -> impl IntoView {
    view! {
        <Title text="Webhooks · Admin" />
        <header class="page-header">
            <p class="eyebrow">"Admin"</p>
            <h1>"Webhooks"</h1>
            <p class="lead">
                "Money events sent to your app as signed POSTs, in order per account, retried for 3 days. "
                "Verify the " <code>"Tollgate-Signature"</code> " header with the endpoint's secret and "
                "de-duplicate on the event id."
            </p>
        </header>
        <crate::ui::pages::admin::AdminNav />
        <SignedIn here="/admin/webhooks" children=|account| if account.is_admin {
            view! { <Webhooks /> }.into_any()
        } else {
            view! { <ErrorPage error=crate::shared::error::AppError::Forbidden /> }.into_any()
        } />
    }
}

#[component]
fn Webhooks() -> impl IntoView {
    let add = ServerAction::<AddWebhook>::new();
    let remove = ServerAction::<RemoveWebhook>::new();
    let replay = ServerAction::<ReplayWebhookDelivery>::new();
    let overview = Resource::new(
        move || (add.version().get(), remove.version().get(), replay.version().get()),
        |_| get_webhooks(),
    );
    let added = add.value();
    view! {
        <section class="card" aria-labelledby="new-webhook-title">
            <h2 id="new-webhook-title">"Add an endpoint"</h2>
            <ActionForm action=add attr:class="form" attr:novalidate=true>
                <FormError message=form_error(added, &["url", "events"]) />
                <Field label="URL" name="url" kind="url" hint="https://your-app.example/hooks/tollgate" error=field_error(added, "url") />
                <Field
                    label="Events"
                    name="events"
                    value="*".to_string()
                    hint="* for every kind, or kinds separated by commas (listed below)."
                    error=field_error(added, "events")
                />
                <button type="submit" class="btn btn--primary" disabled=move || add.pending().get()>"Add endpoint"</button>
            </ActionForm>
            {move || added.get().and_then(Result::ok).map(|n| view! {
                <div class="notice notice--ok new-token" role="status">
                    <p>
                        <strong>{format!("Endpoint {} added.", n.endpoint.url)}</strong>
                        " Its signing secret, shown this once:"
                    </p>
                    <code class="secret" data-testid="webhook-secret">{n.secret}</code>
                </div>
            })}
        </section>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                    Ok(o) => view! {
                        <section class="card" aria-labelledby="endpoints-title">
                            <h2 id="endpoints-title">"Endpoints"</h2>
                            <FormError message=form_error(remove.value(), &[]) />
                            <Endpoints list=o.endpoints.clone() remove />
                        </section>
                        <section class="card" aria-labelledby="deliveries-title">
                            <h2 id="deliveries-title">"Deliveries"</h2>
                            <p class="muted">"The newest first. Pending ones are sent as soon as they are due."</p>
                            <FormError message=form_error(replay.value(), &[]) />
                            <Deliveries list=o.deliveries endpoints=o.endpoints.clone() replay />
                        </section>
                        <section class="card" aria-labelledby="kinds-title">
                            <h2 id="kinds-title">"Event kinds"</h2>
                            <ul class="chips" data-testid="event-kinds">
                                {o.kinds.into_iter().map(|k| view! { <li><code>{k}</code></li> }).collect_view()}
                            </ul>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Endpoints(list: Vec<WebhookEndpoint>, remove: ServerAction<RemoveWebhook>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-endpoints">"No endpoints yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="endpoints">
                <thead>
                    <tr>
                        <th scope="col">"URL"</th>
                        <th scope="col">"Events"</th>
                        <th scope="col">"Added"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|e| {
                        let label = format!("Remove {}", e.url);
                        view! {
                            <tr>
                                <td class="wrap-anywhere">{e.url.clone()}<br /><code class="muted">{e.id.clone()}</code></td>
                                <td>{e.events.replace(',', ", ")}</td>
                                <td>{utc_minute(e.created_at_ms)}</td>
                                <td class="table__actions">
                                    <ActionForm action=remove attr:class="inline-form">
                                        <input type="hidden" name="id" value=e.id.clone() />
                                        <button type="submit" class="btn btn--small btn--danger" aria-label=label>"Remove"</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Deliveries(
    list: Vec<WebhookDelivery>,
    endpoints: Vec<WebhookEndpoint>,
    replay: ServerAction<ReplayWebhookDelivery>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"Nothing sent yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="deliveries">
                <thead>
                    <tr>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Endpoint"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">"Attempts"</th>
                        <th scope="col">"Last answer"</th>
                        <th scope="col">"Queued"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|d| {
                        // A removed endpoint is no longer listed: its id stands for it.
                        let to = endpoints
                            .iter()
                            .find(|e| e.id == d.endpoint_id)
                            .map_or_else(|| d.endpoint_id.clone(), |e| e.url.clone());
                        let label = format!("Send evt_{} to {to} again", d.event_id);
                        let answer = match (d.last_status, d.last_error.clone()) {
                            (Some(code), _) => format!("HTTP {code}"),
                            (None, Some(e)) => e,
                            (None, None) => "—".into(),
                        };
                        view! {
                            <tr data-status=d.status.clone()>
                                <td><code>{format!("evt_{}", d.event_id)}</code></td>
                                <td class="wrap-anywhere">{to}</td>
                                <td>{d.kind.clone()}</td>
                                <td>{d.status.clone()}</td>
                                <td class="num">{d.attempts}</td>
                                <td>{answer}</td>
                                <td>{utc_minute(d.created_at_ms)}</td>
                                <td class="table__actions">
                                    <ActionForm action=replay attr:class="inline-form">
                                        <input type="hidden" name="id" value=d.id.clone() />
                                        <button type="submit" class="btn btn--small" aria-label=label>"Send again"</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
