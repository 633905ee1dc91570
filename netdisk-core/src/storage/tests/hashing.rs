//! Hashing: the digests are right over many odd-sized chunks; the hashing threads end once
//! their input is dropped, and run below the request workers' priority.

use md5::Md5;
use sha2::{Digest, Sha256};

use super::*;
use crate::storage::hashing::{BUFFERS, Chunk, HASHING_NICE_INCREMENT, Hashers};
use crate::storage::receive::BUF_SIZE;

#[tokio::test]
async fn hashing_threads_end_once_their_input_is_dropped() {
    let mut hashers = Hashers::start().unwrap();
    for _ in 0..BUFFERS {
        let buf = hashers.buffer(BUF_SIZE).await.unwrap();
        hashers.push(Chunk { buf, len: BUF_SIZE }).unwrap();
    }
    // What dropping the future of a receive does: the chunks' sender goes away.
    let Hashers {
        to_md5, mut free, ..
    } = hashers;
    drop(to_md5);
    // `free` is closed once the SHA-256 thread, which ends after the MD5 thread, has ended.
    // (The timeout only turns a hang into a failure.)
    let returned = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut returned = 0;
        while free.recv().await.is_some() {
            returned += 1;
        }
        returned
    })
    .await
    .expect("the hashing threads did not end");
    assert_eq!(returned, BUFFERS, "every chunk sent was hashed first");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn upload_hashing_runs_below_the_workers_priority() {
    let lowered = (crate::priority::thread_nice() + HASHING_NICE_INCREMENT).min(19);
    let mut hashers = Hashers::start().unwrap();
    let buf = hashers.buffer(16).await.unwrap();
    hashers.push(Chunk { buf, len: 16 }).unwrap();
    // Once the chunk is back, both threads have hashed, so both lowered their priority.
    let _back = hashers.free.recv().await.unwrap();
    let mut at_lowered = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if !matches!(name.trim(), "upload-md5" | "upload-sha256") {
            continue;
        }
        // Threads of uploads in other tests may come and go meanwhile.
        let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
            continue;
        };
        // The nice value is field 19 of `stat`: the 17th after the command's `)`.
        let after_name = stat.rsplit_once(')').unwrap().1;
        let nice: i32 = after_name
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap();
        at_lowered += usize::from(nice == lowered);
    }
    assert!(
        at_lowered >= 2,
        "{at_lowered} hashing threads at nice {lowered}"
    );
}

#[tokio::test]
async fn large_chunked_upload_hashes_correctly() {
    let (_dir, storage) = store().await;
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let md5 = hex::encode(Md5::digest(&data));
    let sha256 = hex::encode(Sha256::digest(&data));
    // Odd-sized small chunks, with a Pending before every other one.
    let mut reader = ChunkedReader::new(data.clone(), 1000 + 7);
    let received = storage
        .receive(&mut reader, data.len() as u64, Some(&md5), LIMIT)
        .await
        .unwrap();
    assert_eq!(received.size, data.len() as u64);
    assert_eq!(received.md5, md5);
    assert_eq!(received.sha256, sha256);

    let rel = Storage::blob_path(&received.sha256, 42);
    received.persist(&storage, &rel).await.unwrap();
    let (mut file, remaining) = storage.open_blob(&rel, 1_000_000).await.unwrap();
    assert_eq!(remaining, data.len() as u64 - 1_000_000);
    assert_eq!(read_all(&mut file).await, &data[1_000_000..]);
}
