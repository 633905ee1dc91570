//! Outgoing mail, built by `lettre`. By default each message is written as a `.eml` file into
//! `<data_dir>/outbox/` (see [`OUTBOX`]) and its link is logged, so a site runs with nothing set
//! up; with [`smtp_url`](crate::Config::smtp_url) it is handed to that SMTP server.
//!
//! [`Mailer::send`] returns once the message is handed over (the SMTP server accepted it, or the
//! file is complete under its final name); a failure is [`ServiceError::Mail`], and the service
//! that sent it undoes what the mail was for.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::config::Config;
use crate::error::{Result, ServiceError};

/// The outbox's folder inside the data directory.
pub const OUTBOX: &str = "outbox";

/// Longest time an SMTP exchange may take before the send fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Mail<'a> {
    /// The recipient's address.
    pub to: &'a str,
    /// The subject line.
    pub subject: &'a str,
    /// The text (plain text).
    pub text: String,
    /// The link the text carries, logged when the message goes to the outbox.
    pub link: &'a str,
}

/// Sends the site's mail. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    route: Route,
}

#[derive(Clone)]
enum Route {
    /// `.eml` files in this folder.
    Outbox(PathBuf),
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    /// The mailer `config` asks for: its SMTP server, or the outbox (created if missing). A
    /// sender or SMTP URL that does not parse is an error here, at start, not at the first mail.
    pub async fn open(config: &Config) -> Result<Mailer> {
        let from = config.mail_from.parse::<Mailbox>().map_err(|e| {
            ServiceError::bad_request(format!("mail_from `{}`: {e}", config.mail_from))
        })?;
        let route = match config.smtp_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => Route::Smtp(smtp(url)?),
            None => {
                let dir = config.data_dir.join(OUTBOX);
                tokio::fs::create_dir_all(&dir).await.map_err(mail_error)?;
                Route::Outbox(dir)
            }
        };
        Ok(Mailer { from, route })
    }

    /// Hands `mail` over: to the SMTP server, or as a complete file in the outbox (written
    /// under a temporary name, then renamed, so that nobody reading the outbox sees half a
    /// message).
    pub async fn send(&self, mail: Mail<'_>) -> Result<()> {
        let to = parse_address(mail.to)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .map_err(mail_error)?;
        match &self.route {
            Route::Smtp(smtp) => {
                smtp.send(message).await.map_err(mail_error)?;
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail handed to the SMTP server");
            }
            Route::Outbox(dir) => {
                let stamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let name = format!("{stamp:020}-{}", hex::encode(rand::random::<[u8; 4]>()));
                let partial = dir.join(format!(".{name}.partial"));
                let done = dir.join(format!("{name}.eml"));
                let written = async {
                    tokio::fs::write(&partial, message.formatted()).await?;
                    tokio::fs::rename(&partial, &done).await
                };
                if let Err(error) = written.await {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(mail_error(error));
                }
                tracing::info!(to = %mail.to, link = %mail.link, file = %done.display(), "mail written to the outbox");
            }
        }
        Ok(())
    }
}

/// The SMTP transport of `smtp_url`: `smtp://[USER:PASSWORD@]HOST[:PORT]` (port 25 by default),
/// without TLS.
fn smtp(smtp_url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let refuse = |why: &str| {
        ServiceError::bad_request(format!(
            "smtp_url `{smtp_url}`: {why} (expected smtp://[USER:PASSWORD@]HOST[:PORT])"
        ))
    };
    let url = Url::parse(smtp_url).map_err(|e| refuse(&e.to_string()))?;
    if url.scheme() != "smtp" {
        return Err(refuse("only smtp:// (plain, without TLS) is supported"));
    }
    let host = url.host_str().ok_or_else(|| refuse("no host"))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(url.port().unwrap_or(25))
        .timeout(Some(SMTP_TIMEOUT));
    if !url.username().is_empty() {
        let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
        let password = decode(url.password().unwrap_or(""));
        builder = builder.credentials(Credentials::new(decode(url.username()), password));
    }
    Ok(builder.build())
}

/// `text` as an e-mail address (`local@domain`, as lettre parses it), or a
/// [`ServiceError::BadRequest`] that says it is none.
pub fn parse_address(text: &str) -> Result<Address> {
    text.parse::<Address>()
        .map_err(|_| ServiceError::bad_request("that is not an e-mail address (name@example.com)"))
}

fn mail_error(error: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Mail(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_holds_whole_messages_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let mailer = Mailer::open(&config).await.unwrap();
        let mail = Mail {
            to: "ann@example.com",
            subject: "Hello",
            text: "Follow http://127.0.0.1:5000/confirm/abc\n".into(),
            link: "http://127.0.0.1:5000/confirm/abc",
        };
        mailer.send(mail.clone()).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join(OUTBOX))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].ends_with(".eml"), "no partial file is left");
        let text = std::fs::read_to_string(dir.path().join(OUTBOX).join(&files[0])).unwrap();
        assert!(text.contains("To: ann@example.com"), "{text}");
        assert!(text.contains("/confirm/abc"), "{text}");

        let bad = Mail {
            to: "not an address",
            ..mail
        };
        assert!(matches!(
            mailer.send(bad).await,
            Err(ServiceError::BadRequest(_))
        ));
    }

    #[tokio::test]
    async fn bad_settings_are_refused_at_start() {
        for config in [
            Config {
                smtp_url: Some("ftp://example.com".into()),
                ..Config::default()
            },
            Config {
                mail_from: "<nobody".into(),
                ..Config::default()
            },
        ] {
            assert!(matches!(
                Mailer::open(&config).await,
                Err(ServiceError::BadRequest(_))
            ));
        }
    }
}
