//! Running a call: hold the estimate, call the provider, charge what was produced.
//!
//! The hold is placed before the provider is called, so work that starts is funded even
//! if other spending empties the wallet meanwhile; a new call that does not fit gets 402.
//! A provider failure (5xx, timeout, network, refused input) voids the hold: nothing is
//! charged, and the usage record says why.

use serde_json::{Value, json};

use super::estimate::{Estimate, MilliUnits, cost_of};
use super::run_cap::{self, RunCap};
use super::usage;
use crate::api::keys::Provider;
use crate::error::AppError;
use crate::money::Micros;
use crate::server::billing::Payer;
use crate::server::ledger::{CaptureRequest, HoldRequest, LedgerError};
use crate::server::providers::RunFailure;
use crate::server::state::AppState;

/// How long a hold for a running call lives before the sweeper releases it.
const HOLD_TTL_MS: i64 = 15 * 60 * 1000;

/// How a call ended, for the API answer.
pub enum Outcome {
    Done {
        output: Value,
        cost: Micros,
        charged: Micros,
    },
    Failed(RunFailure),
    /// The call would push its run over the run's cap.
    OverRunCap {
        needed: Micros,
        left: Micros,
    },
    /// Another call took the funds between the check and the hold.
    Insufficient {
        needed: Micros,
        available: Micros,
    },
}

/// Units actually produced: counted from the output where the unit allows it.
fn produced_units(estimate: &Estimate, output: &Value) -> MilliUnits {
    use super::catalog::Unit;
    let images = output.get("images").and_then(Value::as_array);
    if estimate.price.unit == Unit::KiloTokens
        && let Some(total) = output.pointer("/usage/total_tokens").and_then(Value::as_u64)
    {
        // Token blocks of 1,000: total tokens are thousandths of a block.
        return MilliUnits(total);
    }
    match (estimate.price.unit, images) {
        (Unit::Image, Some(list)) => MilliUnits::whole(list.len() as u64),
        (Unit::Megapixel, Some(list)) => {
            let pixels: u64 = list
                .iter()
                .map(|i| {
                    i.get("width").and_then(Value::as_u64).unwrap_or(0)
                        * i.get("height").and_then(Value::as_u64).unwrap_or(0)
                })
                .sum();
            if pixels == 0 { estimate.units } else { MilliUnits(pixels.div_ceil(1000)) }
        }
        _ => estimate.units,
    }
}

/// Prices a call from its input at the caller's price and decides who pays: the steps
/// before any work, shared by the JSON API and the Studio. Errors: the input's field
/// (validation), or missing credits (insufficient credits).
pub async fn prepare(
    state: &AppState,
    user_id: &str,
    endpoint_id: &str,
    input: &Value,
) -> Result<(Estimate, Payer), AppError> {
    let price = super::pricing::price_for(state, user_id, endpoint_id).await?.price;
    let estimate = super::estimate::estimate(price, input)?;
    let payer = crate::server::billing::payer_for(state, user_id, estimate.price.provider, estimate.cost).await?;
    Ok((estimate, payer))
}

/// The cost a provider reported for the call (OpenRouter's `usage.cost`, in dollars),
/// rounded up to the micro-dollar.
fn reported_cost(output: &Value) -> Option<Micros> {
    let dollars = output.pointer("/usage/cost")?.as_f64()?;
    (dollars.is_finite() && dollars >= 0.0).then(|| Micros((dollars * 1_000_000.0).ceil() as i64))
}

pub async fn execute(
    state: &AppState,
    user_id: &str,
    request_id: &str,
    estimate: &Estimate,
    payer: &Payer,
    input: &Value,
    run: Option<&RunCap>,
) -> Result<Outcome, AppError> {
    usage::start(&state.db, request_id, user_id, estimate, payer.as_str(), run.map(|r| r.run_id.as_str())).await?;

    // Credits spent in a capped run: admitted into the run's budget first.
    let capped = match (payer, run) {
        (Payer::Credits, Some(RunCap { run_id, cap: Some(cap) })) => {
            if let Err(over) = run_cap::admit(&state.db, user_id, run_id, *cap, estimate.cost).await? {
                usage::failed(&state.db, request_id, "run_cap").await?;
                let left = Micros((over.cap.get() - over.committed.get()).max(0));
                return Ok(Outcome::OverRunCap { needed: estimate.cost, left });
            }
            Some(run_id.as_str())
        }
        _ => None,
    };
    let settle = |charged: Micros| async move {
        match capped {
            Some(run_id) => run_cap::settle(&state.db, user_id, run_id, estimate.cost, charged).await,
            None => Ok(()),
        }
    };

    let hold = match payer {
        Payer::OwnKey(_) => None,
        Payer::Credits => {
            let wallet = state.ledger.open_wallet(user_id).await?;
            let request = HoldRequest {
                idempotency_key: format!("run:{request_id}"),
                wallet,
                amount: estimate.cost,
                ttl_ms: HOLD_TTL_MS,
                description: format!("Running {}", estimate.price.endpoint_id),
                metadata: json!({ "request_id": request_id }),
            };
            match state.ledger.create_hold(&request).await {
                Ok(hold) => {
                    usage::set_hold(&state.db, request_id, hold.id).await?;
                    Some(hold)
                }
                Err(LedgerError::InsufficientFunds { needed, available }) => {
                    settle(Micros::ZERO).await?;
                    usage::failed(&state.db, request_id, "insufficient_credits").await?;
                    return Ok(Outcome::Insufficient { needed, available });
                }
                Err(e) => return Err(e.into()),
            }
        }
    };

    let own_key = match payer {
        Payer::OwnKey(k) => Some(k.as_str()),
        Payer::Credits => None,
    };
    let result = match estimate.price.provider {
        Provider::Fal => state.providers.run_fal(&estimate.price.endpoint_id, own_key, input).await,
        Provider::OpenRouter => {
            let model = estimate.price.endpoint_id.strip_prefix("openrouter/").unwrap_or(&estimate.price.endpoint_id);
            state.providers.run_openrouter_chat(model, own_key, input).await
        }
    };

    match result {
        Ok(output) => {
            let units = produced_units(estimate, &output);
            let cost = match reported_cost(&output) {
                Some(cost) => cost,
                None => cost_of(estimate.price.unit_price, units)?,
            };
            let charged = match hold {
                Some(hold) => {
                    let capture = CaptureRequest {
                        idempotency_key: format!("capture:{request_id}"),
                        hold_id: hold.id,
                        actual: cost,
                        description: estimate.price.endpoint_id.clone(),
                        metadata: json!({
                            "provider": estimate.price.provider.label(),
                            "model": estimate.price.endpoint_id,
                            "operation": estimate.price.operation,
                            "request_id": request_id,
                        }),
                    };
                    let receipt = state.ledger.capture_hold(&capture).await?;
                    if receipt.uncollected.is_positive() {
                        tracing::warn!(
                            request_id,
                            uncollected = receipt.uncollected.get(),
                            "call cost more than could be collected"
                        );
                    }
                    receipt.charged
                }
                None => Micros::ZERO,
            };
            settle(charged).await?;
            usage::succeeded(&state.db, request_id, units.0, cost, charged).await?;
            Ok(Outcome::Done { output, cost, charged })
        }
        Err(failure) => {
            if let Some(hold) = hold {
                state.ledger.void_hold(hold.id).await?;
            }
            if failure == RunFailure::KeyRefused && own_key.is_some() {
                crate::server::keys::mark_rejected(&state.db, user_id, estimate.price.provider).await?;
            }
            settle(Micros::ZERO).await?;
            usage::failed(&state.db, request_id, failure.code()).await?;
            tracing::warn!(request_id, endpoint_id = %estimate.price.endpoint_id, failure = failure.code(), "call failed; nothing charged");
            Ok(Outcome::Failed(failure))
        }
    }
}
