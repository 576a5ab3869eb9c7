//! The ledger: the only code that moves money.
//!
//! Double entry in integer micro-USD. Every write runs in one database transaction with
//! its idempotency key, so a retried request returns its first answer and never moves
//! money twice. The no-overdraft rule is part of the SQL that changes a balance (a
//! guarded `update`), backed by a CHECK constraint, so several app instances sharing one
//! PostgreSQL database cannot overspend a wallet between them.
//!
//! Lock order, to keep PostgreSQL free of deadlocks: a hold row before its wallet row,
//! and never two wallets in one transaction.

mod audit;
mod clawback;
mod credit_line;
pub mod events;
mod holds;
mod idempotency;
mod lots;
mod queries;
mod sweeper;
mod transfers;
mod types;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::Row;

pub use audit::{AuditFinding, AuditReport};
pub use clawback::{ClawbackReceipt, ClawbackRequest};
pub use credit_line::{CreditLine, CreditLinePayment};
pub use sweeper::{SweepReport, spawn_sweeper};
pub use types::*;

use crate::server::infra::db::Db;

/// Where the ledger gets the time. Tests move it by hand to exercise expiry.
#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start_ms: i64) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Self::System => crate::server::infra::installation::now_ms(),
            Self::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, ms: i64) {
        if let Self::Manual(t) = self {
            t.fetch_add(ms, Ordering::SeqCst);
        }
    }
}

/// Handle to the ledger. Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    clock: Clock,
    system: Arc<HashMap<SystemAccount, AccountId>>,
}

impl Ledger {
    /// Opens the ledger on a migrated database.
    pub async fn new(db: Db, clock: Clock) -> Result<Self, LedgerError> {
        let rows = sqlx::query("select id, code from account where kind = 'system'").fetch_all(db.pool()).await?;
        let mut system = HashMap::new();
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let code: String = row.try_get(1)?;
            if let Some(acct) = SystemAccount::ALL.into_iter().find(|a| a.code() == code) {
                system.insert(acct, AccountId(id));
            }
        }
        if let Some(missing) = SystemAccount::ALL.into_iter().find(|a| !system.contains_key(a)) {
            return Err(LedgerError::Inconsistent(format!("system account {} is missing", missing.code())));
        }
        Ok(Self { db, clock, system: Arc::new(system) })
    }

    /// Sets the available balance under which a wallet's `balance.low` event is written
    /// (the setting every instance shares, kept in the database).
    pub async fn set_low_balance(&self, threshold: crate::shared::money::Micros) -> Result<(), LedgerError> {
        sqlx::query("update ledger_setting set low_balance_micros = $1 where id = 1")
            .bind(threshold.get().max(0))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn system_account(&self, account: SystemAccount) -> AccountId {
        self.system[&account]
    }

    /// The wallet of `owner_id`, opened on first use. Safe to call concurrently.
    pub async fn open_wallet(&self, owner_id: &str) -> Result<AccountId, LedgerError> {
        if owner_id.trim().is_empty() || owner_id.len() > 200 {
            return Err(LedgerError::Invalid("a wallet owner id must be 1 to 200 characters".into()));
        }
        let code = format!("wallet:{owner_id}");
        sqlx::query(
            "insert into account (kind, code, owner_id, created_at_ms) values ('wallet', $1, $2, $3) \
             on conflict (code) do nothing",
        )
        .bind(&code)
        .bind(owner_id)
        .bind(self.clock.now_ms())
        .execute(self.db.pool())
        .await?;
        let id: i64 =
            sqlx::query_scalar("select id from account where code = $1").bind(&code).fetch_one(self.db.pool()).await?;
        Ok(AccountId(id))
    }

    /// The wallet of `owner_id`, if one was opened.
    pub async fn find_wallet(&self, owner_id: &str) -> Result<Option<AccountId>, LedgerError> {
        let id: Option<i64> = sqlx::query_scalar("select id from account where code = $1")
            .bind(format!("wallet:{owner_id}"))
            .fetch_optional(self.db.pool())
            .await?;
        Ok(id.map(AccountId))
    }
}

fn require_positive(amount: crate::shared::money::Micros) -> Result<(), LedgerError> {
    if amount.is_positive() { Ok(()) } else { Err(LedgerError::NonPositiveAmount(amount.get())) }
}

fn require_key(key: &str) -> Result<(), LedgerError> {
    if key.is_empty() || key.len() > 255 {
        Err(LedgerError::Invalid("an idempotency key must be 1 to 255 characters".into()))
    } else {
        Ok(())
    }
}

fn require_object(metadata: &serde_json::Value) -> Result<(), LedgerError> {
    if metadata.is_object() { Ok(()) } else { Err(LedgerError::Invalid("metadata must be a JSON object".into())) }
}
