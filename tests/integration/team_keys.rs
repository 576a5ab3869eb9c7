//! A team's own provider keys: set by its owners and admins (pasted, or OpenRouter
//! connected with PKCE while the team's wallet is chosen), seen by its members, and used
//! for every member's calls on the team's wallet instead of its credits.

use serde_json::Value;
use tollgate::server::infra::db::Backend;

use crate::helpers::{TestApp, spawn_app_with};
use crate::provider_standin::{FAL_KEY, PLATFORM_FAL_KEY, ProviderStandIn};
use crate::team_wallets::{buy, json_of, select, team_of_two};

backend_tests!(
    a_team_key_pays_for_its_members_calls_and_only_managers_change_it,
    openrouter_is_connected_for_the_team_whose_wallet_is_chosen,
);

async fn app_on(backend: Backend, standin: &ProviderStandIn) -> TestApp {
    let settings = [
        ("TOLLGATE_FAL_RUN_BASE", standin.url()),
        ("TOLLGATE_FAL_API_BASE", standin.url()),
        ("TOLLGATE_OPENROUTER_BASE", standin.url()),
        ("TOLLGATE_FAL_PLATFORM_KEY", PLATFORM_FAL_KEY.to_string()),
    ];
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &settings).await
}

async fn slots(app: &TestApp, client: &reqwest::Client) -> Value {
    let (status, slots) = json_of(app.call(client, "provider_keys", &[]).await).await;
    assert_eq!(status, 200, "{slots}");
    slots
}

/// A Studio run of the image model on the wallet `client` has chosen: (status, answer).
async fn studio(app: &TestApp, client: &reqwest::Client) -> (u16, Value) {
    let form = [("endpoint_id", "fal-ai/flux/schnell"), ("prompt", "a fox"), ("num_images", "1")];
    json_of(app.call(client, "studio_run", &form).await).await
}

async fn a_team_key_pays_for_its_members_calls_and_only_managers_change_it(backend: Backend) {
    let standin = ProviderStandIn::start().await;
    let app = app_on(backend, &standin).await;
    let (team, ada, bo, bo_id) = team_of_two(&app).await;
    select(&app, &ada, &team).await;
    buy(&app, &ada, "10").await;
    let (status, saved) =
        json_of(app.call(&ada, "provider_key_save", &[("provider", "fal"), ("key", FAL_KEY)]).await).await;
    assert_eq!(status, 200, "{saved}");
    // The key is the team's: Ada's own wallet has none.
    let stored: Vec<String> =
        sqlx::query_scalar("select user_id from provider_key").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(stored, vec![team.clone()]);
    select(&app, &ada, "").await;
    assert!(slots(&app, &ada).await[0]["key"].is_null(), "her own wallet has no fal key");
    // Bo, a member, sees the team's key on the team's wallet, but cannot change it.
    select(&app, &bo, &team).await;
    let seen = slots(&app, &bo).await;
    assert_eq!(seen[0]["provider"], "fal");
    assert_eq!(seen[0]["key"]["last4"], &FAL_KEY[FAL_KEY.len() - 4..]);
    for (name, form) in [
        ("provider_key_save", vec![("provider", "fal"), ("key", FAL_KEY)]),
        ("provider_key_test", vec![("provider", "fal")]),
        ("provider_key_remove", vec![("provider", "fal")]),
    ] {
        let (status, body) = json_of(app.call(&bo, name, &form).await).await;
        assert_eq!((status, body["kind"].as_str()), (403, Some("forbidden")), "{name}: {body}");
    }
    // Bo's call on the team's wallet uses the team's key: no credits move.
    let team_before = app.state.ledger.balance_of(&team).await.unwrap().available.get();
    let runs_before = standin.runs().len();
    let (status, ran) = studio(&app, &bo).await;
    assert_eq!(status, 200, "{ran}");
    assert_eq!(ran["paid_with"], "own_key", "{ran}");
    assert_eq!(standin.runs()[runs_before..], [FAL_KEY.to_string()], "the team's key went to fal");
    assert_eq!(app.state.ledger.balance_of(&team).await.unwrap().available.get(), team_before);
    let recorded: (Option<String>, String) =
        sqlx::query_as("select team_id, paid_with from usage_record where user_id = $1")
            .bind(&bo_id)
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(recorded, (Some(team.clone()), "own_key".to_string()));
    // On his own wallet the team's key does not pay: the platform's key and his credits do.
    select(&app, &bo, "").await;
    let bo_before = app.state.ledger.balance_of(&bo_id).await.unwrap().available.get();
    let (status, ran) = studio(&app, &bo).await;
    assert_eq!((status, ran["paid_with"].as_str()), (200, Some("credits")), "{ran}");
    assert_eq!(standin.runs().last().map(String::as_str), Some(PLATFORM_FAL_KEY));
    assert_eq!(app.state.ledger.balance_of(&bo_id).await.unwrap().available.get(), bo_before - 3_000);
    // fal refusing the team's key marks the team's key refused; nothing is charged, and the
    // next call on the team's wallet is paid with the team's credits.
    select(&app, &bo, &team).await;
    standin.revoke(FAL_KEY);
    let (status, refused) = studio(&app, &bo).await;
    assert_ne!(status, 200, "{refused}");
    let key_status: String = sqlx::query_scalar("select status from provider_key where user_id = $1")
        .bind(&team)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(key_status, "rejected");
    assert_eq!(app.state.ledger.balance_of(&team).await.unwrap().available.get(), team_before);
    // Ada (owner) removes it; the web app shows no key on the team's wallet again.
    select(&app, &ada, &team).await;
    assert_eq!(app.call(&ada, "provider_key_remove", &[("provider", "fal")]).await.status(), 200);
    assert!(slots(&app, &bo).await[0]["key"].is_null());
}

async fn openrouter_is_connected_for_the_team_whose_wallet_is_chosen(backend: Backend) {
    let standin = ProviderStandIn::start().await;
    let app = app_on(backend, &standin).await;
    let (team, ada, bo, _) = team_of_two(&app).await;
    let location = |res: &reqwest::Response| res.headers()["location"].to_str().unwrap().to_string();
    // Bo, a plain member, cannot connect the team's account.
    select(&app, &bo, &team).await;
    let res = bo.get(app.url("/connect/openrouter")).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=oauth_forbidden");
    // Ada, its owner, connects it with the team's wallet chosen.
    select(&app, &ada, &team).await;
    let res = ada.get(app.url("/connect/openrouter")).send().await.unwrap();
    let consent = location(&res);
    assert!(consent.starts_with(&standin.url()), "{consent}");
    let res = ada.get(&consent).send().await.unwrap();
    let callback = location(&res);
    // She switches to her own wallet meanwhile: the key still goes to the team she chose.
    select(&app, &ada, "").await;
    let res = ada.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), "/settings/api-keys?notice=openrouter_connected");
    let owners: Vec<(String, String)> =
        sqlx::query_as("select user_id, source from provider_key").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(owners, vec![(team.clone(), "oauth".to_string())]);
    let seen = slots(&app, &bo).await;
    assert_eq!(seen[1]["provider"], "openrouter");
    assert_eq!(seen[1]["key"]["source"], "oauth");
}
