//! The chat client's HTTP side (`docs/http-api.md`, "Sessions"): a [`Session`] logs in with
//! `POST /api/login` and remembers the credentials to log in again when the server has ended
//! the session, lists the rooms one may enter, logs out, and makes a room's WebSocket address.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::json;

/// How long one HTTP call may take.
const CALL_LIMIT: Duration = Duration::from_secs(10);

/// An account name and its password, as typed (the HTTP door takes the password as it is).
#[derive(Clone)]
pub struct Credentials {
    /// The account name.
    pub name: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A chat room one may enter, as `GET /api/chat/rooms` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Room {
    /// Its unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Members only, or public.
    pub members_only: bool,
}

/// Why an HTTP call failed.
#[derive(Debug)]
pub enum ApiError {
    /// The server answered with a refusal (`{"error": code, "message"}`).
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The services' code (`not_logged_in`, `locked`, ...).
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server could not be reached, or its answer was not what the API says.
    Transport(reqwest::Error),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Refused { message, .. } => f.write_str(message),
            ApiError::Transport(error) => {
                // The causes say what went wrong ("Connection refused"); the error alone does not.
                write!(f, "{error}")?;
                let mut cause = std::error::Error::source(error);
                while let Some(next) = cause {
                    write!(f, ": {next}")?;
                    cause = next.source();
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ApiError {}

impl From<reqwest::Error> for ApiError {
    fn from(error: reqwest::Error) -> Self {
        ApiError::Transport(error.without_url())
    }
}

/// The server's refusal body.
#[derive(Deserialize)]
struct Refusal {
    error: String,
    message: String,
}

/// What `POST /api/login` answers.
#[derive(Deserialize)]
struct LoggedIn {
    token: String,
}

/// A logged-in session on a server's HTTP door. Shared (behind an `Arc`) by the screen and the
/// room's connection; logging in again replaces the token for both.
#[derive(Debug)]
pub struct Session {
    base: Url,
    http: reqwest::Client,
    credentials: Credentials,
    token: Mutex<String>,
}

impl Session {
    /// Logs in at the HTTP door `server` (`http://HOST:PORT`, optionally with a path prefix).
    pub async fn login(server: &Url, credentials: Credentials) -> Result<Session, ApiError> {
        let session = Session::new(server, credentials)?;
        session.login_again().await?;
        Ok(session)
    }

    /// A session not logged in yet.
    fn new(server: &Url, credentials: Credentials) -> Result<Session, ApiError> {
        let mut base = server.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Session {
            base,
            http: reqwest::Client::builder().timeout(CALL_LIMIT).build()?,
            credentials,
            token: Mutex::new(String::new()),
        })
    }

    /// Logs in again with the remembered credentials (the server ended the session: it was
    /// unused too long, or the server's sessions were cleared); the new token replaces the old.
    pub async fn login_again(&self) -> Result<(), ApiError> {
        let body = json!({"name": self.credentials.name, "password": self.credentials.password});
        let answer = self.http.post(self.url("api/login")).json(&body).send();
        let logged_in: LoggedIn = checked(answer.await?).await?.json().await?;
        *self.token.lock().expect("the token lock is never poisoned") = logged_in.token;
        Ok(())
    }

    /// The account name this session logs in as.
    pub fn name(&self) -> &str {
        &self.credentials.name
    }

    /// The current session token (sent as `Authorization: Bearer <token>`).
    pub fn token(&self) -> String {
        self.token
            .lock()
            .expect("the token lock is never poisoned")
            .clone()
    }

    /// The rooms this account may enter, the lobby first.
    pub async fn rooms(&self) -> Result<Vec<Room>, ApiError> {
        let answer = self
            .http
            .get(self.url("api/chat/rooms"))
            .bearer_auth(self.token())
            .send()
            .await?;
        Ok(checked(answer).await?.json().await?)
    }

    /// Ends the session on the server.
    pub async fn logout(&self) -> Result<(), ApiError> {
        let answer = self
            .http
            .post(self.url("api/logout"))
            .bearer_auth(self.token())
            .send()
            .await?;
        checked(answer).await.map(drop)
    }

    /// The address of `room`'s WebSocket: `ws://HOST:PORT/chat/<room, percent-encoded>/ws`.
    pub fn socket_url(&self, room: &str) -> Url {
        let mut url = self.base.clone();
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .expect("http(s) and ws(s) are both special schemes");
        url.path_segments_mut()
            .expect("an http URL has a path")
            .pop_if_empty()
            .extend(["chat", room, "ws"]);
        url
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("API paths are relative URLs")
    }
}

/// The answer when it is a success, else its refusal.
async fn checked(answer: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    let status = answer.status();
    if status.is_success() {
        return Ok(answer);
    }
    let text = answer.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<Refusal>(&text) {
        Ok(refusal) => ApiError::Refused {
            status,
            code: refusal.error,
            message: refusal.message,
        },
        Err(_) => ApiError::Refused {
            status,
            code: String::new(),
            message: format!("the server answered {status}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(server: &str) -> Session {
        let credentials = Credentials {
            name: "alice".into(),
            password: "pw".into(),
        };
        Session::new(&Url::parse(server).unwrap(), credentials).unwrap()
    }

    #[test]
    fn a_rooms_socket_address_percent_encodes_its_name() {
        let plain = session("http://127.0.0.1:5000");
        assert_eq!(
            plain.socket_url("lobby").as_str(),
            "ws://127.0.0.1:5000/chat/lobby/ws"
        );
        assert_eq!(
            plain.socket_url("<i>books/x y</i>").as_str(),
            "ws://127.0.0.1:5000/chat/%3Ci%3Ebooks%2Fx%20y%3C%2Fi%3E/ws"
        );
        let prefixed = session("http://example.test/site");
        assert_eq!(
            prefixed.socket_url("lobby").as_str(),
            "ws://example.test/site/chat/lobby/ws"
        );
        assert_eq!(
            prefixed.url("api/login").as_str(),
            "http://example.test/site/api/login"
        );
    }

    #[test]
    fn credentials_never_print_the_password() {
        let credentials = Credentials {
            name: "alice".into(),
            password: "secret".into(),
        };
        assert!(!format!("{credentials:?}").contains("secret"));
    }
}
