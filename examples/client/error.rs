//! The client's one error type: the server's refusals (with their `code`), and what can go wrong
//! on this side of the wire.

use std::path::PathBuf;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a client operation failed.
#[derive(Debug)]
pub enum Error {
    /// The server answered `flag: false`. Displays as the server's own message.
    Server {
        /// The contract's `code` (`not_logged_in`, `conflict`, ...).
        code: String,
        /// The server's human-readable message.
        msg: String,
    },
    /// The operation needs a session and there is none yet.
    NotLoggedIn,
    /// The server did not answer (or connect, or move bytes) in time.
    Timeout(&'static str),
    /// The server closed the connection.
    Closed,
    /// The server sent something the contract does not allow here.
    Protocol(String),
    /// A download's bytes do not have the MD5 the server announced; the partial file was removed.
    Integrity {
        /// Where the bytes were written (now removed).
        path: PathBuf,
        /// The MD5 the server announced.
        expected: String,
        /// The MD5 of what was received.
        actual: String,
    },
    /// A local file or socket error.
    Io(std::io::Error),
}

impl Error {
    /// The server's `code`, when the server refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Server { msg, .. } => f.write_str(msg),
            Error::NotLoggedIn => f.write_str("please log in first"),
            Error::Timeout(what) => write!(f, "timed out {what}"),
            Error::Closed => f.write_str("the server closed the connection"),
            Error::Protocol(what) => write!(f, "unexpected answer from the server: {what}"),
            Error::Integrity {
                path,
                expected,
                actual,
            } => write!(
                f,
                "MD5 mismatch: the server announced {expected} but the downloaded bytes hash to \
                 {actual}; {} was removed, nothing was saved",
                path.display()
            ),
            Error::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Display already shows the I/O error itself.
            Error::Io(error) => error.source(),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Closed
        } else {
            Error::Io(error)
        }
    }
}
