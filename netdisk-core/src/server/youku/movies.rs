//! Youku requests served by the movie service: `check_movie`, `upload_movie`,
//! `get_movie_list`, `delete_movie`, `download_movie`, `check_download_record`.

use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};

use super::reply::{Reply, done, ok, one};
use super::request::{DeleteMovie, DownloadMovie, GetMovieList, Page, UploadMovie};
use crate::server::connection::Connection;
use crate::{Caller, MovieKind, MovieQuery, MovieUpload, Netdisk, ServiceError};

/// The fields of a `get_movie_list` answer: each movie as `[name, "free" or "charge", id]`.
#[derive(Serialize)]
struct MovieList<'a> {
    movie_list: Vec<(&'a str, &'static str, i64)>,
    total: u64,
}

pub(super) async fn check(
    netdisk: &Netdisk,
    caller: &Caller,
    file_md5: &str,
) -> Result<Reply, ServiceError> {
    netdisk.movies().check(caller, file_md5).await?;
    done("no movie has this content: upload may go ahead")
}

pub(super) async fn upload<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    caller: &Caller,
    connection: &mut Connection<S>,
    r: UploadMovie,
) -> Result<Reply, ServiceError> {
    let upload = MovieUpload {
        name: &r.file_name,
        size: r.file_size,
        md5: &r.file_md5,
        is_free: r.is_free,
    };
    let id = netdisk
        .movies()
        .upload(caller, upload, &mut connection.raw_body())
        .await?;
    one("uploaded", "movie_id", id)
}

pub(super) async fn list(
    netdisk: &Netdisk,
    caller: &Caller,
    r: GetMovieList,
) -> Result<Reply, ServiceError> {
    let kind = match r.movie_type.as_str() {
        "all" => MovieKind::All,
        "free" => MovieKind::Free,
        "charge" => MovieKind::Charged,
        _ => {
            return Err(ServiceError::BadRequest(
                "movie_type must be \"all\", \"free\" or \"charge\"".into(),
            ));
        }
    };
    let query = MovieQuery {
        kind: Some(kind),
        keyword: r.keyword.as_deref(),
        offset: r.offset,
        limit: r.limit,
    };
    let list = netdisk.movies().list(caller, query).await?;
    let kind = |is_free| if is_free { "free" } else { "charge" };
    let movies = MovieList {
        movie_list: list
            .movies
            .iter()
            .map(|m| (m.name.as_str(), kind(m.is_free), m.id))
            .collect(),
        total: list.total,
    };
    ok("movies", movies).map(Reply::Json)
}

pub(super) async fn delete(
    netdisk: &Netdisk,
    caller: &Caller,
    r: DeleteMovie,
) -> Result<Reply, ServiceError> {
    netdisk.movies().delete(caller, r.delete_movie_id).await?;
    done("deleted")
}

pub(super) async fn download(
    netdisk: &Netdisk,
    caller: &Caller,
    r: DownloadMovie,
) -> Result<Reply, ServiceError> {
    let download = netdisk
        .movies()
        .download(caller, r.movie_id, r.offset.unwrap_or(0))
        .await?;
    let head = ok(
        "download follows",
        json!({
            "file_name": download.movie.name,
            "file_size": download.transfer.len(),
            "file_md5": download.movie.file_md5,
            "wait_time": download.wait_secs,
            "price": download.price,
        }),
    )?;
    Ok(Reply::MovieDownload { head, download })
}

pub(super) async fn records(
    netdisk: &Netdisk,
    caller: &Caller,
    r: Page,
) -> Result<Reply, ServiceError> {
    let records = netdisk.movies().records(caller, r.offset, r.limit).await?;
    one("records", "record_list", records.as_slice())
}
