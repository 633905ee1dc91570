//! The service's configuration: defaults, overridden by a TOML file, overridden by environment
//! variables `NETDISK_<FIELD>` (for example `NETDISK_DATABASE_URL`, `NETDISK_LOCKOUT_THRESHOLD`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything a [`Netdisk`](crate::Netdisk) can be told; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where files are stored (and the SQLite database, by default). Default `netdisk-data`.
    pub data_dir: PathBuf,
    /// The database; default `sqlite://<data_dir>/netdisk.db`. Any URL `mini_orm::Db` accepts.
    pub database_url: Option<String>,
    /// Largest movie upload, in bytes. Default 4 GiB.
    pub max_movie_bytes: u64,
    /// Largest personal file upload, in bytes. Default 1 GiB.
    pub max_file_bytes: u64,
    /// Seconds a non-VIP user waits before a free movie's bytes start. Default 30.
    pub free_wait_secs: u64,
    /// Price of a charged movie for a VIP. Default 5.
    pub vip_price: i64,
    /// Price of a charged movie for everyone else. Default 10.
    pub regular_price: i64,
    /// Failed logins in a row that lock an account. Default 5.
    pub lockout_threshold: u32,
    /// How long a lock lasts, in seconds. Default 900 (15 minutes).
    pub lockout_secs: u64,
    /// A session unused for this many seconds ends. Default 1800 (30 minutes).
    pub session_idle_secs: u64,
    /// How long, in milliseconds, what a service read from the database (a session, a page of
    /// the catalogue, a person's download records) is trusted from memory. A change made
    /// through this process shows at once; one made through another process sharing the
    /// database shows within this time. 0: always read. Default 500.
    pub read_cache_ms: u64,
    /// How events (notices, ...) reach the other server processes sharing the database:
    /// `in-process` (the default: nothing to set up; other processes' events arrive within
    /// `pubsub_check_ms`) or a Redis URL such as `redis://127.0.0.1:6379` (at once).
    pub pubsub: String,
    /// How often, in milliseconds, each process checks the database for events its transport
    /// did not bring (other processes' events without Redis, messages lost while Redis was
    /// down). 0 turns the check off. Default 3000.
    pub pubsub_check_ms: u64,
    /// Whether anyone may register an admin account. When false (the default) only the first
    /// admin may sign up.
    pub admin_signup_open: bool,
    /// Longest chat message, in bytes of UTF-8. Default 4096.
    pub chat_max_message_bytes: usize,
    /// Chat messages a person may send at once before being slowed. Default 20.
    pub chat_burst: u32,
    /// Chat messages a second a person may send after a burst. Default 5.
    pub chat_per_second: u32,
    /// How often a chat WebSocket is pinged; one that answers nothing for two and a half
    /// times this is taken for dead and leaves its room.
    pub chat_ping_secs: u64,
    /// A resumable upload that receives nothing for this many seconds is removed with its
    /// bytes. Default 86400 (a day).
    pub upload_expiry_secs: u64,
    /// Where mail goes. Unset (the default): each message is written as a `.eml` file into
    /// `<data_dir>/outbox/` and its link is logged, nothing to set up. `smtp://HOST:PORT` (or
    /// `smtp://USER:PASSWORD@HOST:PORT`): handed to that SMTP server, in plain text (no TLS:
    /// a relay on the same machine or network, such as Postfix, that forwards it).
    pub smtp_url: Option<String>,
    /// The sender of the site's mail. Default `Youku <noreply@localhost>`.
    pub mail_from: String,
    /// The site's address as people reach it, for the links in mail (the HTTP door's
    /// `/confirm/...` and `/reset/...`). Default `http://127.0.0.1:5000`.
    pub site_url: String,
    /// How long a link confirming an e-mail address works, in seconds. Default 86400 (a day).
    pub email_confirm_secs: u64,
    /// How long a link setting a new password works, in seconds. Default 3600 (an hour).
    pub password_reset_secs: u64,
    /// Largest photo upload, in bytes. Default 20 MiB.
    pub photo_max_bytes: u64,
    /// Widest and tallest photo, in pixels. Default 16384.
    pub photo_max_side: u32,
    /// Most pixels in a photo (width × height). Default 50 000 000 (a decoded picture holds up
    /// to four bytes a pixel while its variants are made).
    pub photo_max_pixels: u64,
    /// How many photos are checked and made smaller at once, each on a thread of its own at a
    /// lowered priority. Default 0: the cores but one (at least one).
    pub photo_threads: usize,
    /// The network servers (section `[server]`; environment `NETDISK_SERVER__<FIELD>`).
    pub server: ServerConfig,
}

/// The doors' addresses and the limits they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where each door listens, by the door's name (`[server.doors] youku = "0.0.0.0:8080"`,
    /// `netdisk = "off"`; environment `NETDISK_SERVER__DOORS__YOUKU`). A door not named here
    /// listens on its own default address (see [`crate::server::DOORS`]); a name that is no
    /// door is refused when the server starts.
    pub doors: BTreeMap<String, Listen>,
    /// Connections served at once, over every door; more wait to be accepted. Default 1024.
    pub max_connections: usize,
    /// Largest request frame, in bytes. Default 1 MiB.
    pub max_frame_bytes: usize,
    /// Seconds a connection may wait between requests. Default 60.
    pub idle_timeout_secs: u64,
    /// Seconds a request frame may take from first to last byte. Default 10.
    pub frame_timeout_secs: u64,
    /// Seconds a file transfer may go without progress. Default 60.
    pub stall_timeout_secs: u64,
    /// Seconds transfers in flight get to finish after a shutdown signal. Default 30.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            doors: BTreeMap::new(),
            max_connections: 1024,
            max_frame_bytes: 1 << 20,
            idle_timeout_secs: 60,
            frame_timeout_secs: 10,
            stall_timeout_secs: 60,
            shutdown_grace_secs: 30,
        }
    }
}

impl ServerConfig {
    /// This configuration with door `name` set to `listen`.
    pub fn with_door(mut self, name: &str, listen: Listen) -> Self {
        self.doors.insert(name.to_owned(), listen);
        self
    }
}

/// Where a door listens: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Listen {
    /// The door is not started.
    Off,
    /// The door listens here (port 0: any free port).
    At(SocketAddr),
}

impl FromStr for Listen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(Listen::Off);
        }
        text.parse()
            .map(Listen::At)
            .map_err(|_| format!("`{text}` is neither an address (HOST:PORT) nor `off`"))
    }
}

impl TryFrom<String> for Listen {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Off => f.write_str("off"),
            Listen::At(addr) => addr.fmt(f),
        }
    }
}

impl From<Listen> for String {
    fn from(listen: Listen) -> String {
        listen.to_string()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("netdisk-data"),
            database_url: None,
            max_movie_bytes: 4 << 30,
            max_file_bytes: 1 << 30,
            free_wait_secs: 30,
            vip_price: 5,
            regular_price: 10,
            lockout_threshold: 5,
            lockout_secs: 15 * 60,
            session_idle_secs: 30 * 60,
            read_cache_ms: 500,
            pubsub: "in-process".to_owned(),
            pubsub_check_ms: 3000,
            admin_signup_open: false,
            upload_expiry_secs: 24 * 3600,
            chat_max_message_bytes: 4096,
            chat_burst: 20,
            chat_per_second: 5,
            chat_ping_secs: 5,
            smtp_url: None,
            mail_from: "Youku <noreply@localhost>".to_owned(),
            site_url: "http://127.0.0.1:5000".to_owned(),
            email_confirm_secs: 24 * 3600,
            password_reset_secs: 3600,
            photo_max_bytes: 20 << 20,
            photo_max_side: 16384,
            photo_max_pixels: 50_000_000,
            photo_threads: 0,
            server: ServerConfig::default(),
        }
    }
}

/// The prefix of the environment variables that override the configuration.
pub const ENV_PREFIX: &str = "NETDISK_";

impl Config {
    /// Defaults, then `file` (when given; a missing file is an error), then `NETDISK_*`
    /// environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "configuration file {} does not exist",
                    file.display()
                ))));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment
            .merge(
                Env::prefixed(ENV_PREFIX)
                    .filter(|key| names_a_setting(key.as_str()))
                    .split("__"),
            )
            .extract()
            .map_err(Box::new)
    }

    /// [`Config::read_cache_ms`] as a duration.
    pub fn read_cache(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.read_cache_ms)
    }

    /// The database URL: the configured one, or SQLite inside the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("netdisk.db").display()))
    }
}

/// Whether `key`, a `NETDISK_` variable's name without the prefix, names a setting
/// (`SERVER__MAX_CONNECTIONS` for `[server] max_connections`; any `SERVER__DOORS__<NAME>`).
/// Other `NETDISK_*` variables, such as the clients' `NETDISK_NAME`, are not the server's
/// business and are ignored; a TOML file with an unknown key is still refused.
fn names_a_setting(key: &str) -> bool {
    if key
        .to_ascii_uppercase()
        .strip_prefix("SERVER__DOORS__")
        .is_some_and(|door| !door.is_empty() && !door.contains("__"))
    {
        return true;
    }
    let Ok(defaults) = figment::value::Value::serialize(Config::default()) else {
        return true; // cannot happen; let extraction report the key
    };
    let mut value = &defaults;
    for part in key.split("__") {
        match value
            .as_dict()
            .and_then(|d| d.get(part.to_lowercase().as_str()))
        {
            Some(inner) => value = inner,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
// figment's `Jail` closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "netdisk.toml",
                "lockout_threshold = 3\nfree_wait_secs = 7\n",
            )?;
            jail.set_env("NETDISK_FREE_WAIT_SECS", "9");
            jail.set_env("NETDISK_DATABASE_URL", "mysql://root@127.0.0.1/test");
            jail.set_env("NETDISK_SERVER__DOORS__YOUKU", "0.0.0.0:9090");
            jail.set_env("NETDISK_SERVER__DOORS__NETDISK", "off");
            jail.set_env("NETDISK_SMTP_URL", "smtp://127.0.0.1:2525");
            jail.set_env("NETDISK_PASSWORD_RESET_SECS", "600");
            let config =
                Config::load(Some(Path::new("netdisk.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.lockout_threshold, 3);
            assert_eq!(config.free_wait_secs, 9);
            assert_eq!(config.database_url(), "mysql://root@127.0.0.1/test");
            assert_eq!(config.vip_price, 5);
            assert_eq!(config.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
            assert_eq!(config.password_reset_secs, 600);
            assert_eq!(config.email_confirm_secs, 24 * 3600);
            assert_eq!(
                config.server.doors["youku"],
                Listen::At("0.0.0.0:9090".parse().unwrap())
            );
            assert_eq!(config.server.doors["netdisk"], Listen::Off);
            assert_eq!(config.server.max_frame_bytes, 1 << 20);
            Ok(())
        });
    }

    #[test]
    fn other_netdisk_variables_are_left_alone() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("NETDISK_NAME", "alice"); // the clients' variable
            jail.set_env("NETDISK_STRESS_ROUNDS", "500");
            jail.set_env("NETDISK_SERVER__NONSENSE", "1");
            jail.set_env("NETDISK_DATABASE_URL", "sqlite::memory:");
            jail.set_env("NETDISK_SERVER__MAX_CONNECTIONS", "7");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.database_url(), "sqlite::memory:");
            assert_eq!(config.server.max_connections, 7);
            Ok(())
        });
    }

    #[test]
    fn doors_are_set_by_name_in_a_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "doors.toml",
                "[server.doors]\nyouku = \"127.0.0.1:9\"\nnetdisk = \"OFF\"\n",
            )?;
            let config = Config::load(Some(Path::new("doors.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                config.server.doors["youku"],
                Listen::At("127.0.0.1:9".parse().unwrap())
            );
            assert_eq!(config.server.doors["netdisk"], Listen::Off);
            jail.create_file("bad.toml", "[server.doors]\nyouku = \"port 9\"\n")?;
            let error = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(error.to_string().contains("neither an address"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lockout_treshold = 3\n")?;
            assert!(Config::load(Some(Path::new("bad.toml"))).is_err());
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn default_database_lives_in_the_data_directory() {
        let config = Config {
            data_dir: "/srv/nd".into(),
            ..Config::default()
        };
        assert_eq!(config.database_url(), "sqlite:///srv/nd/netdisk.db");
    }
}
