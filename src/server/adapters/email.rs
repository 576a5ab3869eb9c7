//! Email out, over SMTP (lettre): the notices people should read even when they are not
//! looking at the app. The transport is built once from `smtp_url`; the password in it
//! never reaches a log or an error message.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::server::infra::config::SmtpUrl;

/// How long one message may take to hand over before the attempt counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// A plain-text email to one person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends email through the configured SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl Mailer {
    /// A mailer for `url`, sending as `from`. Nothing is sent or connected yet.
    pub fn new(url: &SmtpUrl, from: &str) -> Result<Self, String> {
        let from = from.parse::<Mailbox>().map_err(|_| format!("smtp_from `{from}` is not an email address"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            // Its message could quote the address; name the server only.
            .map_err(|_| format!("smtp_url ({}) cannot be used", url.server()))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(Self { transport, from, server: url.server() })
    }

    /// The mail server, as it may be printed.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Hands `email` to the mail server. An error says why in words a log may hold.
    pub async fn send(&self, email: &Email) -> Result<(), String> {
        let to = email.to.parse::<Mailbox>().map_err(|_| "the account's email address cannot be mailed".to_string())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| format!("the message cannot be built: {e}"))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            if e.is_permanent() || e.is_transient() {
                format!("the mail server refused it: {e}")
            } else {
                format!("the mail server could not be reached: {e}")
            }
        })
    }
}
