//! `tollgate admin webhooks`: endpoints that receive money events, and their delivery log.

use std::process::ExitCode;

use super::{WebhooksCommand, fail};
use crate::server::infra::config::Config;
use crate::server::services::webhooks;
use crate::shared::error::AppError;

pub(super) async fn webhooks(config: Config, command: WebhooksCommand) -> ExitCode {
    let site_addr = config.site_addr;
    let state = match crate::server::web::app_server::open_state(config, || async move { Ok(((), site_addr)) }).await {
        Ok((state, ())) => state,
        Err(e) => return fail(&format!("webhooks: {e}")),
    };
    let result: Result<Vec<String>, AppError> = async {
        Ok(match command {
            WebhooksCommand::Add { url, events } => {
                let (endpoint, secret) = webhooks::add(&state, &url, &events).await?;
                vec![
                    format!("added {} for {} ({})", endpoint.id, endpoint.url, endpoint.events),
                    format!("signing secret (shown once): {secret}"),
                ]
            }
            WebhooksCommand::List => webhooks::list(&state)
                .await?
                .into_iter()
                .map(|e| format!("{}  {}  {}", e.id, e.url, e.events))
                .collect(),
            WebhooksCommand::Remove { id } => {
                webhooks::remove(&state, id.trim()).await?;
                vec![format!("removed {}", id.trim())]
            }
            WebhooksCommand::Deliveries { endpoint, limit } => {
                webhooks::deliveries(&state, endpoint.as_deref().map(str::trim), i64::from(limit))
                    .await?
                    .into_iter()
                    .map(|d| {
                        let answer = match (d.last_status, &d.last_error) {
                            (Some(code), _) => format!("HTTP {code}"),
                            (None, Some(why)) => why.clone(),
                            (None, None) => "not sent yet".to_string(),
                        };
                        format!(
                            "{}  evt_{}  {}  {}  attempts {}  {}",
                            d.id, d.event_id, d.kind, d.status, d.attempts, answer
                        )
                    })
                    .collect()
            }
            WebhooksCommand::Replay { delivery } => {
                webhooks::replay(&state, delivery.trim()).await?;
                vec![format!("{} will be sent again now", delivery.trim())]
            }
        })
    }
    .await;
    state.db.close().await;
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(AppError::Validation { field, message, .. }) => fail(&format!("webhooks: {field}: {message}")),
        Err(e) => fail(&format!("webhooks: {e}")),
    }
}
