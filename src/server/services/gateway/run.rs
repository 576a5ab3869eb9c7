//! Running a call: hold the estimate, call the provider, charge what was produced.
//!
//! The hold is placed before the provider is called, so work that starts is funded even
//! if other spending empties the wallet meanwhile; a new call that does not fit gets 402.
//! A provider failure (5xx, timeout, network, refused input) voids the hold: nothing is
//! charged, and the usage record says why.
//!
//! A call touches the database twice: once to begin it (usage record, run budget and hold
//! in one transaction) and once to finish it (capture or void, usage record and run
//! budget in another). Finishing is guarded by the usage record's status, so a call is
//! settled exactly once even when two instances try.

use serde_json::{Value, json};

use super::catalog::Unit;
use super::estimate::{Estimate, MilliUnits, cost_of};
use super::run_cap::{self, RunCap};
use super::usage;
use crate::server::adapters::providers::RunFailure;
use crate::server::infra::db::db_err;
use crate::server::infra::state::AppState;
use crate::server::ledger::{CaptureRequest, HoldRequest, LedgerError};
use crate::server::services::billing::Payer;
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// How long a hold for a synchronous call lives before the sweeper releases it.
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

/// A call under way: what finishing it needs, as its usage record keeps it.
#[derive(Clone, Debug)]
pub struct Call {
    /// The call's own id, made here: its usage record, its ledger keys and (queued) its job.
    pub id: String,
    /// The id the caller gave the request (`X-Request-Id`), unique within its account.
    pub request_id: String,
    pub user_id: String,
    pub endpoint_id: EndpointId,
    pub provider: Provider,
    pub operation: String,
    pub unit: Unit,
    pub unit_price: Micros,
    /// The estimated units and cost (what was held).
    pub units: MilliUnits,
    pub cost_estimate: Micros,
    pub paid_with: &'static str,
    /// The key that paid is the one saved in Settings (so a refusal marks it refused).
    pub key_saved: bool,
    pub hold_id: Option<i64>,
    /// The run whose budget holds this call's estimate.
    pub budget_run: Option<String>,
}

/// What finishing a call settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub units: MilliUnits,
    pub cost: Micros,
    pub charged: Micros,
}

/// Units actually produced: counted from the output where the unit allows it.
/// `machine_seconds` is the running time the provider reported (queue time excluded).
pub fn produced_units(unit: Unit, estimated: MilliUnits, output: &Value, machine_seconds: Option<f64>) -> MilliUnits {
    let seconds_to_milli = |s: f64| (s.is_finite() && s > 0.0).then(|| MilliUnits((s * 1000.0).ceil() as u64));
    match unit {
        Unit::KiloTokens => match output.pointer("/usage/total_tokens").and_then(Value::as_u64) {
            // Token blocks of 1,000: total tokens are thousandths of a block.
            Some(total) => MilliUnits(total),
            None => estimated,
        },
        Unit::Image => match output.get("images").and_then(Value::as_array) {
            Some(list) => MilliUnits::whole(list.len() as u64),
            None => estimated,
        },
        Unit::Megapixel => {
            let pixels: u64 = output
                .get("images")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|i| {
                            i.get("width").and_then(Value::as_u64).unwrap_or(0)
                                * i.get("height").and_then(Value::as_u64).unwrap_or(0)
                        })
                        .sum()
                })
                .unwrap_or(0);
            if pixels == 0 { estimated } else { MilliUnits(pixels.div_ceil(1000)) }
        }
        Unit::Video => match output.get("videos").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => MilliUnits::whole(list.len() as u64),
            _ => estimated,
        },
        Unit::VideoSecond => output
            .pointer("/video/duration")
            .or_else(|| output.get("duration"))
            .and_then(Value::as_f64)
            .and_then(seconds_to_milli)
            .unwrap_or(estimated),
        // Machine time the provider reports: the queue's metrics, or the output's timings.
        Unit::GpuSecond => machine_seconds
            .or_else(|| output.pointer("/timings/inference").and_then(Value::as_f64))
            .and_then(seconds_to_milli)
            .unwrap_or(estimated),
        Unit::Request => estimated,
    }
}

/// Prices a call from its input at the caller's price and decides who pays: the steps
/// before any work, shared by the JSON API and the Studio. Errors: the input's field
/// (validation), or missing credits (insufficient credits).
pub async fn prepare(
    state: &AppState,
    user_id: &str,
    endpoint_id: &EndpointId,
    input: &Value,
) -> Result<(Estimate, Payer), AppError> {
    let price = super::pricing::price_for(state, user_id, endpoint_id).await?.price;
    let estimate = super::estimate::estimate(price, input)?;
    let payer =
        crate::server::services::billing::payer_for(state, user_id, estimate.price.provider, estimate.cost).await?;
    Ok((estimate, payer))
}

/// The cost a provider reported for the call (OpenRouter's `usage.cost`, in dollars),
/// rounded up to the micro-dollar.
fn reported_cost(output: &Value) -> Option<Micros> {
    let dollars = output.pointer("/usage/cost")?.as_f64()?;
    (dollars.is_finite() && dollars >= 0.0).then(|| Micros((dollars * 1_000_000.0).ceil() as i64))
}

/// Begins a call in one transaction: its usage record, its share of the run's budget,
/// and (paid with credits) a hold of the estimate for `hold_ttl_ms`. A call that does not
/// fit its run's cap or the wallet is recorded as failed and comes back as the outcome.
pub async fn begin(
    state: &AppState,
    user_id: &str,
    request_id: &str,
    estimate: &Estimate,
    payer: &Payer,
    run: Option<&RunCap>,
    hold_ttl_ms: i64,
) -> Result<Result<Call, Outcome>, AppError> {
    let mut call = Call {
        id: uuid::Uuid::new_v4().to_string(),
        request_id: request_id.to_string(),
        user_id: user_id.to_string(),
        endpoint_id: estimate.price.endpoint_id.clone(),
        provider: estimate.price.provider,
        operation: estimate.price.operation.to_string(),
        unit: estimate.price.unit,
        unit_price: estimate.price.unit_price,
        units: estimate.units,
        cost_estimate: estimate.cost,
        paid_with: payer.as_str(),
        key_saved: matches!(payer, Payer::OwnKey(_)),
        hold_id: None,
        budget_run: None,
    };
    let wallet = match payer {
        Payer::Credits => Some(match state.ledger.find_wallet(user_id).await? {
            Some(w) => w,
            None => state.ledger.open_wallet(user_id).await?,
        }),
        Payer::OwnKey(_) | Payer::CallKey(_) => None,
    };
    let mut tx = state.db.begin_write().await.map_err(db_err("beginning a call"))?;
    let refused = match (payer, run) {
        // Credits spent in a capped run: admitted into the run's budget first.
        (Payer::Credits, Some(RunCap { run_id, cap: Some(cap) })) => {
            match run_cap::admit(&mut tx, user_id, run_id, *cap, estimate.cost).await? {
                Ok(()) => {
                    call.budget_run = Some(run_id.clone());
                    None
                }
                Err(over) => Some((
                    "run_cap",
                    Outcome::OverRunCap {
                        needed: estimate.cost,
                        left: Micros((over.cap.get() - over.committed.get()).max(0)),
                    },
                )),
            }
        }
        _ => None,
    };
    let refused = match (refused, wallet) {
        (None, Some(wallet)) => {
            let request = HoldRequest {
                idempotency_key: format!("run:{}", call.id),
                wallet,
                amount: estimate.cost,
                ttl_ms: hold_ttl_ms,
                description: format!("Running {}", estimate.price.endpoint_id),
                metadata: json!({ "call_id": call.id, "request_id": request_id }),
            };
            match state.ledger.create_hold_in(&mut tx, &request).await {
                Ok(hold) => {
                    call.hold_id = Some(hold.id);
                    None
                }
                Err(LedgerError::InsufficientFunds { needed, available }) => {
                    Some(("insufficient_credits", Outcome::Insufficient { needed, available }))
                }
                Err(LedgerError::IdempotencyConflict(_)) => {
                    tx.rollback().await.map_err(db_err("beginning a call"))?;
                    return Err(usage::repeated(request_id));
                }
                Err(e) => return Err(e.into()),
            }
        }
        (refused, _) => refused,
    };
    if let Some((reason, outcome)) = refused {
        // Nothing was admitted or held. A run-cap refusal is recorded against its run; a
        // call the balance does not cover is not, wherever it is refused (here or, as a
        // rule, before this transaction), so the history does not depend on which.
        tx.rollback().await.map_err(db_err("beginning a call"))?;
        if reason != "insufficient_credits" {
            usage::insert_refused(&state.db, &call, run.map(|r| r.run_id.as_str()), reason).await?;
        }
        return Ok(Err(outcome));
    }
    usage::insert_running(&mut tx, &call, run.map(|r| r.run_id.as_str())).await?;
    tx.commit().await.map_err(db_err("beginning a call"))?;
    Ok(Ok(call))
}

/// Finishes a call that produced `output`: charges the effective cost (capped by what the
/// wallet holds), records it, and settles the run's budget. `None` when the call was
/// finished before (by another poller, say): nothing is done twice.
pub async fn finish_ok(
    state: &AppState,
    call: &Call,
    output: &Value,
    machine_seconds: Option<f64>,
) -> Result<Option<Settled>, AppError> {
    let units = produced_units(call.unit, call.units, output, machine_seconds);
    let cost = match reported_cost(output) {
        Some(cost) => cost,
        None => cost_of(call.unit_price, units)?,
    };
    let mut tx = state.db.begin_write().await.map_err(db_err("finishing a call"))?;
    if !usage::claim_finish(&mut tx, &call.id, "succeeded", None).await? {
        tx.rollback().await.map_err(db_err("finishing a call"))?;
        return Ok(None);
    }
    if let Some(run_id) = &call.budget_run {
        // Lock order as in `begin`: the run's budget before the wallet.
        run_cap::lock(&mut tx, &call.user_id, run_id).await?;
    }
    let charged = match call.hold_id {
        Some(hold_id) => {
            let capture = CaptureRequest {
                idempotency_key: format!("capture:{}", call.id),
                hold_id,
                actual: cost,
                description: call.endpoint_id.to_string(),
                metadata: json!({
                    "provider": call.provider.label(),
                    "model": call.endpoint_id,
                    "operation": call.operation,
                    "call_id": call.id,
                    "request_id": call.request_id,
                }),
            };
            match state.ledger.capture_hold_in(&mut tx, &capture).await {
                Ok(receipt) => {
                    if receipt.uncollected.is_positive() {
                        tracing::warn!(
                            call_id = %call.id,
                            uncollected = receipt.uncollected.get(),
                            "call cost more than could be collected"
                        );
                    }
                    receipt.charged
                }
                Err(e @ (LedgerError::HoldExpired(_) | LedgerError::HoldNotOpen { .. })) => {
                    // The hold ran out before the work did: the work is delivered, but
                    // nothing can be charged against a released reservation.
                    tracing::error!(call_id = %call.id, error = %e, "finished after its hold; not charged");
                    Micros::ZERO
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => Micros::ZERO,
    };
    usage::record_settled(&mut tx, &call.id, units.0, cost, charged).await?;
    if let Some(run_id) = &call.budget_run {
        run_cap::settle(&mut tx, &call.user_id, run_id, call.cost_estimate, charged).await?;
    }
    tx.commit().await.map_err(db_err("finishing a call"))?;
    Ok(Some(Settled { units, cost, charged }))
}

/// Finishes a call that failed: the hold is voided, nothing is charged, the run's budget
/// gets the estimate back, and the usage record keeps the reason. `false` when the call
/// was finished before.
pub async fn finish_failed(state: &AppState, call: &Call, failure: &RunFailure) -> Result<bool, AppError> {
    let mut tx = state.db.begin_write().await.map_err(db_err("finishing a call"))?;
    if !usage::claim_finish(&mut tx, &call.id, "failed", Some(failure.code())).await? {
        tx.rollback().await.map_err(db_err("finishing a call"))?;
        return Ok(false);
    }
    // Lock order as in `begin`: the run's budget before the wallet.
    if let Some(run_id) = &call.budget_run {
        run_cap::settle(&mut tx, &call.user_id, run_id, call.cost_estimate, Micros::ZERO).await?;
    }
    if let Some(hold_id) = call.hold_id {
        match state.ledger.void_hold_in(&mut tx, hold_id).await {
            // An expired hold was released by the sweeper already.
            Ok(_) | Err(LedgerError::HoldNotOpen { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await.map_err(db_err("finishing a call"))?;
    if *failure == RunFailure::KeyRefused && call.key_saved {
        crate::server::services::keys::mark_rejected(state, &call.user_id, call.provider).await?;
    }
    tracing::warn!(
        call_id = %call.id,
        endpoint_id = %call.endpoint_id,
        failure = failure.code(),
        "call failed; nothing charged"
    );
    Ok(true)
}

/// Runs a call synchronously: begin, call the provider, finish.
pub async fn execute(
    state: &AppState,
    user_id: &str,
    request_id: &str,
    estimate: &Estimate,
    payer: &Payer,
    input: &Value,
    run: Option<&RunCap>,
) -> Result<Outcome, AppError> {
    let call = match begin(state, user_id, request_id, estimate, payer, run, HOLD_TTL_MS).await? {
        Ok(call) => call,
        Err(refused) => return Ok(refused),
    };
    let own_key = payer.key();
    let result = match call.provider {
        Provider::Fal => state.providers.run_fal(&call.endpoint_id, own_key, input).await,
        Provider::OpenRouter => state.providers.run_openrouter_chat(&call.endpoint_id, own_key, input).await,
    };
    match result {
        Ok(output) => match finish_ok(state, &call, &output, None).await? {
            Some(settled) => Ok(Outcome::Done { output, cost: settled.cost, charged: settled.charged }),
            None => Err(AppError::internal("finishing a call", "it was finished twice")),
        },
        Err(failure) => {
            finish_failed(state, &call, &failure).await?;
            Ok(Outcome::Failed(failure))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produced_units_come_from_the_output() {
        let est = MilliUnits(5000);
        let images = json!({"images": [{"width": 1000, "height": 1000}, {"width": 1000, "height": 500}]});
        assert_eq!(produced_units(Unit::Image, est, &images, None), MilliUnits(2000));
        assert_eq!(produced_units(Unit::Megapixel, est, &images, None), MilliUnits(1500));
        assert_eq!(
            produced_units(Unit::VideoSecond, est, &json!({"video": {"duration": 6.2}}), None),
            MilliUnits(6200)
        );
        assert_eq!(produced_units(Unit::VideoSecond, est, &json!({"video": {}}), None), est);
        assert_eq!(produced_units(Unit::GpuSecond, est, &json!({}), Some(3.2504)), MilliUnits(3251));
        assert_eq!(
            produced_units(Unit::GpuSecond, est, &json!({"timings": {"inference": 0.5}}), None),
            MilliUnits(500)
        );
        assert_eq!(produced_units(Unit::GpuSecond, est, &json!({}), Some(-1.0)), est, "a nonsense time is ignored");
        assert_eq!(
            produced_units(Unit::KiloTokens, est, &json!({"usage": {"total_tokens": 20}}), None),
            MilliUnits(20)
        );
        assert_eq!(produced_units(Unit::Request, est, &images, None), est);
    }
}
