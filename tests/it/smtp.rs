//! A small SMTP server for the tests: lettre talks to it over real TCP. It keeps every
//! message it accepts and can be told to refuse the next few (a temporary outage).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct MailServer {
    pub url: String,
    messages: Arc<Mutex<Vec<Mail>>>,
    refuse: Arc<AtomicUsize>,
}

/// One accepted message: the envelope recipient and the raw data.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub data: String,
}

impl Mail {
    /// The message with quoted-printable soft line breaks and escapes undone, so links and
    /// names can be searched for.
    pub fn decoded(&self) -> String {
        String::from_utf8_lossy(&quoted_printable(&self.data.replace("=\r\n", ""))).into_owned()
    }

    /// The Subject header, with its folded lines joined and its encoded words (RFC 2047, as
    /// lettre writes a subject that is not ASCII) decoded.
    pub fn subject(&self) -> String {
        let mut raw = String::new();
        let mut in_subject = false;
        for line in self.data.split("\r\n").take_while(|line| !line.is_empty()) {
            if let Some(rest) = line.strip_prefix("Subject:") {
                raw.push_str(rest.trim());
                in_subject = true;
            } else if in_subject && line.starts_with([' ', '\t']) {
                raw.push(' ');
                raw.push_str(line.trim());
            } else {
                in_subject = false;
            }
        }
        let mut out = String::new();
        let mut after_word = false;
        for token in raw.split_whitespace() {
            let word = token.strip_prefix("=?").and_then(|t| t.strip_suffix("?=")).and_then(|t| {
                let mut parts = t.splitn(3, '?');
                let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                let bytes = match encoding {
                    "B" | "b" => {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD.decode(text).ok()?
                    }
                    "Q" | "q" => quoted_printable(&text.replace('_', " ")),
                    _ => return None,
                };
                String::from_utf8(bytes).ok()
            });
            // Whitespace between two encoded words is not part of the text.
            let between_words = after_word && word.is_some();
            if !out.is_empty() && !between_words {
                out.push(' ');
            }
            after_word = word.is_some();
            out.push_str(&word.unwrap_or_else(|| token.to_owned()));
        }
        out
    }

    /// Whether it is the link that verifies an address, which every sign-up sends.
    pub fn is_verification(&self) -> bool {
        self.decoded().contains("Subject: Confirm your email address for Teamdeck")
    }

    /// The first invite link in the message.
    pub fn invite_link(&self) -> String {
        let text = self.decoded();
        let start = text.find("http://").expect("a link in the mail");
        text[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().unwrap().to_owned()
    }
}

/// `=XX` escapes undone.
fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(b) = text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

impl MailServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let server = MailServer { url, messages: Arc::default(), refuse: Arc::default() };
        let accepted = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let server = accepted.clone();
                tokio::spawn(async move {
                    let _ = server.session(socket).await;
                });
            }
        });
        server
    }

    /// Answers the next `n` messages with a temporary failure (451).
    pub fn refuse_next(&self, n: usize) {
        self.refuse.store(n, Ordering::SeqCst);
    }

    /// Every message but the verification links of sign-ups: the harness's users have their
    /// addresses verified in the database (`TestApp::registered`), so only the tests of
    /// verification itself read those ([`MailServer::all_messages`]).
    pub async fn messages(&self) -> Vec<Mail> {
        self.all_messages().await.into_iter().filter(|m| !m.is_verification()).collect()
    }

    pub async fn all_messages(&self) -> Vec<Mail> {
        self.messages.lock().await.clone()
    }

    /// Waits (up to 10 s) until at least `count` messages arrived (see [`MailServer::messages`]).
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let messages = self.messages().await;
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} messages, got {:?}", self.messages().await.len());
    }

    /// Waits (up to 10 s) until at least `count` messages of any kind arrived for `to`, and
    /// returns those, oldest first.
    pub async fn wait_for_mail_to(&self, to: &str, count: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let messages: Vec<Mail> = self.all_messages().await.into_iter().filter(|m| m.to == to).collect();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} messages to {to}, got {:?}", self.all_messages().await);
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 test.local ESMTP\r\n").await?;
        let mut to = String::new();
        let mut refused = false;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") {
                b"250-test.local\r\n250 8BITMIME\r\n"
            } else if command.starts_with("HELO") || command.starts_with("RSET") || command.starts_with("NOOP") {
                b"250 OK\r\n"
            } else if command.starts_with("MAIL FROM") {
                refused = self.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                if refused { b"451 4.3.0 Try again later\r\n" } else { b"250 OK\r\n" }
            } else if command.starts_with("RCPT TO") {
                to = line.trim_end()[8..].trim().trim_start_matches(':').trim().trim_matches(['<', '>']).to_owned();
                b"250 OK\r\n"
            } else if command == "DATA" {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
                }
                if !refused {
                    self.messages.lock().await.push(Mail { to: to.clone(), data });
                }
                b"250 OK queued\r\n"
            } else if command == "QUIT" {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else {
                b"250 OK\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}
