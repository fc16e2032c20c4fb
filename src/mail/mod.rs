//! Email: delivering the outbox (the messages themselves are composed by `service::emails`
//! in the transaction of the change that causes them).
//!
//! With `SMTP_URL` set, messages go through that relay (lettre over TCP, `smtp://` or
//! `smtps://`, credentials in the URL); without it they are written as `.eml` files under
//! `DATA_DIR/outbox/` so a local user can open them.

pub mod worker;

use lettre::message::{Mailbox, MultiPart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use std::path::PathBuf;

/// How long one SMTP exchange may take before it counts as failed.
pub const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(SmtpTransport),
    Files(PathBuf),
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, outbox_dir: PathBuf) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Mailer::Smtp(SmtpTransport::from_url(url)?.timeout(Some(SMTP_TIMEOUT)).build())),
            None => {
                // Owner-only, like the rest of the data directory: the messages hold links.
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(&outbox_dir)?;
                Ok(Mailer::Files(outbox_dir))
            }
        }
    }

    /// Sends one message (blocking: call it off the async workers).
    pub fn send(
        &self,
        from: &Mailbox,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
        message_id: &str,
    ) -> Result<(), String> {
        // Addresses are stored as typed: a full-width letter or an internationalised domain
        // is sent to the form mail servers know.
        let to: Mailbox = crate::domain::email::deliverable(to).parse().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.to_owned()))
            .multipart(MultiPart::alternative_plain_html(text.to_owned(), html.to_owned()))
            .map_err(|e| format!("building the message: {e}"))?;
        match self {
            Mailer::Smtp(transport) => transport.send(&message).map(|_| ()).map_err(|e| e.to_string()),
            Mailer::Files(dir) => {
                let id = FileTransport::new(dir).send(&message).map_err(|e| e.to_string())?;
                owner_only(&dir.join(format!("{id}.eml"))).map_err(|e| format!("narrowing the file's mode: {e}"))
            }
        }
    }
}

/// A message file readable by its owner only (lettre writes it with the process's umask).
#[cfg(unix)]
fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn owner_only(_: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}
