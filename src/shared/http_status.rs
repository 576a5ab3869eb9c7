//! The status of the response being rendered, set from wherever the outcome is known (an
//! error page, a server function's error). On the server it goes into Leptos's response
//! options; in the browser there is no response, so it does nothing.

/// Sets the status code of the server-rendered response or server function answer.
pub fn set_http_status(code: u16) {
    #[cfg(feature = "ssr")]
    {
        use axum::http::StatusCode;
        use leptos::prelude::use_context;
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}
