use tollgate::server::infra::db::Backend;

use crate::helpers::spawn_app;

backend_tests!(
    the_home_page_is_rendered_on_the_server_inside_the_app_shell,
    credits_and_api_keys_pages_render_with_their_titles,
    unknown_pages_answer_404_with_an_error_page,
    settings_redirects_to_api_keys,
    the_sandbox_badge_shows_only_in_sandbox_mode,
    a_form_posted_without_scripts_comes_back_as_its_page_with_the_errors_once,
);

async fn page(app: &crate::helpers::TestApp, path: &str) -> (u16, String) {
    let res = app.get(path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn the_home_page_is_rendered_on_the_server_inside_the_app_shell(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, html) = page(&app, "/").await;
    assert_eq!(status, 200);
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80.min(html.len())]);
    assert!(html.contains("<title>Tollgate</title>"));
    assert!(html.contains("Prepaid credits for AI generation"));
    assert!(html.contains(r#"href="/credits""#) && html.contains(r#"href="/settings/api-keys""#));
    assert!(html.contains("site-footer"));
    assert!(html.contains("/pkg/tollgate.css"), "the stylesheet is linked");
    assert!(html.contains("/pkg/tollgate.js"), "the hydration script is linked");
    assert!(html.contains(r#"data-hydrated="false""#), "the server renders the page un-hydrated");
}

async fn credits_and_api_keys_pages_render_with_their_titles(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signed_up("pages@example.com", "a good password").await;
    let res = client.get(app.url("/credits")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("<title>Credits · Tollgate</title>"));
    assert!(html.contains("Gift Codes"));
    assert!(html.contains(r#"aria-current="page""#), "the nav marks the current page");
    // A visitor is sent to sign in before anything renders, whatever they accept.
    let (status, _) = page(&app, "/settings/api-keys").await;
    assert_eq!(status, 302);
    let res = client.get(app.url("/settings/api-keys")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("<title>API keys · Settings · Tollgate</title>"));
    assert!(html.contains("OpenRouter"));
    for (path, title) in [("/signin", "Sign in"), ("/signup", "Create an account")] {
        let (status, html) = page(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains(&format!("<title>{title} · Tollgate</title>")), "{path}");
        assert!(html.contains(r#"<label for="field-email">Email"#), "{path} labels its fields");
    }
}

async fn unknown_pages_answer_404_with_an_error_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, html) = page(&app, "/definitely/not/here").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));
    assert!(html.contains("Back to the home page"));
}

async fn settings_redirects_to_api_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    // As a browser asks: leptos_axum answers 302 only to requests that accept HTML.
    let res = app.client.get(app.url("/settings")).header("accept", "text/html").send().await.unwrap();
    assert!(res.status().is_redirection(), "got {}", res.status());
    assert_eq!(res.headers()["location"], "/settings/api-keys");
}

async fn the_sandbox_badge_shows_only_in_sandbox_mode(backend: Backend) {
    let sandbox = spawn_app(backend).await;
    let (_, html) = page(&sandbox, "/").await;
    assert!(html.contains("badge--sandbox"));
    let live = crate::helpers::spawn_app_with(backend, &[("TOLLGATE_SANDBOX", "false")]).await;
    let (_, html) = page(&live, "/").await;
    assert!(!html.contains("badge--sandbox"));
}

/// A plain form post (no JavaScript) that is refused: the browser is sent back to the form
/// (303, the address as it was, without one-time notices), and that page, once, shows the
/// message beside each field; the error never travels in the address.
async fn a_form_posted_without_scripts_comes_back_as_its_page_with_the_errors_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let from = app.url("/signup?next=%2Fstudio&notice=openrouter_connected");
    let res = browser
        .post(app.url("/api/sign_up"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", &from)
        .form(&[("email", ""), ("password", ""), ("next", "/studio")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/signup?next=%2Fstudio");
    let html = browser.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    let html = crate::helpers::visible(&html);
    assert!(html.contains("Enter your email address."), "{html}");
    assert!(html.contains("Use at least 8 characters."), "{html}");
    assert!(!html.contains(r#""kind""#));
    // Shown once.
    let again = browser.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(!crate::helpers::visible(&again).contains("Enter your email address."));
    // Another visitor (another session) never sees it.
    let (_, stranger) = page(&app, "/signup").await;
    assert!(!stranger.contains("Enter your email address."));

    // A script's call (asking for JSON) still gets the error itself, naming the field.
    let res = browser
        .post(app.url("/api/sign_up"))
        .header("accept", "application/json")
        .form(&[("email", "x@example.com"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (body["field"].as_str(), body["message"].as_str()),
        (Some("password"), Some("Use at least 8 characters."))
    );

    // Accepted, the post goes where the form said, untouched.
    let res = browser
        .post(app.url("/api/sign_up"))
        .header("accept", "text/html")
        .header("referer", &from)
        .form(&[("email", "plain@example.com"), ("password", "a long enough password"), ("next", "/studio")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/studio");
}
