//! Credits > Transactions: newest first, filter by type, load more, CSV export.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::credits::{TxFilter, TxPage, TxRow, code_label, list_transactions};
use crate::shared::error::AppError;
use crate::shared::format::{operation_label, utc_minute};

#[component]
pub fn TransactionsTab() -> impl IntoView {
    let query = use_query_map();
    let filter =
        Memo::new(move |_| TxFilter::parse(&query.read().get("type").unwrap_or_default()).unwrap_or(TxFilter::All));
    // Reloaded when money moves (a money event arrives).
    let version = expect_context::<crate::ui::live::Live>().version;
    // `before` in the address: the page a plain "Older" link led to (without scripts).
    let before = Memo::new(move |_| query.read().get("before").and_then(|b| b.parse::<i64>().ok()).filter(|b| *b > 0));
    let first = Resource::new(
        move || (filter.get(), before.get(), version.get()),
        |(f, b, _)| list_transactions(f.as_str().to_string(), b.map(|b| b.to_string())),
    );
    // Pages after the first, fetched with "Load more"; cleared when the filter changes.
    let more = RwSignal::new(Vec::<TxRow>::new());
    let more_next = RwSignal::new(None::<Option<i64>>);
    Effect::watch(
        move || (filter.get(), version.get()),
        move |_, _, _| {
            more.set(Vec::new());
            more_next.set(None);
        },
        false,
    );
    let load_more = Action::new(move |before: &i64| {
        let before = *before;
        async move { list_transactions(filter.get_untracked().as_str().to_string(), Some(before.to_string())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = load_more.value().get() {
            more.update(|rows| rows.extend(page.rows));
            more_next.set(Some(page.next_before));
        }
    });

    view! {
        <section class="card" aria-labelledby="tx-title">
            <TxToolbar filter />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                        Ok(page) if page.rows.is_empty() => view! {
                            <p class="muted" data-testid="tx-empty">"No transactions of this type yet."</p>
                        }.into_any(),
                        Ok(page) => {
                            let first_rows = page.rows.clone();
                            let first_next = page.next_before;
                            let next = move || more_next.get().unwrap_or(first_next);
                            view! {
                                <TxTable rows=Signal::derive(move || {
                                    let mut all = first_rows.clone();
                                    all.extend(more.get());
                                    all
                                }) />
                                {move || next().map(|before| view! { <LoadMore filter before load_more /> })}
                                {move || before.get().is_some().then(|| view! {
                                    <p class="load-more">
                                        <a href=format!("/credits?tab=transactions&type={}", filter.get().as_str())>"Back to the newest"</a>
                                    </p>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// The title, the type filter (a plain GET form without scripts) and the CSV link.
#[component]
fn TxToolbar(filter: Memo<TxFilter>) -> impl IntoView {
    let navigate = use_navigate();
    let on_filter = move |ev: leptos::ev::Event| {
        let slug = event_target_value(&ev);
        navigate(&format!("/credits?tab=transactions&type={slug}"), Default::default());
    };
    let csv_href = move || format!("/api/v1/transactions.csv?type={}", filter.get().as_str());
    view! {
        <div class="toolbar">
            <h2 id="tx-title">"Transactions"</h2>
            <form class="toolbar__filters" method="get" action="/credits">
                <input type="hidden" name="tab" value="transactions" />
                <label for="tx-type">"Type"</label>
                <select id="tx-type" name="type" on:change=on_filter prop:value=move || filter.get().as_str()>
                    {TxFilter::ALL
                        .iter()
                        .copied()
                        .map(|f| view! { <option value=f.as_str() selected=move || filter.get() == f>{f.label()}</option> })
                        .collect_view()}
                </select>
                <noscript><button type="submit" class="btn btn--small">"Show"</button></noscript>
                <a class="btn btn--small" href=csv_href download="">"Download CSV"</a>
            </form>
        </div>
    }
}

/// "Load more": the next page, older than `before`, added below the rows shown. A plain
/// link to that page where scripts do not run.
#[component]
fn LoadMore(filter: Memo<TxFilter>, before: i64, load_more: Action<i64, Result<TxPage, AppError>>) -> impl IntoView {
    let href = move || format!("/credits?tab=transactions&type={}&before={before}", filter.get().as_str());
    view! {
        <p class="load-more">
            <a
                class="btn"
                href=href
                role="button"
                aria-disabled=move || load_more.pending().get().to_string()
                on:click=move |ev| {
                    ev.prevent_default();
                    if !load_more.pending().get_untracked() {
                        load_more.dispatch(before);
                    }
                }
            >
                {move || if load_more.pending().get() { "Loading…" } else { "Load more" }}
            </a>
        </p>
    }
}

#[component]
fn TxTable(#[prop(into)] rows: Signal<Vec<TxRow>>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table tx-table">
                <thead>
                    <tr>
                        <th scope="col">"Date (UTC)"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Description"</th>
                        <th scope="col" class="num">"Amount"</th>
                        <th scope="col" class="num">"Balance after"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|r| r.id let:r>
                        <TxLine r />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn TxLine(r: TxRow) -> impl IntoView {
    let incoming = r.amount.get() >= 0;
    // The sign is in the text, not only in the colour.
    let amount = if incoming {
        format!("+{}", r.amount.format())
    } else {
        format!("\u{2212}{}", r.amount.format().trim_start_matches('-'))
    };
    // A call is described by its model's name and what it did, not by ids; the endpoint
    // id stays on hand as the description's title.
    let operation = r.operation.as_deref().map(|op| operation_label(op, r.unit.as_deref().unwrap_or("")).to_string());
    let named_by_id = r.model.as_ref().is_some_and(|id| *id == r.description);
    let (description, model) = match &r.model_name {
        // A call described by its endpoint id: its model's name instead.
        Some(name) if named_by_id => (name.clone(), None),
        name => (r.description.clone(), name.clone()),
    };
    let title = r.model.clone();
    let usage = [r.provider.clone(), model, operation].into_iter().flatten().collect::<Vec<_>>().join(" · ");
    let label =
        if r.reversal { format!("{} (reversed)", code_label(&r.code)) } else { code_label(&r.code).to_string() };
    view! {
        <tr data-code=r.code.clone()>
            <td class="tx-table__date">{utc_minute(r.created_at_ms)}</td>
            <td class="tx-table__type">{label}</td>
            <td class="tx-table__description" title=title>
                {description}
                {(!usage.is_empty()).then(|| view! { <span class="tx-table__usage">{usage}</span> })}
            </td>
            <td class=if incoming { "num amount amount--in tx-table__amount" } else { "num amount amount--out tx-table__amount" }>{amount}</td>
            <td class="num tx-table__balance">{r.balance_after.format()}</td>
        </tr>
    }
}
