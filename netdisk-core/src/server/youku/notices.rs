//! Youku requests served by the notice service: `release_notice`, `check_notice`, `subscribe`.

use super::reply::{Reply, done, one};
use super::request::{Page, ReleaseNotice};
use crate::{Caller, Netdisk, ServiceError};

pub(super) async fn release(
    netdisk: &Netdisk,
    caller: &Caller,
    r: ReleaseNotice,
) -> Result<Reply, ServiceError> {
    let id = netdisk
        .notices()
        .publish(caller, &r.title, &r.content)
        .await?;
    one("published", "notice_id", id)
}

pub(super) async fn list(
    netdisk: &Netdisk,
    caller: &Caller,
    r: Page,
) -> Result<Reply, ServiceError> {
    let notices = netdisk.notices().list(caller, r.offset, r.limit).await?;
    one("notices", "notice_list", notices.as_slice())
}

/// Acknowledges a subscription; the door then pushes each new notice on the connection.
pub(super) fn subscribe() -> Result<Reply, ServiceError> {
    done("subscribed: notices will be pushed")
}
