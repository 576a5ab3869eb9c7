//! What a call is: asked for ([`CallRequest`], read and priced, its payer chosen), under
//! way ([`Call`], as its usage record keeps it), and ended ([`Outcome`], [`Settled`]).
//! The steps that move a call along (`call`, `run`, `jobs`, `usage`) all share these.

use serde_json::Value;

use super::answer::Answer;
use super::catalog::Unit;
use super::estimate::{Estimate, MilliUnits};
use super::run_cap::RunCap;
use crate::server::adapters::providers::RunFailure;
use crate::server::infra::state::AppState;
use crate::server::services::billing::{Payer, payer_for};
use crate::server::services::wallets::Acting;
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::PaidWith;

/// How a call ended, for the API answer.
#[derive(Debug)]
pub enum Outcome {
    Done {
        output: Value,
        cost: Micros,
        charged: Micros,
        /// The answer as kept with the usage record.
        answer: Answer,
    },
    Failed {
        failure: RunFailure,
        answer: Answer,
    },
    /// The call would push its run over the run's cap.
    OverRunCap {
        needed: Micros,
        left: Micros,
    },
    /// The call would push a budget (its token's, its member's, its team's) over its limit.
    OverBudget(super::budgets::OverBudget),
    /// Another call took the funds between the check and the hold.
    Insufficient {
        needed: Micros,
        available: Micros,
    },
    /// The paying wallet has as many calls going as it may.
    Busy(super::in_flight::Busy),
    /// The account already has a call under this request id (a retry sent while the first
    /// was starting): its answer is the first call's.
    Repeated,
}

/// One call as asked for: who asks, the provider input, its price and estimate, who pays,
/// and the run whose cap it counts against. The JSON API and the Studio both build one.
#[derive(Clone, Debug)]
pub struct CallRequest {
    /// The person who asks.
    pub user_id: String,
    /// The team whose wallet pays, if not the person's own.
    pub team_id: Option<String>,
    /// The caller's id for the request, unique within the account: a repeat is refused.
    pub request_id: String,
    pub input: Value,
    pub estimate: Estimate,
    pub payer: Payer,
    pub run: Option<RunCap>,
    /// What was asked, hashed (see [`super::replay::digest`]); kept so a retry that asks
    /// something else under the same request id is refused.
    pub digest: Option<String>,
    /// A call cut off by a crash whose request id this call takes over (a retry of it).
    pub rerun_of: Option<String>,
    /// The budgets the call counts against, if they are set: its API token's, and in a
    /// team its member's and the team's.
    pub budgets: Vec<(crate::shared::dto::budgets::BudgetScope, String)>,
}

impl CallRequest {
    /// The owner id of the wallet that pays: the team's, or the person's.
    pub fn wallet_owner(&self) -> &str {
        self.team_id.as_deref().unwrap_or(&self.user_id)
    }

    /// Prices `input` at the paying wallet's price and decides who pays: the steps before
    /// any work. Errors: the input's field (validation), or missing credits.
    pub async fn prepare(
        state: &AppState,
        acting: &Acting,
        request_id: String,
        endpoint_id: &EndpointId,
        input: Value,
    ) -> Result<Self, AppError> {
        let estimate = priced(state, acting.owner_id(), endpoint_id, &input).await?;
        let payer = payer_for(state, acting.owner_id(), estimate.price.provider, estimate.cost).await?;
        Ok(Self {
            user_id: acting.user.id.clone(),
            team_id: acting.team_id().map(str::to_string),
            request_id,
            input,
            estimate,
            payer,
            run: None,
            digest: None,
            rerun_of: None,
            budgets: Vec::new(),
        })
    }

    /// A call paid with a key sent with it (fal only): no credit check.
    pub async fn with_call_key(
        state: &AppState,
        acting: &Acting,
        request_id: String,
        endpoint_id: &EndpointId,
        input: Value,
        key: String,
    ) -> Result<Self, AppError> {
        let estimate = priced(state, acting.owner_id(), endpoint_id, &input).await?;
        if estimate.price.provider != Provider::Fal {
            return Err(AppError::validation("Tollgate-Fal-Key", "Tollgate-Fal-Key pays for fal endpoints only."));
        }
        Ok(Self {
            user_id: acting.user.id.clone(),
            team_id: acting.team_id().map(str::to_string),
            request_id,
            input,
            estimate,
            payer: Payer::CallKey(key),
            run: None,
            digest: None,
            rerun_of: None,
            budgets: Vec::new(),
        })
    }
}

/// The caller's price for the endpoint, and the estimate for `input`.
async fn priced(
    state: &AppState,
    user_id: &str,
    endpoint_id: &EndpointId,
    input: &Value,
) -> Result<Estimate, AppError> {
    let price = super::pricing::price_for(state, user_id, endpoint_id).await?.price;
    super::estimate::estimate(price, input)
}

/// A call under way: what finishing it needs, as its usage record keeps it.
#[derive(Clone, Debug)]
pub struct Call {
    /// The call's own id, made here: its usage record, its ledger keys and (queued) its job.
    pub id: String,
    /// The id the caller gave the request (`X-Request-Id`), unique within its account.
    pub request_id: String,
    pub user_id: String,
    /// The team whose wallet paid, if not the person's own.
    pub team_id: Option<String>,
    pub endpoint_id: EndpointId,
    pub provider: Provider,
    pub operation: String,
    pub unit: Unit,
    pub unit_price: Micros,
    /// The estimated units and cost (what was held).
    pub units: MilliUnits,
    pub cost_estimate: Micros,
    pub paid_with: PaidWith,
    /// The key that paid is the one saved in Settings (so a refusal marks it refused).
    pub key_saved: bool,
    pub hold_id: Option<i64>,
    /// The run whose budget holds this call's estimate.
    pub budget_run: Option<String>,
    /// What was asked, hashed (API calls only).
    pub digest: Option<String>,
    /// Whose wallet's place among its calls in flight this call holds (given back when
    /// it finishes).
    pub in_flight_owner: Option<String>,
}

impl Call {
    /// The owner id of the wallet that pays: the team's, or the caller's.
    pub fn wallet_owner(&self) -> &str {
        self.team_id.as_deref().unwrap_or(&self.user_id)
    }

    pub(super) fn new(request: &CallRequest) -> Self {
        let price = &request.estimate.price;
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            request_id: request.request_id.clone(),
            user_id: request.user_id.clone(),
            team_id: request.team_id.clone(),
            endpoint_id: price.endpoint_id.clone(),
            provider: price.provider,
            operation: price.operation.to_string(),
            unit: price.unit,
            unit_price: price.unit_price,
            units: request.estimate.units,
            cost_estimate: request.estimate.cost,
            paid_with: request.payer.paid_with(),
            key_saved: matches!(request.payer, Payer::OwnKey(_)),
            hold_id: None,
            budget_run: None,
            digest: request.digest.clone(),
            in_flight_owner: None,
        }
    }
}

/// What finishing a call settled, and what the caller is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub units: MilliUnits,
    pub cost: Micros,
    pub charged: Micros,
    pub answer: Answer,
}
