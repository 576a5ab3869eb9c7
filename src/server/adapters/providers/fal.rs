//! fal: synchronous model runs, and the sizes of its named images.

use super::{Endpoint, Providers, RunFailure, send_run};
use crate::shared::endpoint::EndpointId;

impl Providers {
    /// Runs a fal model and returns its output. `own_key` is the caller's key; without one
    /// the call is routed through this platform's fal account.
    pub async fn run_fal(
        &self,
        endpoint_id: &EndpointId,
        own_key: Option<&str>,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, RunFailure> {
        let base = match &self.inner.fal_run {
            Endpoint::Sandbox => return self.inner.sandbox.run(endpoint_id.as_str(), input).await,
            Endpoint::Http(base) => base,
        };
        let key = match own_key.or(self.inner.fal_platform_key.as_deref()) {
            Some(k) => k,
            None => return Err(RunFailure::NoPlatformKey),
        };
        let url = base.guard(base.at(endpoint_id.segments()))?;
        let request =
            self.inner.http.post(url).header(reqwest::header::AUTHORIZATION, format!("Key {key}")).json(input);
        send_run(request, endpoint_id.as_str()).await
    }
}

/// Width and height of fal's named `image_size` values.
pub fn fal_image_size(name: &str) -> Option<(u64, u64)> {
    Some(match name {
        "square_hd" => (1024, 1024),
        "square" => (512, 512),
        "portrait_4_3" => (768, 1024),
        "portrait_16_9" => (576, 1024),
        "landscape_4_3" => (1024, 768),
        "landscape_16_9" => (1024, 576),
        _ => return None,
    })
}
