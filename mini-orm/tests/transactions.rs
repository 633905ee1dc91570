//! Transactions: commit, rollback, rollback on drop, every operation inside one, and writers
//! that run at the same time without SQLITE_BUSY.

mod support;

use std::sync::Arc;

use mini_orm::testing::{TestBackend, TestDb};
use mini_orm::{Db, Error, Model, Result, backend_tests, raw};
use support::User;

async fn committed_changes_are_kept(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut tx = t.db.begin().await?;
    let mut alice = User::named("alice");
    alice.save(&mut tx).await?;
    alice.is_vip = true;
    alice.update(&mut tx).await?;
    assert_eq!(
        User::get(&mut tx, alice.id).await?,
        alice,
        "a transaction sees its own writes"
    );
    tx.commit().await?;
    assert_eq!(User::get(&t.db, alice.id).await?, alice);
    Ok(())
}

async fn rollback_discards_every_kind_of_change(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut keep = User::named("keep");
    keep.save(&t.db).await?;
    let mut tx = t.db.begin().await?;
    User::named("new").save(&mut tx).await?;
    keep.is_vip = true;
    keep.update(&mut tx).await?;
    User::query()
        .filter(User::NAME.eq("keep"))
        .update(&mut tx, [User::FAILED_LOGINS.increment(5)])
        .await?;
    raw("DELETE FROM user_info WHERE name = ?")
        .bind("nobody".to_owned())
        .execute(&mut tx)
        .await?;
    assert_eq!(User::query().count(&mut tx).await?, 2);
    tx.rollback().await?;
    let rows = User::query().all(&t.db).await?;
    assert_eq!(
        rows,
        [User {
            is_vip: false,
            ..keep
        }]
    );
    Ok(())
}

async fn dropping_a_transaction_rolls_it_back(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    {
        let mut tx = t.db.begin().await?;
        User::named("dropped").save(&mut tx).await?;
    }
    assert_eq!(User::query().count(&t.db).await?, 0);
    // The connection is usable again afterwards.
    let mut tx = t.db.begin().await?;
    User::named("kept").save(&mut tx).await?;
    tx.commit().await?;
    assert_eq!(User::query().count(&t.db).await?, 1);
    Ok(())
}

/// Not on `sqlite::memory:`: one connection serves everything there, so outside readers wait
/// for the transaction instead.
async fn uncommitted_writes_are_invisible_outside(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let mut tx = t.db.begin().await?;
    User::named("pending").save(&mut tx).await?;
    assert_eq!(User::query().count(&t.db).await?, 0);
    tx.commit().await?;
    assert_eq!(User::query().count(&t.db).await?, 1);
    Ok(())
}

/// Each task increments a counter inside a transaction (read with `for_update`, then write): all
/// succeed and no increment is lost.
async fn concurrent_read_modify_write_transactions_all_commit(t: &TestDb) -> Result<()> {
    const TASKS: i64 = 16;
    const ROUNDS: i64 = 10;
    t.db.create_table::<User>().await?;
    let mut counter = User::named("counter");
    counter.save(&t.db).await?;
    let id = counter.id;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let db = t.db.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let mut tx = db.begin().await?;
                    let locked = User::query().filter(User::ID.eq(id)).for_update();
                    let mut user = locked.first(&mut tx).await?.expect("the counter exists");
                    tokio::task::yield_now().await;
                    user.failed_logins += 1;
                    user.update(&mut tx).await?;
                    tx.commit().await?;
                }
                Result::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked")?;
    }
    assert_eq!(User::get(&t.db, id).await?.failed_logins, TASKS * ROUNDS);
    Ok(())
}

/// Atomic increments from many tasks at once: exact on every backend.
async fn concurrent_atomic_increments_are_exact(t: &TestDb) -> Result<()> {
    const TASKS: i64 = 16;
    const ROUNDS: i64 = 10;
    t.db.create_table::<User>().await?;
    let mut counter = User::named("counter");
    counter.save(&t.db).await?;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let db = t.db.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let mut tx = db.begin().await?;
                    let by_name = User::query().filter(User::NAME.eq("counter"));
                    assert_eq!(
                        by_name
                            .update(&mut tx, [User::FAILED_LOGINS.increment(1)])
                            .await?,
                        1
                    );
                    tx.commit().await?;
                }
                Result::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked")?;
    }
    assert_eq!(
        User::get(&t.db, counter.id).await?.failed_logins,
        TASKS * ROUNDS
    );
    Ok(())
}

/// Writing through `&Db` while the same task holds a transaction cannot proceed on SQLite (one
/// writer): it must end with an error, not hang. (On MySQL the row lock waits for InnoDB's lock
/// wait timeout, 50 s by default: too slow for a test.)
async fn writing_outside_a_held_transaction_times_out_instead_of_hanging(t: &TestDb) -> Result<()> {
    let db = Db::connect(&format!("{}?busy_timeout_ms=200", t.url)).await?;
    db.create_table::<User>().await?;
    let mut tx = db.begin().await?;
    User::named("inside").save(&mut tx).await?;
    let error = User::named("outside").save(&db).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    tx.commit().await?;
    User::named("after").save(&db).await?;
    assert_eq!(User::query().count(&db).await?, 2);
    Ok(())
}

/// Two MySQL transactions that each lock a row the other then wants: the server rolls one back
/// and it is reported as [`Error::Deadlock`], the other commits.
async fn a_deadlock_is_reported_as_such(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    let (mut a, mut b) = (User::named("a"), User::named("b"));
    a.save(&t.db).await?;
    b.save(&t.db).await?;
    let bump = |id: i64| User::query().filter(User::ID.eq(id));
    let mut first = t.db.begin().await?;
    let mut second = t.db.begin().await?;
    bump(a.id)
        .update(&mut first, [User::FAILED_LOGINS.increment(1)])
        .await?;
    bump(b.id)
        .update(&mut second, [User::FAILED_LOGINS.increment(1)])
        .await?;
    let crossed = tokio::spawn(async move {
        let outcome = bump(b.id)
            .update(&mut first, [User::FAILED_LOGINS.increment(1)])
            .await;
        (outcome, first)
    });
    // Give the spawned update time to start waiting for `b`'s lock.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let here = bump(a.id)
        .update(&mut second, [User::FAILED_LOGINS.increment(1)])
        .await;
    if here.is_ok() {
        second.commit().await?;
    }
    let (there, first) = crossed.await.unwrap();
    if there.is_ok() {
        first.commit().await?;
    }
    let errors: Vec<Error> = [here, there].into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].is_deadlock(), "{:?}", errors[0]);
    // The survivor's two increments committed; the victim's were rolled back.
    let total: i64 = User::query()
        .all(&t.db)
        .await?
        .iter()
        .map(|u| u.failed_logins)
        .sum();
    assert_eq!(total, 2);
    Ok(())
}

backend_tests!(on [mysql]: a_deadlock_is_reported_as_such);
backend_tests!(on [sqlite_memory, sqlite_file]: writing_outside_a_held_transaction_times_out_instead_of_hanging);
backend_tests!(on [sqlite_file, mysql]: uncommitted_writes_are_invisible_outside);
backend_tests!(
    committed_changes_are_kept,
    rollback_discards_every_kind_of_change,
    dropping_a_transaction_rolls_it_back,
    concurrent_read_modify_write_transactions_all_commit,
    concurrent_atomic_increments_are_exact,
);

/// Several pools on one SQLite file behave like several processes: their write transactions
/// wait for each other (busy timeout) instead of failing with SQLITE_BUSY.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_pools_on_one_sqlite_file_never_see_busy() {
    const POOLS: usize = 3;
    const ROUNDS: i64 = 30;
    let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
    t.db.create_table::<User>().await.unwrap();
    let mut counter = User::named("counter");
    counter.save(&t.db).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(POOLS));
    let mut tasks = Vec::new();
    for _ in 0..POOLS {
        let db = Db::connect(&t.url).await.unwrap();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            for _ in 0..ROUNDS {
                let mut tx = db.begin().await?;
                let mut user = User::get(&mut tx, counter.id).await?;
                user.failed_logins += 1;
                user.update(&mut tx).await?;
                tx.commit().await?;
            }
            Result::<()>::Ok(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        User::get(&t.db, counter.id).await.unwrap().failed_logins,
        POOLS as i64 * ROUNDS
    );
    t.finish().await;
}

/// A write to a SQLite file that has to wait (here for another pool's lock; a commit's sync of
/// the disk is the everyday case) hands its runtime worker to the other tasks meanwhile. On a
/// runtime with a single worker, the task that releases the lock still gets to run, and the
/// waiting write then succeeds; were the worker held, the write would wait out its whole busy
/// timeout and fail, with the releasing task stuck behind it.
#[test]
fn a_waiting_sqlite_file_write_leaves_the_worker_to_other_tasks() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t = TestDb::open(TestBackend::SqliteFile).await.unwrap();
        t.db.create_table::<User>().await.unwrap();
        let writer = Db::connect(&format!("{}?busy_timeout_ms=2000", t.url))
            .await
            .unwrap();
        let holder = t.db.begin().await.unwrap();
        let write = tokio::spawn(async move { User::named("waited").save(&writer).await });
        let release = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            holder.commit().await
        });
        write
            .await
            .unwrap()
            .expect("the write got the lock once the other task released it");
        release.await.unwrap().unwrap();
        assert_eq!(User::query().count(&t.db).await.unwrap(), 1);
        t.finish().await;
    });
}
