//! Outgoing email through SMTP (lettre). Without SMTP, messages are written as `.eml` files
//! to a folder when one is configured (development, tests), and always logged.

use std::path::PathBuf;

use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::header::ContentType,
};

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>),
    Log,
}

/// Sends plain-text emails.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: String,
}

impl Mailer {
    /// SMTP from an `smtp://` or `smtps://` URL (lettre's format); else a folder; else the log.
    pub fn new(
        smtp_url: Option<&str>,
        mail_dir: Option<&PathBuf>,
        from: &str,
    ) -> anyhow::Result<Mailer> {
        let transport = match (smtp_url, mail_dir) {
            (Some(url), _) => {
                Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build())
            }
            (None, Some(dir)) => {
                std::fs::create_dir_all(dir)?;
                Transport::Folder(AsyncFileTransport::new(dir))
            }
            (None, None) => Transport::Log,
        };
        let _: lettre::message::Mailbox = from.parse()?;
        Ok(Mailer {
            transport,
            from: from.to_string(),
        })
    }

    /// Sends `body` to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        if let Transport::Log = self.transport {
            tracing::info!(%to, %subject, %body, "email no enviado: configurá AULA_SMTP_URL para enviarlo");
            return Ok(());
        }
        let msg = Message::builder()
            .from(self.from.parse()?)
            .to(to.parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(msg).await?;
            }
            Transport::Folder(t) => {
                t.send(msg).await?;
            }
            Transport::Log => {}
        }
        tracing::info!(%to, %subject, "email enviado");
        Ok(())
    }
}
