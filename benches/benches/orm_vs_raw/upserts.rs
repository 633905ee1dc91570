//! `insert_if_absent_*` and `upsert_*`: writing a counter unless its name is taken, and
//! inserting it or counting one more view of it, through mini-orm (`Model::insert_if_absent`,
//! `Model::upsert`) and through the raw driver with the same statements in the same transaction
//! structure.

use std::cell::Cell;

use benches::{Counter, ORM, RAW};
use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion};
use mini_orm::{Db, Model, Upserted};
use tokio::runtime::Runtime;

use super::{Backend, Raw};

/// The counter every iteration of the `*_present` and `upsert_update` workloads finds taken.
const TAKEN: &str = "taken";

/// The ORM side of `upsert_*`: inserts `counter`, or adds its views to the one with its name.
async fn orm_upsert(db: &Db, counter: &mut Counter) -> bool {
    let existing = Counter::NAME.eq(counter.name.as_str());
    let more = Counter::VIEWS.increment(counter.views);
    match counter.upsert(db, existing, [more]).await.unwrap() {
        Upserted::Inserted(_) => true,
        Upserted::Updated => false,
    }
}

/// A counter with a name no iteration used before (each side's names apart).
fn fresh_counter(side: &str, next: &Cell<u64>) -> Counter {
    next.set(next.get() + 1);
    Counter::new(format!("{side} {}", next.get()))
}

/// The four workloads on backend `B`, both sides, after checking they agree.
pub(super) fn upserts<B: Backend>(c: &mut Criterion, rt: &Runtime, backend: &B) {
    let (db, raw) = rt.block_on(backend.fresh());
    let (db, raw) = (&db, &raw);
    let next = &Cell::new(0);

    rt.block_on(async {
        let mut first = Counter::new(TAKEN);
        assert!(first.insert_if_absent(db).await.unwrap());
        // The raw side's own database (SQLite) needs the counter too; MySQL's has it.
        raw.insert_counter_if_absent(&mut Counter::new(TAKEN)).await;
        let (mut orm_again, mut raw_again) = (Counter::new(TAKEN), Counter::new(TAKEN));
        assert!(!orm_again.insert_if_absent(db).await.unwrap());
        assert!(!raw.insert_counter_if_absent(&mut raw_again).await);
        let (mut orm_new, mut raw_new) = (fresh_counter(ORM, next), fresh_counter(RAW, next));
        assert!(orm_new.insert_if_absent(db).await.unwrap());
        assert!(raw.insert_counter_if_absent(&mut raw_new).await);
        assert!(orm_new.id > first.id && raw_new.id > first.id);

        assert!(!orm_upsert(db, &mut Counter::new(TAKEN)).await);
        assert!(!raw.upsert_counter(&mut Counter::new(TAKEN)).await);
        let (mut orm_new, mut raw_new) = (fresh_counter(ORM, next), fresh_counter(RAW, next));
        assert!(orm_upsert(db, &mut orm_new).await);
        assert!(raw.upsert_counter(&mut raw_new).await);
        assert!(orm_new.id > 0 && raw_new.id > 0);
    });

    let mut group = c.benchmark_group(format!("{}/insert_if_absent_new", B::NAME));
    bench_pair(
        &mut group,
        rt,
        |mut counter| async move { assert!(counter.insert_if_absent(db).await.unwrap()) },
        |mut counter| async move { assert!(raw.insert_counter_if_absent(&mut counter).await) },
        |side| fresh_counter(side, next),
    );
    group.finish();
    let mut group = c.benchmark_group(format!("{}/insert_if_absent_present", B::NAME));
    bench_pair(
        &mut group,
        rt,
        |mut counter| async move { assert!(!counter.insert_if_absent(db).await.unwrap()) },
        |mut counter| async move { assert!(!raw.insert_counter_if_absent(&mut counter).await) },
        |_| Counter::new(TAKEN),
    );
    group.finish();
    let mut group = c.benchmark_group(format!("{}/upsert_insert", B::NAME));
    bench_pair(
        &mut group,
        rt,
        |mut counter| async move { assert!(orm_upsert(db, &mut counter).await) },
        |mut counter| async move { assert!(raw.upsert_counter(&mut counter).await) },
        |side| fresh_counter(side, next),
    );
    group.finish();
    let mut group = c.benchmark_group(format!("{}/upsert_update", B::NAME));
    bench_pair(
        &mut group,
        rt,
        |mut counter| async move { assert!(!orm_upsert(db, &mut counter).await) },
        |mut counter| async move { assert!(!raw.upsert_counter(&mut counter).await) },
        |_| Counter::new(TAKEN),
    );
    group.finish();
}

/// Times `orm` and `raw` in `group`, each iteration on a counter from `counter(side)` (made
/// outside the timed part, which is the write alone).
fn bench_pair<O: Future<Output = ()>, R: Future<Output = ()>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    orm: impl Fn(Counter) -> O,
    raw: impl Fn(Counter) -> R,
    counter: impl Fn(&str) -> Counter,
) {
    group.bench_function(ORM, |b| {
        b.to_async(rt)
            .iter_batched(|| counter(ORM), &orm, BatchSize::SmallInput)
    });
    group.bench_function(RAW, |b| {
        b.to_async(rt)
            .iter_batched(|| counter(RAW), &raw, BatchSize::SmallInput)
    });
}
