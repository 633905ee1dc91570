//! Building blocks for tests/concurrency.rs and tests/security/, on top of `support` and
//! `faults` (which a binary including this file includes too): accounts with a chosen password,
//! movie and file transfers over the Youku protocol, crowds of clients acting at the same moment,
//! a server whose clock moves only when told, and one request of every kind that carries a
//! session.
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::faults::{upload_file, upload_movie, within};
use crate::support::{Client, TestServer, md5_hex};

/// `len` bytes, different for each `salt`, not all alike (so a misplaced byte shows).
pub fn content(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + usize::from(salt) * 7) % 251) as u8)
        .collect()
}

/// How long a whole crowd of clients may take before the test fails instead of hanging.
const CROWD_LIMIT: Duration = Duration::from_secs(120);

/// Waits for every task of `tasks` (within [`CROWD_LIMIT`]) and returns their outputs in the
/// order they finished.
async fn join_all<T: 'static>(mut tasks: JoinSet<T>) -> Vec<T> {
    within(CROWD_LIMIT, "a crowd of clients", async {
        let mut outputs = Vec::new();
        while let Some(output) = tasks.join_next().await {
            outputs.push(output.expect("a client task panicked"));
        }
        outputs
    })
    .await
}

/// Runs `act(i, clients[i])` for every client at once (each waits for all to be ready) and
/// returns the outputs in client order.
pub async fn all_at_once<T, F, Fut>(clients: Vec<Client>, act: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Client) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let start = Arc::new(Barrier::new(clients.len()));
    let mut tasks = JoinSet::new();
    for (i, client) in clients.into_iter().enumerate() {
        let action = act(i, client);
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            (i, action.await)
        });
    }
    let mut outputs = join_all(tasks).await;
    outputs.sort_by_key(|(i, _)| *i);
    outputs.into_iter().map(|(_, output)| output).collect()
}

/// `n` new Youku connections to `server`.
pub async fn youku_clients(server: &TestServer, n: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(server.youku().await);
    }
    clients
}

/// A Youku `register` request.
pub fn register(name: &str, password: &str, user_type: &str) -> Value {
    json!({"type": "register", "name": name, "password": password, "user_type": user_type})
}

/// A Youku `login` request.
pub fn login(name: &str, password: &str, user_type: &str) -> Value {
    json!({"type": "login", "name": name, "password": password, "user_type": user_type})
}

/// Registers `name` with `password` (which must be new) and logs in; returns the session token.
pub async fn account(c: &mut Client, name: &str, password: &str, user_type: &str) -> String {
    let registered = c.call(register(name, password, user_type)).await;
    assert_eq!(registered["flag"], true, "register {name}: {registered}");
    let answer = c.call(login(name, password, user_type)).await;
    assert_eq!(answer["flag"], true, "login {name}: {answer}");
    answer["session"].as_str().unwrap().to_owned()
}

/// Uploads `bytes` as a charged movie in the admin session `session`; returns the movie id.
pub async fn movie(c: &mut Client, session: &str, name: &str, bytes: &[u8]) -> i64 {
    let answer = upload_movie(c, session, name, bytes).await;
    assert_eq!(answer["flag"], true, "upload_movie {name}: {answer}");
    answer["movie_id"].as_i64().unwrap()
}

/// Uploads `bytes` to the personal netdisk of session `session`; returns the file id.
pub async fn file(c: &mut Client, session: &str, name: &str, bytes: &[u8]) -> i64 {
    let answer = upload_file(c, session, name, bytes).await;
    assert_eq!(answer["flag"], true, "upload_file {name}: {answer}");
    answer["file_id"].as_i64().unwrap()
}

/// Sends `request` (a `download_movie` or `download_file`) and returns the answer and the raw
/// bytes that follow it (none after a refusal).
pub async fn download(c: &mut Client, request: Value) -> (Value, Vec<u8>) {
    let head = c.call(request).await;
    let bytes = match head["file_size"].as_u64() {
        Some(len) if head["flag"] == true => c.recv_raw(len as usize).await,
        _ => Vec::new(),
    };
    (head, bytes)
}

/// Ids that the requests of [`session_requests`] name.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    /// A live movie.
    pub movie_id: i64,
    /// A personal file.
    pub file_id: i64,
}

/// One request of each of the contract's 15 types that carry a `session`, in session `session`,
/// each with the raw bytes that follow its frame (uploads only). Valid in every other way, so
/// with a live session of the right role each would be carried out.
pub fn session_requests(session: &str, targets: Targets) -> Vec<(Value, Vec<u8>)> {
    let bytes = content(1000, 99);
    let md5 = md5_hex(&bytes);
    let Targets { movie_id, file_id } = targets;
    let plain = |request: Value| (request, Vec::new());
    vec![
        plain(json!({"type": "check_movie", "session": session, "file_md5": md5})),
        (
            json!({"type": "upload_movie", "session": session, "file_name": "sneaked.mp4",
                   "file_size": bytes.len(), "file_md5": md5, "is_free": 1}),
            bytes.clone(),
        ),
        plain(json!({"type": "get_movie_list", "session": session, "movie_type": "all"})),
        plain(json!({"type": "delete_movie", "session": session, "delete_movie_id": movie_id})),
        plain(
            json!({"type": "release_notice", "session": session, "title": "sneaked", "content": "x"}),
        ),
        plain(json!({"type": "check_notice", "session": session})),
        plain(json!({"type": "buy_vip", "session": session})),
        plain(json!({"type": "download_movie", "session": session, "movie_id": movie_id})),
        plain(json!({"type": "check_download_record", "session": session})),
        (
            json!({"type": "upload_file", "session": session, "file_name": "sneaked.txt",
                   "file_size": bytes.len(), "file_md5": md5}),
            bytes,
        ),
        plain(json!({"type": "list_files", "session": session})),
        plain(json!({"type": "download_file", "session": session, "file_id": file_id})),
        plain(json!({"type": "delete_file", "session": session, "file_id": file_id})),
        plain(json!({"type": "subscribe", "session": session})),
        plain(json!({"type": "logout", "session": session})),
    ]
}

/// Sends each of `requests` (with its bytes) and asserts that each is refused with `code`; `what`
/// names the situation in failure messages.
pub async fn assert_all_refused(
    c: &mut Client,
    requests: Vec<(Value, Vec<u8>)>,
    code: &str,
    what: &str,
) {
    for (request, bytes) in requests {
        c.send(&request).await;
        c.send_raw(&bytes).await;
        let answer = c.recv().await.expect("an answer");
        assert_eq!(
            (answer["flag"].clone(), answer["code"].clone()),
            (json!(false), json!(code)),
            "{what}: {} was not refused with {code}: {answer}",
            request["type"]
        );
    }
}
