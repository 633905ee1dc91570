//! Youku requests served by the personal netdisk: `upload_file`, `list_files`,
//! `download_file`, `delete_file`.

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

use super::reply::{Reply, done, ok, one};
use super::request::{DeleteFile, DownloadFile, UploadFile};
use crate::server::connection::Connection;
use crate::{Caller, Netdisk, ServiceError};

pub(super) async fn upload<S: AsyncRead + AsyncWrite + Unpin + Send>(
    netdisk: &Netdisk,
    caller: &Caller,
    connection: &mut Connection<S>,
    r: UploadFile,
) -> Result<Reply, ServiceError> {
    let id = netdisk
        .files()
        .upload(
            caller,
            &r.file_name,
            r.file_size,
            Some(&r.file_md5),
            &mut connection.raw_body(),
        )
        .await?;
    one("uploaded", "file_id", id)
}

pub(super) async fn list(netdisk: &Netdisk, caller: &Caller) -> Result<Reply, ServiceError> {
    let files: Vec<Value> = netdisk
        .files()
        .list(caller)
        .await?
        .into_iter()
        .map(|f| json!({ "file_id": f.id, "file_name": f.name, "file_size": f.size, "upload_time": f.upload_time }))
        .collect();
    one("files", "file_list", files)
}

pub(super) async fn download(
    netdisk: &Netdisk,
    caller: &Caller,
    r: DownloadFile,
) -> Result<Reply, ServiceError> {
    let download = netdisk
        .files()
        .download(caller, r.file_id, r.offset.unwrap_or(0))
        .await?;
    let head = ok(
        "download follows",
        json!({ "file_name": download.file.name, "file_size": download.transfer.len(), "file_md5": download.file.md5 }),
    )?;
    Ok(Reply::FileDownload { head, download })
}

pub(super) async fn delete(
    netdisk: &Netdisk,
    caller: &Caller,
    r: DeleteFile,
) -> Result<Reply, ServiceError> {
    netdisk.files().delete(caller, r.file_id).await?;
    done("deleted")
}
