//! Viewings: how a browser watches or downloads a movie. A video element reads a movie in many
//! range requests, and may be sought back and forth; the policy of [`Movies::download`] holds
//! per *viewing*, not per request: the price and the wait are fixed when the viewing starts,
//! no byte is readable before the wait is over, and the first read of its bytes writes the one
//! download record the viewing makes.

use mini_orm::Model;

use super::{Movies, live};
use crate::error::{Result, ServiceError};
use crate::models::{DownloadRecord, Movie, MovieViewing};
use crate::service::{Caller, StoredContent, UserType};

/// Viewings older than this are removed when a new one starts.
const VIEWING_LIFETIME_SECS: i64 = 24 * 3600;

/// A viewing just started: what it costs, how long it waits, and its token (the address of its
/// bytes).
#[derive(Debug, Clone)]
pub struct Viewing {
    /// Names the viewing; only its owner's session can use it.
    pub token: String,
    /// The movie.
    pub movie: Movie,
    /// Seconds before its bytes can be read.
    pub wait_secs: u64,
    /// What it costs.
    pub price: i64,
}

/// The bytes of a viewing whose wait is over.
#[derive(Debug, Clone)]
pub struct ViewingContent {
    /// The movie.
    pub movie: Movie,
    /// Its bytes, any range of them.
    pub content: StoredContent,
    viewing: MovieViewing,
}

impl ViewingContent {
    /// Writes the viewing's download record, unless it was written already: call it before
    /// sending bytes. However many requests race here, one record is written.
    pub async fn record(&self, movies: &Movies) -> Result<()> {
        if self.viewing.recorded {
            return Ok(());
        }
        let db = &movies.shared.db;
        let mut tx = db.begin().await?;
        let claimed = MovieViewing::query()
            .filter(MovieViewing::ID.eq(self.viewing.id) & MovieViewing::RECORDED.eq(false))
            .update(&mut tx, [MovieViewing::RECORDED.set(true)])
            .await?;
        if claimed == 1 {
            let mut record = DownloadRecord {
                id: 0,
                user_id: self.viewing.user_id,
                movie_id: self.viewing.movie_id,
                download_time: movies.shared.now_text(),
                price: self.viewing.price,
            };
            record.save(&mut tx).await?;
        }
        tx.commit().await?;
        let user_id = self.viewing.user_id;
        movies.records.clear(|(owner, _, _), _| *owner == user_id);
        let key = (user_id, self.viewing.token.clone());
        movies
            .viewings
            .update(&key, |kept| kept.viewing.recorded = true);
        Ok(())
    }
}

impl Movies {
    /// A live movie. Any logged-in caller.
    pub async fn get(&self, _caller: &Caller, movie_id: i64) -> Result<Movie> {
        self.live_movie(movie_id).await
    }

    /// Starts a viewing of a live movie. Users only. The price and the wait follow the
    /// configuration and the caller's VIP state at this moment, as a download's do.
    pub async fn start_viewing(&self, caller: &Caller, movie_id: i64) -> Result<Viewing> {
        caller.require(UserType::User)?;
        let movie = self.live_movie(movie_id).await?;
        let (wait_secs, price) = self.terms(caller, &movie).await?;
        let now = self.shared.now();
        MovieViewing::query()
            .filter(MovieViewing::STARTED_AT.lt(now - VIEWING_LIFETIME_SECS))
            .delete(&self.shared.db)
            .await?;
        let mut viewing = MovieViewing {
            id: 0,
            token: hex::encode(rand::random::<[u8; 16]>()),
            user_id: caller.user_id,
            movie_id: movie.id,
            price,
            started_at: now,
            ready_at: now + wait_secs as i64,
            recorded: false,
        };
        viewing.save(&self.shared.db).await?;
        Ok(Viewing {
            token: viewing.token,
            movie,
            wait_secs,
            price,
        })
    }

    /// The bytes of one of the caller's viewings. Someone else's viewing, an unknown token or a
    /// movie deleted since is [`ServiceError::NotFound`]; a viewing still waiting is
    /// [`ServiceError::NotYet`]. Reading them records nothing: [`ViewingContent::record`] does.
    ///
    /// A player reads a movie in many ranges; what a viewing resolves to is trusted from memory
    /// for [`read_cache_ms`](crate::Config::read_cache_ms), so that each range costs no query
    /// (a movie deleted through another process stops playing within that time).
    pub async fn watch(&self, caller: &Caller, token: &str) -> Result<ViewingContent> {
        const NO_VIEWING: ServiceError = ServiceError::NotFound("no such viewing");
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NO_VIEWING);
        }
        let key = (caller.user_id, token.to_owned());
        let watched = self
            .viewings
            .get_or_load(key, self.find_viewing(caller, token))
            .await?;
        let now = self.shared.now();
        if now < watched.viewing.ready_at {
            let wait_secs = (watched.viewing.ready_at - now) as u64;
            return Err(ServiceError::NotYet { wait_secs });
        }
        Ok(watched)
    }

    /// A viewing of the caller's and its movie's bytes, from the database.
    async fn find_viewing(&self, caller: &Caller, token: &str) -> Result<ViewingContent> {
        let viewing = MovieViewing::query()
            .filter(MovieViewing::TOKEN.eq(token) & MovieViewing::USER_ID.eq(caller.user_id))
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such viewing"))?;
        let movie = Movie::query()
            .filter(Movie::ID.eq(viewing.movie_id) & live())
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such movie"))?;
        let path = self.content.blob_path(movie.blob_id).await?;
        let content = StoredContent::new(
            self.shared.storage.clone(),
            path,
            movie.size as u64,
            movie.file_md5.clone(),
        );
        Ok(ViewingContent {
            movie,
            content,
            viewing,
        })
    }
}
