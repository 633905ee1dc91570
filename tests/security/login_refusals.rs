//! One answer for every wrong login: an unknown user, a wrong password and a wrong user type get
//! the very same answer, on each door; how long each kind takes is printed, never asserted.

use std::time::{Duration, Instant};

use mini_orm::backend_tests;
use mini_orm::testing::TestDb;
use serde_json::json;

use crate::Result;
use crate::faults::env_count;
use crate::scenarios::{account, login};
use crate::support::{TestServer, api as netdisk, md5_hex};

/// The median and 90th percentile of `samples`, in milliseconds.
fn median_p90(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p90 = (samples.len() * 9).div_ceil(10).max(1) - 1;
    (ms(samples[samples.len() / 2]), ms(samples[p90]))
}

async fn login_refusals_are_identical_whatever_was_wrong(t: &TestDb) -> Result {
    let rounds = env_count("NETDISK_TIMING_ROUNDS", 30).max(1);
    // No lockout here: the wrong-password logins would otherwise lock the account.
    let server = TestServer::start_with(t, |c| c.lockout_threshold = u32::MAX).await;
    let mut c = server.youku().await;
    let password = md5_hex(b"the real password");
    account(&mut c, "victim", &password, "user").await;
    let kinds = [
        ("unknown user", login("nobody", &password, "user")),
        (
            "wrong password",
            login("victim", &md5_hex(b"a guess"), "user"),
        ),
        ("wrong user type", login("victim", &password, "admin")),
    ];

    // One untimed round first (the unknown-user path builds its dummy hash on first use).
    let first = c.call(kinds[0].1.clone()).await;
    assert_eq!(
        (first["flag"].clone(), first["code"].clone()),
        (json!(false), json!("not_logged_in")),
        "{first}"
    );
    for (_, request) in &kinds[1..] {
        assert_eq!(c.call(request.clone()).await, first);
    }
    let mut times = vec![Vec::new(); kinds.len()];
    for _ in 0..rounds {
        for (k, (what, request)) in kinds.iter().enumerate() {
            let sent = Instant::now();
            let answer = c.call(request.clone()).await;
            times[k].push(sent.elapsed());
            assert_eq!(answer, first, "{what}: the same answer, every field");
        }
    }

    // The netdisk door: unknown name and wrong password, one answer.
    let mut door = server.netdisk_client().await;
    let unknown = door
        .call(netdisk(
            "login",
            json!({"username": "nobody", "password": password}),
        ))
        .await;
    let wrong = door
        .call(netdisk(
            "login",
            json!({"username": "victim", "password": "a guess"}),
        ))
        .await;
    assert_eq!(unknown["code"], 2, "{unknown}");
    assert_eq!(unknown, wrong, "the netdisk door: one answer for both");

    let stats: Vec<(f64, f64)> = times.iter_mut().map(|s| median_p90(s)).collect();
    let medians: Vec<f64> = stats.iter().map(|s| s.0).collect();
    let lowest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = medians.iter().copied().fold(0.0, f64::max);
    let each: Vec<String> = kinds
        .iter()
        .zip(&stats)
        .map(|((what, _), (median, p90))| format!("{what}: median {median:.2} ms, p90 {p90:.2} ms"))
        .collect();
    println!(
        "LOGIN TIMING [{:?}] {rounds} of each kind, interleaved: {}; largest difference of medians \
         {:.2} ms ({:.1}%)",
        t.backend,
        each.join("; "),
        highest - lowest,
        (highest - lowest) / lowest * 100.0
    );
    Ok(())
}

backend_tests!(login_refusals_are_identical_whatever_was_wrong);
