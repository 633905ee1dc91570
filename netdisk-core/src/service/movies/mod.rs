//! Movies: duplicate check, upload, paged lists, soft delete, and downloads with the wait-time
//! and price policy; the download record is written only once the whole transfer was read, and
//! its owner lists their records. Browsers watch through viewings (`viewings`).

mod viewings;

pub use viewings::{Viewing, ViewingContent};

use std::collections::HashMap;
use std::sync::Arc;

use mini_orm::{Filter, Model};
use serde::Serialize;
use tokio::io::AsyncRead;

use super::cache::ReadCache;
use super::content::Content;
use super::{Accounts, Caller, Shared, Transfer, UserType, check_md5, check_text, page};
use crate::error::{Result, ServiceError};
use crate::models::{DownloadRecord, Movie};

/// The answer when a live movie has the same content.
const DUPLICATE_MOVIE: &str = "a movie with this content exists already";

/// Longest movie name, in characters.
const MAX_MOVIE_NAME_CHARS: usize = 255;

/// An upload's announced metadata; `size` bytes follow in the reader.
#[derive(Debug, Clone, Copy)]
pub struct MovieUpload<'a> {
    /// The file name to show.
    pub name: &'a str,
    /// Bytes that follow.
    pub size: u64,
    /// Hex MD5 of the whole content, checked against what arrives.
    pub md5: &'a str,
    /// Free or charged.
    pub is_free: bool,
}

/// Which movies a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MovieKind {
    /// Free and charged.
    All,
    /// Free only.
    Free,
    /// Charged only.
    Charged,
}

/// A page of movies: newest first, deleted ones never.
#[derive(Debug, Clone, Default)]
pub struct MovieQuery<'a> {
    /// Which kind; `None` means all.
    pub kind: Option<MovieKind>,
    /// Only names containing this text (literally, case-sensitive).
    pub keyword: Option<&'a str>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Rows to return (default and maximum 1000).
    pub limit: Option<u64>,
}

/// One movie in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieSummary {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Free or charged.
    pub is_free: bool,
}

/// A page of movies and the number of all that match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieList {
    /// The page.
    pub movies: Vec<MovieSummary>,
    /// How many match in all.
    pub total: u64,
}

/// A download record as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordView {
    /// The movie's name.
    pub movie: String,
    /// When the download completed.
    pub download_time: String,
    /// What it cost.
    pub price: i64,
}

/// A download about to be sent: metadata for the response frame, the bytes, and the policy.
#[derive(Debug)]
pub struct MovieDownload {
    /// The movie.
    pub movie: Movie,
    /// Seconds to wait before sending the bytes (free movie, non-VIP user).
    pub wait_secs: u64,
    /// What it costs the caller.
    pub price: i64,
    /// The bytes from the requested offset; read all of them, then call [`MovieDownload::finish`].
    pub transfer: Transfer,
    user_id: i64,
}

impl MovieDownload {
    /// Records the download, once the whole transfer has been read. An incomplete transfer
    /// records nothing and is a [`ServiceError::BadRequest`].
    pub async fn finish(self, movies: &Movies) -> Result<()> {
        if !self.transfer.is_complete() {
            return Err(ServiceError::bad_request(
                "the download did not complete; nothing was recorded",
            ));
        }
        let mut record = DownloadRecord {
            id: 0,
            user_id: self.user_id,
            movie_id: self.movie.id,
            download_time: movies.shared.now_text(),
            price: self.price,
        };
        record.save(&movies.shared.db).await?;
        let user_id = self.user_id;
        movies.records.clear(|(owner, _, _), _| *owner == user_id);
        Ok(())
    }
}

fn live() -> Filter<Movie> {
    Movie::IS_DELETED.eq(false)
}

/// Pages of the catalogue: (kind, keyword, offset, limit) → the page.
type CataloguePages = ReadCache<(MovieKind, Option<String>, u64, u64), Arc<MovieList>>;
/// Pages of download records: (user id, offset, limit) → the page.
type RecordPages = ReadCache<(i64, u64, u64), Arc<Vec<RecordView>>>;
/// Viewings being watched: (user id, token) → what they read.
type Watched = ReadCache<(i64, String), ViewingContent>;

/// The movie service. Cheap to clone.
///
/// Pages of the catalogue, each person's download records and the viewings being watched are
/// kept in memory for
/// [`read_cache_ms`](crate::Config::read_cache_ms) (see `cache.rs`): an upload, a deletion or
/// a download through this process shows at once, through another process within that time.
#[derive(Clone)]
pub struct Movies {
    shared: Arc<Shared>,
    accounts: Accounts,
    content: Content,
    pages: Arc<CataloguePages>,
    records: Arc<RecordPages>,
    viewings: Arc<Watched>,
}

impl Movies {
    pub(super) fn new(shared: Arc<Shared>, accounts: Accounts, content: Content) -> Self {
        let ttl = shared.config.read_cache();
        Movies {
            shared,
            accounts,
            content,
            pages: Arc::new(ReadCache::new(ttl)),
            records: Arc::new(ReadCache::new(ttl)),
            viewings: Arc::new(ReadCache::new(ttl)),
        }
    }

    /// Ok when no live movie has this MD5 (an upload may go ahead); [`ServiceError::Conflict`]
    /// when one does. Admins only.
    pub async fn check(&self, caller: &Caller, md5: &str) -> Result<()> {
        caller.require(UserType::Admin)?;
        check_md5(md5)?;
        let same = Movie::query().filter(live() & Movie::FILE_MD5.eq(md5.to_ascii_lowercase()));
        if same.exists(&self.shared.db).await? {
            return Err(ServiceError::Conflict(DUPLICATE_MOVIE));
        }
        Ok(())
    }

    /// Stores a movie whose `upload.size` bytes come from `reader`, and returns its id. Admins
    /// only. Checks that need no bytes (role, name, MD5 shape, size limit, duplicate) come first
    /// and leave the reader untouched. The movie becomes visible only once its bytes are on disk,
    /// verified and durable; on any failure nothing is left behind.
    pub async fn upload<R: AsyncRead + Unpin>(
        &self,
        caller: &Caller,
        upload: MovieUpload<'_>,
        reader: &mut R,
    ) -> Result<i64> {
        self.check_upload(caller, upload).await?;
        let limit = self.shared.config.max_movie_bytes;
        let received = self
            .shared
            .storage
            .receive(reader, upload.size, Some(upload.md5), limit)
            .await?;
        let mut movie = Movie {
            id: 0,
            name: upload.name.to_owned(),
            is_free: upload.is_free,
            is_deleted: false,
            file_md5: received.md5.clone(),
            blob_id: 0,
            size: received.size as i64,
            upload_time: self.shared.now_text(),
            user_id: caller.user_id,
        };
        self.content
            .insert_with_content(
                received,
                &mut movie,
                |m, id| m.blob_id = id,
                DUPLICATE_MOVIE,
            )
            .await?;
        self.pages.clear(|_, _| true);
        Ok(movie.id)
    }

    /// The checks of [`Movies::upload`] that need no bytes: role, name, MD5 shape, size limit,
    /// duplicate.
    pub async fn check_upload(&self, caller: &Caller, upload: MovieUpload<'_>) -> Result<()> {
        caller.require(UserType::Admin)?;
        check_text("a movie name", upload.name, MAX_MOVIE_NAME_CHARS)?;
        let limit = self.shared.config.max_movie_bytes;
        if upload.size > limit {
            return Err(ServiceError::TooLarge {
                size: upload.size,
                limit,
            });
        }
        self.check(caller, upload.md5).await
    }

    /// A page of live movies, newest first, with the total that match. Any logged-in caller.
    pub async fn list(&self, _caller: &Caller, query: MovieQuery<'_>) -> Result<Arc<MovieList>> {
        let kind = query.kind.unwrap_or(MovieKind::All);
        let keyword = query.keyword.filter(|k| !k.is_empty());
        let (offset, limit) = page(query.offset, query.limit);
        if keyword.is_some_and(|k| k.chars().count() > MAX_MOVIE_NAME_CHARS) {
            // No name is that long (and SQLite refuses LIKE patterns over 50 000 bytes).
            return Ok(Arc::new(MovieList {
                movies: Vec::new(),
                total: 0,
            }));
        }
        let key = (kind, keyword.map(str::to_owned), offset, limit);
        let read = self.read_page(kind, keyword, offset, limit);
        self.pages.get_or_load(key, read).await
    }

    /// A page of the catalogue, from the database.
    async fn read_page(
        &self,
        kind: MovieKind,
        keyword: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<Arc<MovieList>> {
        let mut filter = live();
        match kind {
            MovieKind::All => {}
            MovieKind::Free => filter = filter & Movie::IS_FREE.eq(true),
            MovieKind::Charged => filter = filter & Movie::IS_FREE.eq(false),
        }
        if let Some(keyword) = keyword {
            filter = filter & Movie::NAME.contains(keyword);
        }
        let matching = Movie::query().filter(filter);
        let total = matching.clone().count(&self.shared.db).await?;
        let movies = matching
            .order_by(Movie::ID.desc())
            .offset(offset)
            .limit(limit)
            .all(&self.shared.db)
            .await?
            .into_iter()
            .map(|m| MovieSummary {
                id: m.id,
                name: m.name,
                is_free: m.is_free,
            })
            .collect();
        Ok(Arc::new(MovieList { movies, total }))
    }

    /// Soft-deletes a movie: the row stays, marked deleted; it leaves lists and downloads.
    /// Admins only.
    pub async fn delete(&self, caller: &Caller, movie_id: i64) -> Result<()> {
        caller.require(UserType::Admin)?;
        let matched = Movie::query()
            .filter(Movie::ID.eq(movie_id) & live())
            .update(&self.shared.db, [Movie::IS_DELETED.set(true)])
            .await?;
        if matched == 0 {
            return Err(ServiceError::NotFound("no such movie"));
        }
        self.pages.clear(|_, _| true);
        self.viewings
            .clear(|_, watched| watched.movie.id == movie_id);
        Ok(())
    }

    /// Starts a download of a live movie from `offset` (to resume). Users only. The price and
    /// the wait follow the configuration and the caller's VIP state at this moment.
    pub async fn download(
        &self,
        caller: &Caller,
        movie_id: i64,
        offset: u64,
    ) -> Result<MovieDownload> {
        caller.require(UserType::User)?;
        let movie = self.live_movie(movie_id).await?;
        if offset > movie.size as u64 {
            return Err(ServiceError::bad_request(
                "offset is past the end of the movie",
            ));
        }
        let (wait_secs, price) = self.terms(caller, &movie).await?;
        let (file, remaining) = self
            .shared
            .storage
            .open_blob(&self.content.blob_path(movie.blob_id).await?, offset)
            .await?;
        Ok(MovieDownload {
            movie,
            wait_secs,
            price,
            transfer: Transfer::new(file, remaining),
            user_id: caller.user_id,
        })
    }

    /// What `movie` costs the caller and how long they wait for it, by the configuration and
    /// the caller's VIP state at this moment: (wait in seconds, price).
    pub async fn terms(&self, caller: &Caller, movie: &Movie) -> Result<(u64, i64)> {
        let is_vip = self.accounts.profile(caller).await?.is_vip;
        let config = &self.shared.config;
        Ok(match (movie.is_free, is_vip) {
            (true, false) => (config.free_wait_secs, 0),
            (true, true) => (0, 0),
            (false, true) => (0, config.vip_price),
            (false, false) => (0, config.regular_price),
        })
    }

    /// A live movie by id.
    async fn live_movie(&self, movie_id: i64) -> Result<Movie> {
        Movie::query()
            .filter(Movie::ID.eq(movie_id) & live())
            .first(&self.shared.db)
            .await?
            .ok_or(ServiceError::NotFound("no such movie"))
    }

    /// The caller's own download records, newest first. Users only.
    pub async fn records(
        &self,
        caller: &Caller,
        offset: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Arc<Vec<RecordView>>> {
        caller.require(UserType::User)?;
        let (offset, limit) = page(offset, limit);
        let read = self.read_records(caller.user_id, offset, limit);
        self.records
            .get_or_load((caller.user_id, offset, limit), read)
            .await
    }

    /// A page of a person's download records, from the database.
    async fn read_records(
        &self,
        user_id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Arc<Vec<RecordView>>> {
        let records = DownloadRecord::query()
            .filter(DownloadRecord::USER_ID.eq(user_id))
            .order_by(DownloadRecord::ID.desc())
            .offset(offset)
            .limit(limit)
            .all(&self.shared.db)
            .await?;
        let movie_ids: Vec<i64> = records.iter().map(|r| r.movie_id).collect();
        let names: HashMap<i64, String> = Movie::query()
            .filter(Movie::ID.is_in(movie_ids))
            .all(&self.shared.db)
            .await?
            .into_iter()
            .map(|m| (m.id, m.name))
            .collect();
        let records = records
            .into_iter()
            .map(|r| RecordView {
                movie: names.get(&r.movie_id).cloned().unwrap_or_default(),
                download_time: r.download_time,
                price: r.price,
            })
            .collect();
        Ok(Arc::new(records))
    }
}
