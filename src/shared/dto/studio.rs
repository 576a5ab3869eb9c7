//! Wire types for studio: shared by the browser, the server functions and the services.

use crate::shared::money::Micros;
use crate::shared::states::{JobState, PaidWith};
use serde::{Deserialize, Serialize};

/// A model the Studio offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioModel {
    pub endpoint_id: String,
    /// What the picker shows: the catalog's name for the model.
    pub name: String,
    pub category: String,
    pub unit: String,
    pub unit_price: Micros,
}

/// What a run would cost and who would pay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEstimate {
    pub cost: Micros,
    pub unit: String,
    pub paid_with: PaidWith,
    /// Enough credits (or a key) to run it now.
    pub affordable: bool,
}

/// What a run produced and cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioResult {
    pub images: Vec<String>,
    pub cost: Micros,
    pub cost_estimate: Micros,
    pub charged: Micros,
    pub paid_with: PaidWith,
    pub request_id: String,
}

/// A picture or video a call produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub url: String,
    /// "image" or "video".
    pub kind: String,
}

/// A queued Studio job (video) and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudioJob {
    pub job_id: String,
    pub endpoint_id: String,
    pub status: JobState,
    pub queue_position: Option<i64>,
    pub progress: Option<String>,
    pub cost_estimate: Micros,
    pub cost: Option<Micros>,
    pub charged: Micros,
    pub paid_with: PaidWith,
    pub media: Vec<Media>,
    pub error: Option<String>,
}

impl StudioJob {
    pub fn finished(&self) -> bool {
        self.status.finished()
    }
}
