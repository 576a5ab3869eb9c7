//! Refunds and disputes: Stripe's signed `charge.refunded`, `charge.dispute.created` and
//! `charge.dispute.closed` events take purchased credits back, or give them back.
//!
//! Credits are taken from the purchase's own lots first (its bonus in proportion), then
//! from the rest of the wallet's available credits; what was already spent becomes what
//! the wallet owes (see the ledger's claw-back), which blocks new work and is paid first
//! out of the next credits. A dispute decided for the payer gives back everything taken
//! for it. Every event is recorded in the same transaction as its effect, and every
//! ledger step has its own idempotency key, so a replay moves nothing.

use serde_json::Value;
use sqlx::Row;

use super::settle::{Handled, WebhookError, internal};
use crate::server::infra::db::WriteTx;
use crate::server::infra::state::AppState;
use crate::server::ledger::{AccountId, ClawbackRequest, CreditKind, CreditRequest, LedgerError, SystemAccount};
use crate::shared::money::Micros;

/// A completed purchase, found by its Stripe payment.
struct Purchase {
    session: String,
    amount: i64,
    bonus: i64,
    refunded: i64,
    wallet: AccountId,
}

/// The purchase paid by `payment_intent`, with the wallet it credited (its buyer's, or
/// the team's it was bought for). Read before the
/// write transaction (opening a wallet writes on its own).
async fn purchase_by_payment(state: &AppState, payment_intent: &str) -> Result<Purchase, WebhookError> {
    let row = sqlx::query(
        "select id, coalesce(team_id, user_id), amount_micros, bonus_micros, refunded_micros from checkout_session \
         where payment_intent = $1 and status = 'completed'",
    )
    .bind(payment_intent)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| internal(&e))?
    .ok_or_else(|| WebhookError::UnknownPayment(payment_intent.to_string()))?;
    let user_id: String = row.try_get(1).map_err(|e| internal(&e))?;
    Ok(Purchase {
        session: row.try_get(0).map_err(|e| internal(&e))?,
        amount: row.try_get(2).map_err(|e| internal(&e))?,
        bonus: row.try_get(3).map_err(|e| internal(&e))?,
        refunded: row.try_get(4).map_err(|e| internal(&e))?,
        wallet: state.ledger.open_wallet(&user_id).await.map_err(|e| internal(&e))?,
    })
}

/// Records the event; `false` when it was handled before.
async fn fresh_event(tx: &mut WriteTx, id: &str, kind: &str, now_ms: i64) -> Result<bool, WebhookError> {
    let inserted = sqlx::query(
        "insert into stripe_event (id, type, received_at_ms) values ($1, $2, $3) on conflict (id) do nothing",
    )
    .bind(id)
    .bind(kind)
    .bind(now_ms)
    .execute(&mut ***tx)
    .await
    .map_err(|e| internal(&e))?
    .rows_affected();
    Ok(inserted == 1)
}

/// The credit transfer a purchase made for `part` ("purchase" or "bonus").
async fn credit_of(tx: &mut WriteTx, session: &str, part: &str) -> Result<Option<i64>, WebhookError> {
    sqlx::query_scalar("select id from transfer where idempotency_key = $1")
        .bind(format!("checkout:{session}:{part}"))
        .fetch_optional(&mut ***tx)
        .await
        .map_err(|e| internal(&e))
}

/// What taking back a purchase's share did: taken (of which bonus) and owed.
#[derive(Default)]
struct Taken {
    taken: i64,
    taken_bonus: i64,
    owed: i64,
}

/// Takes back `paid` micro-dollars of the purchase and `bonus` of its bonus, under keys
/// starting with `key`.
async fn take_back(
    state: &AppState,
    tx: &mut WriteTx,
    p: &Purchase,
    key: &str,
    (paid, bonus): (i64, i64),
    (cause, why): (&str, &str),
) -> Result<Taken, WebhookError> {
    let mut out = Taken::default();
    // `cause` (refund or dispute) names the money event.
    let meta = serde_json::json!({ "checkout_session": p.session, "reason": why, "cause": cause });
    for (part, amount, destination) in
        [("purchase", paid, SystemAccount::PaymentsClearing), ("bonus", bonus, SystemAccount::Promotions)]
    {
        if amount <= 0 {
            continue;
        }
        let from = credit_of(tx, &p.session, part).await?;
        let request = ClawbackRequest {
            idempotency_key: format!("{key}:{part}"),
            wallet: p.wallet,
            amount: Micros(amount),
            destination,
            from_credits: from.into_iter().collect(),
            description: format!("{why}: {} taken back", Micros(amount).format()),
            metadata: meta.clone(),
        };
        let receipt = state.ledger.claw_back_in(tx, &request).await.map_err(|e| internal(&e))?;
        out.taken += receipt.taken.get();
        out.owed += receipt.owed.get();
        if part == "bonus" {
            out.taken_bonus = receipt.taken.get();
        }
    }
    Ok(out)
}

/// `share` of the purchase's bonus, for `paid` of its `amount`, rounded down.
fn bonus_share(bonus: i64, paid: i64, amount: i64) -> i64 {
    if amount <= 0 { 0 } else { (i128::from(bonus) * i128::from(paid) / i128::from(amount)) as i64 }
}

/// `charge.refunded`: the charge's refunded total (cumulative) says how much more to take
/// back since the last refund seen.
pub async fn refunded(state: &AppState, event_id: &str, charge: &Value, now_ms: i64) -> Result<Handled, WebhookError> {
    let payment = charge["payment_intent"].as_str().ok_or(WebhookError::Malformed)?;
    let refunded_cents = charge["amount_refunded"].as_i64().filter(|c| *c >= 0).ok_or(WebhookError::Malformed)?;
    let p = purchase_by_payment(state, payment).await?;
    let total = refunded_cents.saturating_mul(10_000).min(p.amount);
    let mut tx = state.db.begin_write().await.map_err(|e| internal(&e))?;
    if !fresh_event(&mut tx, event_id, "charge.refunded", now_ms).await? {
        return Ok(Handled::AlreadyDone);
    }
    // Compare-and-set on the refunded total: two deliveries never take the same part twice.
    let before: i64 = sqlx::query_scalar("select refunded_micros from checkout_session where id = $1")
        .bind(&p.session)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| internal(&e))?;
    if total <= before {
        tx.commit().await.map_err(|e| internal(&e))?;
        return Ok(Handled::AlreadyDone);
    }
    let moved = sqlx::query("update checkout_session set refunded_micros = $1 where id = $2 and refunded_micros = $3")
        .bind(total)
        .bind(&p.session)
        .bind(before)
        .execute(&mut **tx)
        .await
        .map_err(|e| internal(&e))?
        .rows_affected();
    if moved != 1 {
        return Err(WebhookError::Internal);
    }
    let shares = (total - before, bonus_share(p.bonus, total, p.amount) - bonus_share(p.bonus, before, p.amount));
    let taken =
        take_back(state, &mut tx, &p, &format!("refund:{}:{total}", p.session), shares, ("refund", "Refund")).await?;
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::info!(session = %p.session, refunded_micros = total, taken = taken.taken, owed = taken.owed, "refund taken back");
    Ok(Handled::TakenBack { session: p.session, taken: Micros(taken.taken), owed: Micros(taken.owed) })
}

/// `charge.dispute.created`: the disputed part of the purchase (and its bonus share) is
/// taken back while the dispute is open.
pub async fn dispute_opened(
    state: &AppState,
    event_id: &str,
    dispute: &Value,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    let id = dispute["id"].as_str().ok_or(WebhookError::Malformed)?;
    let payment = dispute["payment_intent"].as_str().ok_or(WebhookError::Malformed)?;
    let cents = dispute["amount"].as_i64().filter(|c| *c > 0).ok_or(WebhookError::Malformed)?;
    let p = purchase_by_payment(state, payment).await?;
    let mut tx = state.db.begin_write().await.map_err(|e| internal(&e))?;
    if !fresh_event(&mut tx, event_id, "charge.dispute.created", now_ms).await? {
        return Ok(Handled::AlreadyDone);
    }
    let user_id: String = sqlx::query_scalar("select user_id from checkout_session where id = $1")
        .bind(&p.session)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| internal(&e))?;
    let opened = sqlx::query(
        "insert into dispute (id, session_id, user_id, taken_micros, taken_bonus_micros, owed_micros, status, \
         created_at_ms) values ($1, $2, $3, 0, 0, 0, 'open', $4) on conflict (id) do nothing",
    )
    .bind(id)
    .bind(&p.session)
    .bind(&user_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(|e| internal(&e))?
    .rows_affected();
    if opened == 0 {
        tx.commit().await.map_err(|e| internal(&e))?;
        return Ok(Handled::AlreadyDone);
    }
    let disputed = cents.saturating_mul(10_000).min(p.amount - p.refunded).max(0);
    let shares = (disputed, bonus_share(p.bonus, disputed, p.amount));
    let taken =
        take_back(state, &mut tx, &p, &format!("dispute:{id}"), shares, ("dispute", "Disputed payment")).await?;
    sqlx::query("update dispute set taken_micros = $1, taken_bonus_micros = $2, owed_micros = $3 where id = $4")
        .bind(taken.taken)
        .bind(taken.taken_bonus)
        .bind(taken.owed)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(|e| internal(&e))?;
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::warn!(dispute = id, session = %p.session, taken = taken.taken, owed = taken.owed, "payment disputed; credits taken back");
    Ok(Handled::TakenBack { session: p.session, taken: Micros(taken.taken), owed: Micros(taken.owed) })
}

/// `charge.dispute.closed`: won (or an inquiry closed without a chargeback) gives back
/// everything taken for the dispute; lost keeps it.
pub async fn dispute_closed(
    state: &AppState,
    event_id: &str,
    dispute: &Value,
    now_ms: i64,
) -> Result<Handled, WebhookError> {
    let id = dispute["id"].as_str().ok_or(WebhookError::Malformed)?;
    let won = match dispute["status"].as_str() {
        Some("won" | "warning_closed") => true,
        Some("lost") => false,
        _ => return Err(WebhookError::Malformed),
    };
    // The wallet the disputed purchase credited: the buyer's, or the team's it was for.
    let user_id: String = sqlx::query_scalar(
        "select coalesce(s.team_id, d.user_id) from dispute d join checkout_session s on s.id = d.session_id \
         where d.id = $1",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(|e| internal(&e))?
    .ok_or_else(|| WebhookError::UnknownDispute(id.to_string()))?;
    let wallet = state.ledger.open_wallet(&user_id).await.map_err(|e| internal(&e))?;
    let mut tx = state.db.begin_write().await.map_err(|e| internal(&e))?;
    if !fresh_event(&mut tx, event_id, "charge.dispute.closed", now_ms).await? {
        return Ok(Handled::AlreadyDone);
    }
    let row = sqlx::query(
        "update dispute set status = $1, closed_at_ms = $2 where id = $3 and status = 'open' \
         returning taken_micros, taken_bonus_micros, owed_micros",
    )
    .bind(if won { "won" } else { "lost" })
    .bind(now_ms)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(|e| internal(&e))?;
    let Some(row) = row else {
        tx.commit().await.map_err(|e| internal(&e))?;
        return Ok(Handled::AlreadyDone);
    };
    if !won {
        tx.commit().await.map_err(|e| internal(&e))?;
        tracing::warn!(dispute = id, "dispute lost; the credits taken back stay taken");
        return Ok(Handled::DisputeLost(id.to_string()));
    }
    let get = |i| row.try_get::<i64, _>(i).map_err(|e| internal(&e));
    let (taken, taken_bonus, owed) = (get(0)?, get(1)?, get(2)?);
    let restored = restore(state, &mut tx, wallet, id, (taken, taken_bonus, owed)).await?;
    tx.commit().await.map_err(|e| internal(&e))?;
    tracing::info!(
        dispute = id,
        credited = restored.0.get(),
        forgiven = restored.1.get(),
        "dispute won; credits restored"
    );
    Ok(Handled::Restored { dispute: id.to_string(), credited: restored.0, forgiven: restored.1 })
}

/// Gives back what a dispute took: what it added to the debt is forgiven while still
/// owed, and the rest (taken, or owed and since paid) is credited again.
async fn restore(
    state: &AppState,
    tx: &mut WriteTx,
    wallet: AccountId,
    dispute: &str,
    (taken, taken_bonus, owed): (i64, i64, i64),
) -> Result<(Micros, Micros), WebhookError> {
    let forgiven = state
        .ledger
        .forgive_owed_in(tx, wallet, Micros(owed), &format!("dispute:{dispute}:won:forgive"))
        .await
        .map_err(|e| internal(&e))?;
    let credit = taken + owed - forgiven.get();
    let bonus = taken_bonus.min(credit);
    // `source` names the money event: credits given back, not bought.
    let meta = serde_json::json!({ "dispute": dispute, "source": "dispute_won" });
    for (part, amount, kind) in
        [("purchase", credit - bonus, CreditKind::Purchase), ("bonus", bonus, CreditKind::PurchaseBonus)]
    {
        if amount <= 0 {
            continue;
        }
        let request = CreditRequest {
            idempotency_key: format!("dispute:{dispute}:won:{part}"),
            wallet,
            amount: Micros(amount),
            kind,
            description: format!("Dispute decided for you: {} given back", Micros(amount).format()),
            metadata: meta.clone(),
            expires_at_ms: None,
        };
        match state.ledger.credit_in(tx, &request).await {
            Ok(_) | Err(LedgerError::IdempotencyConflict(_)) => {}
            Err(e) => return Err(internal(&e)),
        }
    }
    Ok((Micros(credit), forgiven))
}
