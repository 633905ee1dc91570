//! A Python client written like the original course project's works against the server
//! unchanged (`tests/python/original_client.py`). Runs when `python3` is on the PATH; CI has it.

mod support;

use mini_orm::testing::{TestBackend, TestDb};
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_style_python_client_works_unchanged() {
    if !support::python3_present() {
        return;
    }
    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    let server = TestServer::start(&t).await;
    let running = server.running.as_ref().unwrap();
    let youku = running.addr("youku").unwrap().port().to_string();
    let netdisk = running.addr("netdisk").unwrap().port().to_string();
    support::run_python_client("original_client.py", &[&youku, &netdisk]).await;
}
