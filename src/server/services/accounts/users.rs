//! Accounts: creating, finding and checking people, and their sign-up credits.

use sqlx::Row;

use super::passwords;
use crate::server::infra::db::{Db, word};
use crate::server::infra::installation::now_ms;
use crate::server::ledger::{CreditKind, CreditRequest, Ledger, LedgerError};
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::text_enum::text_enum;

text_enum! {
    /// What an account may do: use the app, or also administer it.
    pub enum Role {
        User = "user",
        Admin = "admin",
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// The sign-up credit owed to this account, fixed at creation.
    pub signup_credit: Micros,
    pub created_at_ms: i64,
    /// Still to see the "Get started" dialog.
    pub onboarding_pending: bool,
}

/// Trims and lower-cases an email and checks that it looks like one.
pub fn normalize_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::validation("email", "Enter an email address like name@example.com.");
    if email.is_empty() {
        return Err(AppError::validation("email", "Enter your email address."));
    }
    if email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get(0)?,
        email: row.try_get(1)?,
        role: word(row, 2)?,
        signup_credit: Micros(row.try_get(3)?),
        created_at_ms: row.try_get(4)?,
        onboarding_pending: row.try_get::<Option<i64>, _>(5)?.is_none(),
    })
}

const USER_COLUMNS: &str = "id, email, role, signup_credit_micros, created_at_ms, onboarding_done_at_ms";

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>, AppError> {
    let row = sqlx::query(&format!("select {USER_COLUMNS} from app_user where id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| AppError::internal("loading a user", e))?;
    row.as_ref().map(user_from_row).transpose().map_err(|e| AppError::internal("loading a user", e))
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, AppError> {
    let row = sqlx::query(&format!("select {USER_COLUMNS} from app_user where email = $1"))
        .bind(email)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| AppError::internal("loading a user", e))?;
    row.as_ref().map(user_from_row).transpose().map_err(|e| AppError::internal("loading a user", e))
}

/// Creates an account owed `signup_credit`. The email must not be taken; nothing is
/// written when any input is refused.
pub async fn create(db: &Db, email: &str, password: &str, role: Role, signup_credit: Micros) -> Result<User, AppError> {
    // Both fields are checked, so a form with both wrong says so beside each.
    let email = match (normalize_email(email), passwords::validate(password)) {
        (Ok(email), Ok(())) => email,
        (Err(e), Ok(())) | (Ok(_), Err(e)) => return Err(e),
        (Err(e), Err(p)) => return Err(e.and(p)),
    };
    if find_by_email(db, &email).await?.is_some() {
        return Err(taken());
    }
    let hash = passwords::hash(password.to_string()).await?;
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        email,
        role,
        signup_credit,
        created_at_ms: now_ms(),
        onboarding_pending: true,
    };
    sqlx::query(
        "insert into app_user (id, email, password_hash, role, signup_credit_micros, created_at_ms) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(&hash)
    .bind(role.as_str())
    .bind(user.signup_credit.get())
    .bind(user.created_at_ms)
    .execute(db.pool())
    .await
    .map_err(|e| match &e {
        // Two sign-ups with one email at the same moment: the unique index decides.
        sqlx::Error::Database(d) if d.is_unique_violation() => taken(),
        _ => AppError::internal("creating a user", e),
    })?;
    tracing::info!(user_id = %user.id, "account created");
    Ok(user)
}

fn taken() -> AppError {
    AppError::validation("email", "An account with this email already exists. Sign in instead.")
}

/// The user with this email and password, or `None`. Costs the same time whether or not
/// the email exists.
pub async fn authenticate(db: &Db, email: &str, password: &str) -> Result<Option<User>, AppError> {
    let Ok(email) = normalize_email(email) else {
        passwords::verify(password.to_string(), None).await?;
        return Ok(None);
    };
    let row = sqlx::query(&format!("select {USER_COLUMNS}, password_hash from app_user where email = $1"))
        .bind(&email)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| AppError::internal("signing in", e))?;
    let (user, hash) = match row {
        Some(row) => {
            let user = user_from_row(&row).map_err(|e| AppError::internal("signing in", e))?;
            let hash: String = row.try_get(6).map_err(|e| AppError::internal("signing in", e))?;
            (Some(user), Some(hash))
        }
        None => (None, None),
    };
    let ok = passwords::verify(password.to_string(), hash).await?;
    Ok(user.filter(|_| ok))
}

/// Marks the "Get started" dialog as seen, so it is not shown again on any device.
pub async fn finish_onboarding(db: &Db, user_id: &str) -> Result<(), AppError> {
    sqlx::query("update app_user set onboarding_done_at_ms = $1 where id = $2 and onboarding_done_at_ms is null")
        .bind(now_ms())
        .bind(user_id)
        .execute(db.pool())
        .await
        .map_err(|e| AppError::internal("finishing onboarding", e))?;
    Ok(())
}

pub async fn set_role(db: &Db, user_id: &str, role: Role) -> Result<(), AppError> {
    sqlx::query("update app_user set role = $1 where id = $2")
        .bind(role.as_str())
        .bind(user_id)
        .execute(db.pool())
        .await
        .map_err(|e| AppError::internal("changing a role", e))?;
    Ok(())
}

/// Gives the account its sign-up credit once, however often it is called: the ledger's
/// idempotency key is the user id, and the request is derived only from the account
/// (its recorded amount and creation time) and the expiry setting.
pub async fn ensure_signup_grant(
    ledger: &Ledger,
    user: &User,
    expires_after_days: Option<u32>,
) -> Result<(), AppError> {
    if !user.signup_credit.is_positive() {
        return Ok(());
    }
    let wallet = ledger.open_wallet(&user.id).await?;
    let expires_at_ms = expires_after_days.map(|d| user.created_at_ms + i64::from(d) * 86_400_000);
    let request = CreditRequest {
        idempotency_key: format!("signup_grant:{}", user.id),
        wallet,
        amount: user.signup_credit,
        kind: CreditKind::SignupGrant,
        description: "Welcome credits".into(),
        metadata: serde_json::json!({}),
        expires_at_ms,
    };
    match ledger.credit(&request).await {
        Ok(_) => Ok(()),
        // Granted before under other settings: still exactly once.
        Err(LedgerError::IdempotencyConflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_trimmed_lower_cased_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@.com",
            "ada@ex..com",
            "a@b@c.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
