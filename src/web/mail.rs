//! Outgoing email through SMTP (lettre). With no SMTP configured, messages are logged.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::header::ContentType,
};

/// Sends plain-text emails, or logs them when no SMTP server is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: String,
}

impl Mailer {
    /// Builds the mailer from an `smtp://` or `smtps://` URL (lettre's URL format).
    pub fn new(smtp_url: Option<&str>, from: &str) -> anyhow::Result<Mailer> {
        let transport = match smtp_url {
            Some(url) => Some(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build()),
            None => None,
        };
        Ok(Mailer { transport, from: from.to_string() })
    }

    /// Sends `body` to `to`. Without SMTP, logs the whole message at INFO level.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let Some(transport) = &self.transport else {
            tracing::info!(%to, %subject, %body, "email no enviado (sin SMTP configurado)");
            return Ok(());
        };
        let msg = Message::builder()
            .from(self.from.parse()?)
            .to(to.parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        transport.send(msg).await?;
        Ok(())
    }
}
