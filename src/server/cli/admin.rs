//! `tollgate admin audit`, `create-admin`, `refund`, `billing-mode` and `calls-in-flight`.

use std::process::ExitCode;

use super::{fail, open_db};
use crate::server::infra::config::Config;
use crate::server::ledger::{Clock, Ledger};

pub(super) async fn create_admin(config: Config, email: &str) -> ExitCode {
    use crate::server::services::accounts::users::{self, Role};
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let result = async {
        let email = users::normalize_email(email)?;
        if let Some(user) = users::find_by_email(&db, &email).await? {
            users::set_role(&db, &user.id, Role::Admin).await?;
            return Ok(format!("{email} is now an administrator"));
        }
        let mut password = String::new();
        std::io::stdin().read_line(&mut password).map_err(|e| {
            crate::shared::error::AppError::validation("password", format!("cannot read the password: {e}"))
        })?;
        let password = password.trim_end_matches(['\r', '\n']);
        users::create(&db, &email, password, Role::Admin, crate::shared::money::Micros::ZERO).await?;
        Ok::<_, crate::shared::error::AppError>(format!("created administrator {email}"))
    }
    .await;
    db.close().await;
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("create-admin: {e}")),
    }
}

pub(super) async fn audit(config: Config) -> ExitCode {
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let report = match Ledger::new(db.clone(), Clock::System).await {
        Ok(ledger) => ledger.audit().await,
        Err(e) => Err(e),
    };
    db.close().await;
    match report {
        Ok(report) if report.is_clean() => {
            println!(
                "ledger audit: OK, {} checks passed ({} wallets, {} transfers)",
                report.checks_run, report.wallets, report.transfers
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!("ledger audit: FAILED, {} problem(s):", report.findings.len());
            for f in &report.findings {
                println!("  [{}] {}", f.check, f.detail);
            }
            ExitCode::FAILURE
        }
        Err(e) => fail(&format!("ledger audit: {e}")),
    }
}

/// `tollgate admin refund`: asks Stripe (or the sandbox) to refund a purchase.
pub(super) async fn refund(config: Config, payment: &str, amount_usd: Option<&str>) -> ExitCode {
    use crate::server::services::purchases::refund;
    use crate::shared::money::Micros;
    let site_addr = config.site_addr;
    let state = match crate::server::web::app_server::open_state(config, || async move { Ok(((), site_addr)) }).await {
        Ok((state, ())) => state,
        Err(e) => return fail(&format!("refund: {e}")),
    };
    let result = async {
        let amount =
            match amount_usd {
                Some(raw) => Some(Micros::parse_positive(raw).map_err(|e| {
                    crate::shared::error::AppError::validation("amount_usd", format!("--amount-usd: {e}"))
                })?),
                None => None,
            };
        refund::refund(&state, payment, amount).await
    }
    .await;
    crate::server::infra::event_bus::announce_recent(&state.db).await;
    state.db.close().await;
    match result {
        Ok(started) => {
            println!(
                "refund {} of {} asked for ({}, payment {}); the credits are taken back when the refund event arrives",
                started.amount.format(),
                started.session,
                started.refund_id,
                started.payment_intent
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("refund: {e}")),
    }
}

/// `tollgate admin billing-mode set`: makes an account prepaid or postpaid.
pub(super) async fn billing_mode(config: Config, email: &str, mode: &str, limit_usd: Option<&str>) -> ExitCode {
    use crate::server::services::payments::postpaid;
    let site_addr = config.site_addr;
    let state = match crate::server::web::app_server::open_state(config, || async move { Ok(((), site_addr)) }).await {
        Ok((state, ())) => state,
        Err(e) => return fail(&format!("billing-mode: {e}")),
    };
    let result = postpaid::set_mode(&state, email, mode, limit_usd).await;
    crate::server::infra::event_bus::announce_recent(&state.db).await;
    state.db.close().await;
    match result {
        Ok(mode) => {
            println!("{}", mode.describe());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("billing-mode: {e}")),
    }
}

/// `tollgate admin invoices run --month YYYY-MM`.
pub(super) async fn run_invoices(config: Config, month: &str) -> ExitCode {
    use crate::server::services::payments::invoices::{Month, run_month};
    let site_addr = config.site_addr;
    let state = match crate::server::web::app_server::open_state(config, || async move { Ok(((), site_addr)) }).await {
        Ok((state, ())) => state,
        Err(e) => return fail(&format!("invoices: {e}")),
    };
    let result = match Month::parse(month) {
        Ok(month) => run_month(&state, month, crate::server::infra::installation::now_ms()).await,
        Err(e) => Err(e),
    };
    crate::server::infra::event_bus::announce_recent(&state.db).await;
    state.db.close().await;
    match result {
        Ok(run) => {
            println!("invoices for {}: {} made, {} made before", month.trim(), run.made.len(), run.already);
            for id in run.made {
                println!("  {id}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("invoices: {e}")),
    }
}

/// `tollgate admin calls-in-flight show|set|clear`: how many calls a wallet may have going
/// at once, by its purchases or as an administrator set it.
pub(super) async fn calls_in_flight(config: Config, command: super::InFlightCommand) -> ExitCode {
    use super::InFlightCommand;
    use crate::server::services::gateway::in_flight::{self, Owner};
    let site_addr = config.site_addr;
    let state = match crate::server::web::app_server::open_state(config, || async move { Ok(((), site_addr)) }).await {
        Ok((state, ())) => state,
        Err(e) => return fail(&format!("calls-in-flight: {e}")),
    };
    let (wallet, change) = match &command {
        InFlightCommand::Show { wallet } => (wallet, None),
        InFlightCommand::Set { wallet, max } => (wallet, Some(Some(*max))),
        InFlightCommand::Clear { wallet } => (wallet, Some(None)),
    };
    let result = async {
        let (id, team) = in_flight::named_wallet(&state, wallet.email.as_deref(), wallet.team.as_deref()).await?;
        let owner = if team { Owner::Team(&id) } else { Owner::Person(&id) };
        match change {
            None => in_flight::standing(&state, owner).await,
            Some(max) => in_flight::set_override(&state, owner, max).await,
        }
    }
    .await;
    state.db.close().await;
    match result {
        Ok(standing) => {
            println!("{}", standing.describe());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("calls-in-flight: {e}")),
    }
}
