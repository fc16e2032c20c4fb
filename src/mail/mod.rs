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

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(SmtpTransport),
    Files(PathBuf),
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, outbox_dir: PathBuf) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Mailer::Smtp(
                SmtpTransport::from_url(url)?.timeout(Some(std::time::Duration::from_secs(20))).build(),
            )),
            None => {
                std::fs::create_dir_all(&outbox_dir)?;
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
            Mailer::Files(dir) => FileTransport::new(dir).send(&message).map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}
