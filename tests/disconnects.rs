//! Clients that vanish in the middle of a transfer, at random offsets, on both protocols and every
//! backend: uploads (Youku `upload_movie` and `upload_file`, netdisk `upload`) cut off after some
//! of their bytes leave no row and no file (neither a temporary in `tmp/` nor a blob), downloads
//! (Youku `download_movie` and `download_file`, netdisk `download`) cut off part-way write no
//! download record, and the server goes on serving: complete transfers on both doors still work
//! afterwards and carry the right bytes.
//!
//! A cut is a close (FIN), a reset (RST), or, for uploads, a half-close after which the client
//! reads the server's answer (Youku: `bad_request`, since the upload ended early).
//!
//! The offsets come from a seeded random source; the seed is printed. Replay a run with
//! `NETDISK_DISCONNECT_SEED=<seed>`; try more offsets per kind of transfer (default 3) with
//! `NETDISK_DISCONNECT_OFFSETS=50 cargo test -p tests --test disconnects`.

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{connect_small_window, door_login, env_count, seeded_rng, upload_file, upload_movie};
use mini_orm::testing::TestDb;
use mini_orm::{Model, backend_tests};
use netdisk_core::models::{DownloadRecord, Movie, UserFile};
use rand::RngExt;
use rand::rngs::StdRng;
use serde_json::json;
use support::{TestServer, api, door_upload, md5_hex};
use tokio::io::AsyncWriteExt;

type Result = mini_orm::Result<()>;

/// Replays a run.
const SEED_VAR: &str = "NETDISK_DISCONNECT_SEED";
/// Offsets tried per kind of transfer.
const OFFSETS_VAR: &str = "NETDISK_DISCONNECT_OFFSETS";
/// The user whose files and downloads are cut off (registered by `Client::login_as`).
const VIEWER: &str = "viewer";
/// Size of the stored movie and file that downloads are cut off from.
const STORED_BYTES: usize = 12 << 20;
/// Downloads are cut off before this offset. The server writes a download record once it has
/// handed the last byte to the kernel (docs/protocol-notes.md), so the bytes left must be more
/// than the socket buffers can absorb: at least 8 MiB here, against a 4 MiB maximum send buffer
/// (Linux's default `tcp_wmem`) and the client's 16 KiB receive window.
const MAX_DOWNLOAD_OFFSET: usize = 4 << 20;
/// Largest upload that is cut off.
const MAX_UPLOAD_BYTES: usize = 2 << 20;

/// `len` bytes that differ from those of another `salt`, and from one position to the next.
fn content(len: usize, salt: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

/// How a client goes away.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Closes the socket (FIN).
    Close,
    /// Resets the connection (RST).
    Reset,
    /// Stops sending (FIN) but reads the server's answer to the broken upload.
    HalfClose,
}

impl Cut {
    /// One of the three, at random.
    fn random(rng: &mut StdRng) -> Cut {
        [Cut::Close, Cut::Reset, Cut::HalfClose][rng.random_range(0..3)]
    }
}

/// The three ways to upload.
#[derive(Debug, Clone, Copy)]
enum Upload {
    YoukuMovie,
    YoukuFile,
    Netdisk,
}

/// The three ways to download.
#[derive(Debug, Clone, Copy)]
enum Download {
    YoukuMovie,
    YoukuFile,
    Netdisk,
}

/// What the data directory and the tables hold when no transfer is in flight.
struct Stored {
    files: usize,
    movies: u64,
    user_files: u64,
    records: u64,
}

impl Stored {
    /// Counts them now.
    async fn now(server: &TestServer, t: &TestDb) -> mini_orm::Result<Stored> {
        Ok(Stored {
            files: server.stored_files(),
            movies: Movie::query().count(&t.db).await?,
            user_files: UserFile::query().count(&t.db).await?,
            records: DownloadRecord::query().count(&t.db).await?,
        })
    }
}

/// Sessions and ids the transfers use.
struct Setup {
    admin: String,
    viewer: String,
    movie_id: i64,
    file_id: i64,
    movie: Vec<u8>,
    file: Vec<u8>,
}

/// Waits until the server has finished with the previous connection: it serves one connection at
/// a time, so a new connection's request is answered only after the old one's task (and its
/// clean-up) ended.
async fn settle(server: &TestServer, setup: &Setup) {
    let mut c = server.youku().await;
    let answer = c
        .call(json!({"type": "check_notice", "session": setup.viewer}))
        .await;
    assert_eq!(answer["flag"], true, "the server goes on serving: {answer}");
}

/// Uploads `size` bytes of which only `sent` go out before the client leaves as `cut` says.
async fn cut_upload(
    server: &TestServer,
    setup: &Setup,
    kind: Upload,
    name: &str,
    bytes: &[u8],
    sent: usize,
    cut: Cut,
) {
    let mut c = match kind {
        Upload::YoukuMovie | Upload::YoukuFile => server.youku().await,
        Upload::Netdisk => server.netdisk_client().await,
    };
    match kind {
        Upload::YoukuMovie => {
            c.send(
                &json!({"type": "upload_movie", "session": setup.admin, "file_name": name,
                           "file_size": bytes.len(), "file_md5": md5_hex(bytes), "is_free": 1}),
            )
            .await;
        }
        Upload::YoukuFile => {
            c.send(
                &json!({"type": "upload_file", "session": setup.viewer, "file_name": name,
                           "file_size": bytes.len(), "file_md5": md5_hex(bytes)}),
            )
            .await;
        }
        Upload::Netdisk => {
            door_login(&mut c, VIEWER).await;
            let go = c
                .call(api(
                    "upload",
                    json!({"username": VIEWER, "file_name": name, "file_size": bytes.len()}),
                ))
                .await;
            assert_eq!(go["code"], 99999, "{go}");
        }
    }
    c.send_raw(&bytes[..sent]).await;
    match cut {
        Cut::Close => drop(c),
        Cut::Reset => {
            c.stream.set_zero_linger().unwrap();
            drop(c);
        }
        Cut::HalfClose => {
            c.stream.shutdown().await.unwrap();
            let answer = c.recv().await.expect("an answer to the broken upload");
            match kind {
                Upload::YoukuMovie | Upload::YoukuFile => assert_eq!(
                    (answer["flag"].clone(), answer["code"].clone()),
                    (json!(false), json!("bad_request")),
                    "{answer}"
                ),
                Upload::Netdisk => assert_ne!(answer["code"], 1, "{answer}"),
            }
            assert!(c.closed().await, "the server closes the broken connection");
        }
    }
}

/// Starts a download, reads its first `offset` raw bytes, and leaves (with bytes unread, the
/// close resets the connection).
async fn cut_download(server: &TestServer, setup: &Setup, kind: Download, offset: usize) {
    let running = server.running.as_ref().unwrap();
    let mut c = match kind {
        Download::YoukuMovie | Download::YoukuFile => {
            connect_small_window(running.addr("youku").unwrap()).await
        }
        Download::Netdisk => connect_small_window(running.addr("netdisk").unwrap()).await,
    };
    let head = match kind {
        Download::YoukuMovie => {
            c.call(json!({"type": "download_movie", "session": setup.viewer, "movie_id": setup.movie_id}))
                .await
        }
        Download::YoukuFile => {
            c.call(json!({"type": "download_file", "session": setup.viewer, "file_id": setup.file_id}))
                .await
        }
        Download::Netdisk => {
            door_login(&mut c, VIEWER).await;
            c.call(api(
                "download",
                json!({"username": VIEWER, "file_name": "stored file", "file_size": STORED_BYTES}),
            ))
            .await
        }
    };
    let started = match kind {
        Download::YoukuMovie | Download::YoukuFile => head["flag"] == true,
        Download::Netdisk => head["code"] == 99999,
    };
    assert!(started, "{kind:?}: {head}");
    let received = c.recv_raw(offset).await;
    let expected = match kind {
        Download::YoukuMovie => &setup.movie,
        Download::YoukuFile | Download::Netdisk => &setup.file,
    };
    assert!(
        received == expected[..offset],
        "{kind:?}: the first {offset} bytes differ"
    );
    drop(c);
}

/// Complete transfers on both doors after all the cut-off ones: the server still serves them,
/// with the right bytes, and records the one complete movie download.
async fn complete_transfers_still_work(
    server: &TestServer,
    t: &TestDb,
    setup: &Setup,
    before: &Stored,
) -> Result {
    let mut c = server.youku().await;
    let head = c
        .call(
            json!({"type": "download_movie", "session": setup.viewer, "movie_id": setup.movie_id}),
        )
        .await;
    assert_eq!(head["file_size"], STORED_BYTES, "{head}");
    assert!(c.recv_raw(STORED_BYTES).await == setup.movie);
    let head = c
        .call(json!({"type": "download_file", "session": setup.viewer, "file_id": setup.file_id}))
        .await;
    assert_eq!(head["file_size"], STORED_BYTES, "{head}");
    assert!(c.recv_raw(STORED_BYTES).await == setup.file);
    let after = upload_file(&mut c, &setup.viewer, "after youku", b"still serving").await;
    assert_eq!(after["flag"], true, "{after}");
    drop(c);

    let mut door = server.netdisk_client().await;
    door_login(&mut door, VIEWER).await;
    let go = door
        .call(api(
            "download",
            json!({"username": VIEWER, "file_name": "stored file", "file_size": STORED_BYTES}),
        ))
        .await;
    assert_eq!(go["code"], 99999, "{go}");
    assert!(door.recv_raw(STORED_BYTES).await == setup.file);
    assert_eq!(door.call(json!("ok")).await["code"], 1);
    let after = door_upload(&mut door, VIEWER, "after netdisk", b"still serving too").await;
    assert_eq!(after["code"], 1, "{after}");
    drop(door);

    settle(server, setup).await;
    assert_eq!(
        DownloadRecord::query().count(&t.db).await?,
        before.records + 1,
        "a complete download is recorded"
    );
    assert_eq!(UserFile::query().count(&t.db).await?, before.user_files + 2);
    Ok(())
}

/// Every kind of transfer, cut off at random offsets, then complete transfers.
async fn transfers_cut_off_at_random_offsets_leave_no_trace(t: &TestDb) -> Result {
    let mut rng = seeded_rng(SEED_VAR);
    let offsets = env_count(OFFSETS_VAR, 3);
    // One connection at a time, so that `settle` can tell when a cut-off one was dealt with.
    let server = TestServer::start_with(t, |c| c.server.max_connections = 1).await;
    let admin = server.youku().await.login_as("root", "admin").await;
    let viewer = server.youku().await.login_as(VIEWER, "user").await;
    let movie = content(STORED_BYTES, rng.random());
    let file = content(STORED_BYTES, rng.random());
    let uploaded = upload_movie(&mut server.youku().await, &admin, "stored movie", &movie).await;
    let movie_id = uploaded["movie_id"].as_i64().expect("a movie id");
    let uploaded = upload_file(&mut server.youku().await, &viewer, "stored file", &file).await;
    let file_id = uploaded["file_id"].as_i64().expect("a file id");
    let setup = Setup {
        admin,
        viewer,
        movie_id,
        file_id,
        movie,
        file,
    };
    settle(&server, &setup).await;
    let before = Stored::now(&server, t).await?;
    assert_eq!(
        (
            before.files,
            before.movies,
            before.user_files,
            before.records
        ),
        (2, 1, 1, 0)
    );

    let check = async |what: &str| -> Result {
        settle(&server, &setup).await;
        let now = Stored::now(&server, t).await?;
        assert_eq!(now.files, before.files, "{what}: files in tmp/ and blobs/");
        assert_eq!(now.movies, before.movies, "{what}: movie rows");
        assert_eq!(now.user_files, before.user_files, "{what}: file rows");
        assert_eq!(now.records, before.records, "{what}: download records");
        Ok(())
    };

    for round in 0..offsets {
        for kind in [Upload::YoukuMovie, Upload::YoukuFile, Upload::Netdisk] {
            let size = rng.random_range(1..=MAX_UPLOAD_BYTES);
            let sent = rng.random_range(0..size);
            let cut = Cut::random(&mut rng);
            let bytes = content(size, rng.random());
            let what = format!("{kind:?} upload cut off ({cut:?}) after {sent} of {size} bytes");
            println!("{what}");
            let name = format!("cut {round} {kind:?}");
            cut_upload(&server, &setup, kind, &name, &bytes, sent, cut).await;
            check(&what).await?;
        }
        for kind in [Download::YoukuMovie, Download::YoukuFile, Download::Netdisk] {
            let offset = rng.random_range(0..MAX_DOWNLOAD_OFFSET);
            let what = format!("{kind:?} download cut off after {offset} of {STORED_BYTES} bytes");
            println!("{what}");
            cut_download(&server, &setup, kind, offset).await;
            check(&what).await?;
        }
    }
    complete_transfers_still_work(&server, t, &setup, &before).await
}

backend_tests!(transfers_cut_off_at_random_offsets_leave_no_trace);
