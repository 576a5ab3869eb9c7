//! Running a call: a [`CallRequest`] (read, priced, its payer chosen) is begun, sent to
//! the provider, and finished (see [`super::call`]).
//!
//! The hold is placed before the provider is called, so work that starts is funded even
//! if other spending empties the wallet meanwhile; a new call that does not fit gets 402.
//! A provider failure (5xx, timeout, network, refused input) voids the hold: nothing is
//! charged, and the usage record says why.

use super::call::{begin, finish_failed, finish_ok};
use super::request::{CallRequest, Outcome};
use crate::server::infra::state::AppState;
use crate::shared::dto::keys::Provider;
use crate::shared::error::AppError;

/// How long a hold for a synchronous call lives before the sweeper releases it.
pub(super) const HOLD_TTL_MS: i64 = 15 * 60 * 1000;

/// Runs a call synchronously: begin, call the provider, finish. The call runs to its end
/// in a task of its own, so a caller that goes away (a closed connection) never leaves it
/// between its hold and its settlement, holding funds and a place among its wallet's
/// calls in flight until recovery.
pub async fn execute(state: &AppState, request: &CallRequest) -> Result<Outcome, AppError> {
    let (state, request) = (state.clone(), request.clone());
    tokio::spawn(async move { execute_here(&state, &request).await })
        .await
        .map_err(|e| AppError::internal("running a call", e))?
}

/// [`execute`] in the caller's own task: stopping that task cuts the call off where it
/// is, as a crash would (recovery then settles it).
pub async fn execute_here(state: &AppState, request: &CallRequest) -> Result<Outcome, AppError> {
    let call = match begin(state, request, HOLD_TTL_MS, None).await? {
        Ok(call) => call,
        Err(refused) => return Ok(refused),
    };
    let own_key = request.payer.key();
    let result = match call.provider {
        Provider::Fal => state.providers.run_fal(&call.endpoint_id, own_key, &request.input).await,
        Provider::OpenRouter => state.providers.run_openrouter_chat(&call.endpoint_id, own_key, &request.input).await,
    };
    match result {
        Ok(output) => match finish_ok(state, &call, &output, None).await? {
            Some(settled) => {
                Ok(Outcome::Done { output, cost: settled.cost, charged: settled.charged, answer: settled.answer })
            }
            None => Err(AppError::internal("finishing a call", "it was finished twice")),
        },
        Err(failure) => match finish_failed(state, &call, &failure).await? {
            Some(answer) => Ok(Outcome::Failed { failure, answer }),
            None => Err(AppError::internal("finishing a call", "it was finished twice")),
        },
    }
}
