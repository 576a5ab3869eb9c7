//! A call's money, begun and finished: the usage record, the run's budget and the hold,
//! each step in one transaction.
//!
//! Beginning places the hold before the provider is called, so work that starts is
//! funded even if other spending empties the wallet meanwhile, and takes one of the
//! wallet's places for calls in flight, given back when the call is finished. Finishing is guarded by
//! the usage record's status, so a call is settled exactly once even when two instances
//! try; a failure voids the hold and nothing is charged.

use std::sync::Arc;

use serde_json::{Value, json};

use super::answer::{self, Answer};
use super::estimate::MilliUnits;
use super::in_flight;
use super::jobs::NewJob;
use super::request::{Call, CallRequest, Outcome, Settled};
use super::run_cap::{self, RunCap};
use super::units::{produced_units, reported_cost};
use super::usage;
use crate::server::adapters::providers::RunFailure;
use crate::server::infra::db::WriteTx;
use crate::server::infra::group_commit::Step;
use crate::server::infra::state::AppState;
use crate::server::ledger::{AccountId, CaptureRequest, HoldRequest, LedgerError};
use crate::server::services::billing::Payer;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::{CallFailure, CallStatus};

/// Why a call was refused before it ran, and how the caller hears of it.
type Refused = (CallFailure, Outcome);

/// Begins a call in one transaction: its usage record (owned by this instance), its
/// share of the run's budget, (paid with credits) a hold of the estimate for
/// `hold_ttl_ms`, a place among its wallet's calls in flight, and for a queued call its
/// job row. A call that does not fit its run's cap, a budget, the wallet or the wallet's
/// calls in flight is refused, and the refusal is the outcome; so is a request id the
/// account already used ([`Outcome::Repeated`]).
///
/// The transaction is shared with other calls beginning and finishing at the same time
/// (group commit, see [`crate::server::infra::group_commit`]): the call is begun once
/// that transaction has committed, and another call's refusal never touches it.
pub async fn begin(
    state: &AppState,
    request: &CallRequest,
    hold_ttl_ms: i64,
    job: Option<&NewJob>,
) -> Result<Result<Call, Outcome>, AppError> {
    let wallet = match request.payer {
        Payer::Credits => Some(match state.ledger.find_wallet(request.wallet_owner()).await? {
            Some(w) => w,
            None => state.ledger.open_wallet(request.wallet_owner()).await?,
        }),
        Payer::OwnKey(_) | Payer::CallKey(_) => None,
    };
    let owner = in_flight::Owner::of(&request.user_id, request.team_id.as_deref());
    let tier_max = in_flight::tier_limit(state, owner).await?;
    let beginning = Arc::new(Beginning {
        state: state.clone(),
        request: request.clone(),
        call: Call::new(request),
        wallet,
        owner_id: owner.id().to_string(),
        tier_max,
        hold_ttl_ms,
        job: job.map(|j| NewJob { deadline_ms: j.deadline_ms }),
    });
    let began = state
        .db
        .write_grouped(owner.id(), move |tx| {
            let beginning = beginning.clone();
            Box::pin(async move { beginning.run(tx).await })
        })
        .await?;
    match began {
        Began::Admitted(call) => Ok(Ok(call)),
        Began::Refused(call, reason, outcome) => {
            // Nothing was admitted or held. A run-cap refusal is recorded against its run; a
            // call the balance does not cover is not, wherever it is refused (here or, as a
            // rule, before this transaction), so the history does not depend on which.
            // A rerun's refusal is not recorded: the call cut off still holds the request id
            // (its release was rolled back with the rest).
            if let (Outcome::OverRunCap { needed, left }, None) = (&outcome, &request.rerun_of) {
                let answer = answer::over_run_cap(*needed, *left);
                let run_id = request.run.as_ref().map(|r| r.run_id.as_str());
                usage::insert_refused(&state.db, &call, run_id, reason, state.instance, &answer).await?;
            }
            Ok(Err(outcome))
        }
        Began::Busy => Ok(Err(Outcome::Busy(in_flight::standing(state, owner).await?.busy()))),
        Began::Repeated => Ok(Err(Outcome::Repeated)),
    }
}

/// What beginning a call needs inside its transaction.
struct Beginning {
    state: AppState,
    request: CallRequest,
    call: Call,
    wallet: Option<AccountId>,
    owner_id: String,
    tier_max: u32,
    hold_ttl_ms: i64,
    job: Option<NewJob>,
}

/// How beginning a call ended.
enum Began {
    Admitted(Call),
    Refused(Call, CallFailure, Outcome),
    Busy,
    Repeated,
}

impl Beginning {
    /// The call's writes, in `tx`: kept when it is admitted, undone when it is refused.
    async fn run(&self, tx: &mut WriteTx) -> Result<Step<Began>, AppError> {
        let (state, request) = (&self.state, &self.request);
        let mut call = self.call.clone();
        let run_id = request.run.as_ref().map(|r| r.run_id.as_str());
        if let Some(cut_off) = &request.rerun_of {
            // A retry of a call a crash cut off: that call gives up the request id. If it
            // is not such a call any more, the insert below finds the id taken.
            usage::free_request_id(tx, &request.user_id, &request.request_id, cut_off).await?;
        }
        let mut refused = admit_to_run(tx, request, &mut call).await?;
        if let (None, Payer::Credits) = (&refused, &request.payer) {
            // Lock order: the run's cap, then the budgets, then the wallet.
            let now = crate::server::infra::installation::now_ms();
            if let Err(over) = super::budgets::admit(tx, &call.id, &request.budgets, request.estimate.cost, now).await?
            {
                refused = Some((CallFailure::InsufficientCredits, Outcome::OverBudget(over)));
            }
        }
        if let (None, Some(wallet)) = (&refused, self.wallet) {
            refused = hold_estimate(state, tx, request, &mut call, wallet, self.hold_ttl_ms).await?;
        }
        if let Some((reason, outcome)) = refused {
            return Ok(Step::Undo(Began::Refused(call, reason, outcome)));
        }
        // Lock order: the wallet, then its calls in flight.
        if in_flight::take(tx, &self.owner_id, self.tier_max).await?.is_err() {
            return Ok(Step::Undo(Began::Busy));
        }
        call.in_flight_owner = Some(self.owner_id.clone());
        if !usage::insert_running(tx, &call, run_id, state.instance).await? {
            return Ok(Step::Undo(Began::Repeated));
        }
        if let Some(job) = &self.job {
            job.insert(tx, &call).await?;
        }
        Ok(Step::Keep(Began::Admitted(call)))
    }
}

/// Credits spent in a capped run are admitted into the run's budget first.
async fn admit_to_run(tx: &mut WriteTx, request: &CallRequest, call: &mut Call) -> Result<Option<Refused>, AppError> {
    let (Payer::Credits, Some(RunCap { run_id, cap: Some(cap) })) = (&request.payer, &request.run) else {
        return Ok(None);
    };
    let cost = request.estimate.cost;
    Ok(match run_cap::admit(tx, &request.user_id, run_id, *cap, cost).await? {
        Ok(()) => {
            call.budget_run = Some(run_id.clone());
            None
        }
        Err(over) => Some((
            CallFailure::RunCap,
            Outcome::OverRunCap { needed: cost, left: Micros((over.cap.get() - over.committed.get()).max(0)) },
        )),
    })
}

/// Holds the estimate in the wallet; a balance that does not cover it is a refusal.
async fn hold_estimate(
    state: &AppState,
    tx: &mut WriteTx,
    request: &CallRequest,
    call: &mut Call,
    wallet: AccountId,
    ttl_ms: i64,
) -> Result<Option<Refused>, AppError> {
    let hold = HoldRequest {
        idempotency_key: format!("run:{}", call.id),
        wallet,
        amount: request.estimate.cost,
        ttl_ms,
        description: format!("Running {}", call.endpoint_id),
        metadata: json!({ "call_id": call.id, "request_id": request.request_id }),
    };
    match state.ledger.create_hold_in(tx, &hold).await {
        Ok(hold) => {
            call.hold_id = Some(hold.id);
            Ok(None)
        }
        Err(LedgerError::InsufficientFunds { needed, available }) => {
            Ok(Some((CallFailure::InsufficientCredits, Outcome::Insufficient { needed, available })))
        }
        Err(e) => Err(e.into()),
    }
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
        None => super::estimate::cost_of(call.unit_price, units)?,
    };
    let finishing = Arc::new((state.clone(), call.clone(), output.clone(), units, cost));
    let settled = state
        .db
        .write_grouped(call.wallet_owner(), move |tx| {
            let finishing = finishing.clone();
            Box::pin(async move {
                let (state, call, output, units, cost) = &*finishing;
                settle(state, tx, call, output, *units, *cost).await
            })
        })
        .await?;
    let Some((charged, answer)) = settled else {
        return Ok(None);
    };
    if charged.is_positive() {
        // Auto top-up is set up per person; a team's wallet is topped up by its buyers.
        if call.team_id.is_none() {
            crate::server::services::payments::auto_top_up::after_spend(state, &call.user_id);
        }
    }
    Ok(Some(Settled { units, cost, charged, answer }))
}

/// Settles a call that produced `output` inside `tx`: `None` (and nothing written) when
/// it was finished before; else what was charged and the answer.
async fn settle(
    state: &AppState,
    tx: &mut WriteTx,
    call: &Call,
    output: &Value,
    units: MilliUnits,
    cost: Micros,
) -> Result<Step<Option<(Micros, Answer)>>, AppError> {
    if !usage::claim_finish(tx, &call.id, CallStatus::Succeeded, None).await? {
        return Ok(Step::Undo(None));
    }
    if let Some(run_id) = &call.budget_run {
        // Lock order as in `begin`: the run's budget before the wallet.
        run_cap::lock(tx, &call.user_id, run_id).await?;
    }
    let counted = super::budgets::lock(tx, &call.id).await?;
    let charged = match call.hold_id {
        Some(hold_id) => capture(state, tx, call, hold_id, cost).await?,
        None => Micros::ZERO,
    };
    let answer = answer::done(call, output, cost, charged);
    usage::record_settled(tx, &call.id, units.0, cost, charged, &answer).await?;
    if let Some(run_id) = &call.budget_run {
        run_cap::settle(tx, &call.user_id, run_id, call.cost_estimate, charged).await?;
    }
    if counted == super::budgets::Counted::InBudgets {
        super::budgets::settle(tx, &call.id, charged).await?;
    }
    if let Some(owner) = &call.in_flight_owner {
        in_flight::release(tx, owner).await?;
    }
    Ok(Step::Keep(Some((charged, answer))))
}

/// Captures `cost` from the call's hold; what it took from the wallet.
async fn capture(
    state: &AppState,
    tx: &mut WriteTx,
    call: &Call,
    hold_id: i64,
    cost: Micros,
) -> Result<Micros, AppError> {
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
    match state.ledger.capture_hold_in(tx, &capture).await {
        Ok(receipt) => {
            if receipt.uncollected.is_positive() {
                tracing::warn!(
                    call_id = %call.id,
                    uncollected = receipt.uncollected.get(),
                    "call cost more than could be collected"
                );
            }
            Ok(receipt.charged)
        }
        Err(e @ (LedgerError::HoldExpired(_) | LedgerError::HoldNotOpen { .. })) => {
            // The hold ran out before the work did: the work is delivered, but nothing
            // can be charged against a released reservation.
            tracing::error!(call_id = %call.id, error = %e, "finished after its hold; not charged");
            Ok(Micros::ZERO)
        }
        Err(e) => Err(e.into()),
    }
}

/// Finishes a call that failed: the hold is voided, nothing is charged, the run's budget
/// gets the estimate back, and the usage record keeps the reason and the answer. The
/// answer, or `None` when the call was finished before.
pub async fn finish_failed(state: &AppState, call: &Call, failure: &RunFailure) -> Result<Option<Answer>, AppError> {
    let answer = answer::failed(call, failure);
    if !void(state, call, failure.reason(), &answer).await? {
        return Ok(None);
    }
    if *failure == RunFailure::KeyRefused && call.key_saved {
        // The key that paid is the paying wallet's: the team's, or the person's.
        crate::server::services::keys::mark_rejected(state, call.wallet_owner(), call.provider).await?;
    }
    tracing::warn!(
        call_id = %call.id,
        endpoint_id = %call.endpoint_id,
        failure = failure.code(),
        "call failed; nothing charged"
    );
    Ok(Some(answer))
}

/// Settles a call cut off by a crash before the provider's answer arrived: voided like a
/// failure, as "interrupted". `false` when the call was finished before.
pub async fn finish_interrupted(state: &AppState, call: &Call) -> Result<bool, AppError> {
    void(state, call, CallFailure::Interrupted, &answer::interrupted(call)).await
}

/// Ends a call with nothing charged, for `reason`: its hold voided, its run's budget given
/// the estimate back, a queued call's job row (if still submitting) failed with it.
async fn void(state: &AppState, call: &Call, reason: CallFailure, answer: &Answer) -> Result<bool, AppError> {
    let voiding = Arc::new((state.clone(), call.clone(), answer.clone()));
    state
        .db
        .write_grouped(call.wallet_owner(), move |tx| {
            let voiding = voiding.clone();
            Box::pin(async move {
                let (state, call, answer) = &*voiding;
                void_in(state, tx, call, reason, answer).await
            })
        })
        .await
}

/// [`void`] inside `tx`: `false` (and nothing written) when the call was finished before.
async fn void_in(
    state: &AppState,
    tx: &mut WriteTx,
    call: &Call,
    reason: CallFailure,
    answer: &Answer,
) -> Result<Step<bool>, AppError> {
    if !usage::claim_finish(tx, &call.id, CallStatus::Failed, Some(reason)).await? {
        return Ok(Step::Undo(false));
    }
    usage::store_answer(&mut ***tx, &call.id, answer).await?;
    // Lock order as in `begin`: the run's budget before the wallet.
    if let Some(run_id) = &call.budget_run {
        run_cap::settle(tx, &call.user_id, run_id, call.cost_estimate, Micros::ZERO).await?;
    }
    if super::budgets::lock(tx, &call.id).await? == super::budgets::Counted::InBudgets {
        super::budgets::settle(tx, &call.id, Micros::ZERO).await?;
    }
    if let Some(hold_id) = call.hold_id {
        match state.ledger.void_hold_in(tx, hold_id).await {
            // An expired hold was released by the sweeper already.
            Ok(_) | Err(LedgerError::HoldNotOpen { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(owner) = &call.in_flight_owner {
        in_flight::release(tx, owner).await?;
    }
    super::jobs::fail_unsubmitted(tx, &call.id, reason).await?;
    Ok(Step::Keep(true))
}
