//! What every mode needs before its timed part: the run's context, an admin session, a small
//! catalogue (movies and notices), and logged-in users.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use examples::{Error, Role};

use crate::Common;
use crate::proto::{self, Content, Session, run_limited};
use crate::target::Target;

/// Size of each catalogue movie (the small mix lists them; one is downloaded per user).
const TINY_MOVIE: usize = 1024;

/// One loadgen run: its options, the server, a scratch directory and a tag that keeps its
/// account and movie names apart from other runs' on the same server.
pub struct Ctx {
    /// The options common to all modes.
    pub common: Common,
    /// The server under load.
    pub target: Target,
    /// Scratch space (removed at exit): generated files, baseline copies.
    pub work: PathBuf,
    /// A tag unique to this run, in every name it creates.
    pub run: String,
}

impl Ctx {
    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.target.addr
    }

    /// The name of this run's account `what` (at most 32 characters).
    pub fn name(&self, what: &str) -> String {
        format!("lg{}-{what}", self.run)
    }

    /// Logs in the run's admin, registering it first. On a fresh server the first admin
    /// registration is free; a server that has another admin must run with admin sign-up open.
    pub async fn admin(&self) -> anyhow::Result<Session> {
        let name = self.name("admin");
        let mut connection = proto::connect(self.addr()).await?;
        match proto::register(&mut connection, &name, Role::Admin).await {
            Ok(()) => {}
            Err(Error::Server { code, msg }) if code == "forbidden" => anyhow::bail!(
                "cannot create an admin ({msg}): run the server with --admin-signup-open, \
                 or let loadgen spawn its own"
            ),
            Err(error) => return Err(error.into()),
        }
        Session::login(self.addr(), &name, Role::Admin).await
    }

    /// Publishes `notices` notices and uploads `movies` tiny charged movies; returns the movies'
    /// ids.
    pub async fn seed_catalogue(
        &self,
        admin: &mut Session,
        movies: usize,
        notices: usize,
    ) -> anyhow::Result<Vec<i64>> {
        for i in 0..notices {
            admin.publish_notice(&format!("loadgen notice {i}")).await?;
        }
        let content = Content::generate(TINY_MOVIE, self.seed() ^ 0x5eed);
        let mut ids = Vec::new();
        for i in 0..movies {
            let name = format!("{}-tiny-{i}.mp4", self.name("m"));
            ids.push(admin.upload_movie(&name, &content, i as u64).await?);
        }
        Ok(ids)
    }

    /// Registers and logs in `count` users named `<prefix><i>` (at most `--login-concurrency`
    /// at once, since each costs an argon2id hash on the server); each downloads `movie` once
    /// when given, so that it has a download record. Returns their session tokens, and prints
    /// how long this took.
    pub async fn users(
        &self,
        prefix: &str,
        count: usize,
        movie: Option<i64>,
    ) -> anyhow::Result<Vec<String>> {
        let started = Instant::now();
        let addr = self.addr();
        let names: Vec<String> = (0..count)
            .map(|i| self.name(&format!("{prefix}{i}")))
            .collect();
        let tokens = run_limited(count, self.common.login_concurrency, move |i| {
            let name = names[i].clone();
            async move {
                let mut connection = proto::connect(addr).await?;
                proto::register(&mut connection, &name, Role::User)
                    .await
                    .with_context(|| format!("registering {name}"))?;
                let token = proto::login(&mut connection, &name, Role::User).await?;
                let mut session = Session { connection, token };
                if let Some(movie) = movie {
                    session.download_movie(movie).await?;
                }
                anyhow::Ok(session.token)
            }
        })
        .await?;
        println!(
            "set-up: {count} users registered and logged in in {:.1} s ({} at once)",
            started.elapsed().as_secs_f64(),
            self.common.login_concurrency
        );
        Ok(tokens)
    }

    /// A seed for generated content, different for each run.
    pub fn seed(&self) -> u64 {
        u64::from_str_radix(&self.run, 16).unwrap_or(1)
    }
}
