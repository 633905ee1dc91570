//! Filters, ordering, paging, counting and set-based updates and deletes, on every backend.

mod support;

use mini_orm::testing::TestDb;
use mini_orm::{Error, Model, Result, backend_tests};
use support::{Sample, User};

/// Users a..f; b, d and f are VIPs; c and d have a real name.
async fn six_users(t: &TestDb) -> Result<Vec<User>> {
    t.db.create_table::<User>().await?;
    let mut users = Vec::new();
    for (i, name) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
        let mut user = User::named(name);
        user.is_vip = i % 2 == 1;
        user.real_name = matches!(name, "c" | "d").then(|| format!("Real {name}"));
        user.save(&t.db).await?;
        users.push(user);
    }
    Ok(users)
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.name.as_str()).collect()
}

async fn comparisons_filter_rows(t: &TestDb) -> Result<()> {
    let users = six_users(t).await?;
    let id = |i: usize| users[i].id;
    let run = |filter| {
        User::query()
            .filter(filter)
            .order_by(User::ID.asc())
            .all(&t.db)
    };
    assert_eq!(names(&run(User::NAME.eq("c")).await?), ["c"]);
    assert_eq!(
        names(&run(User::NAME.ne("c")).await?),
        ["a", "b", "d", "e", "f"]
    );
    assert_eq!(names(&run(User::ID.lt(id(2))).await?), ["a", "b"]);
    assert_eq!(names(&run(User::ID.le(id(2))).await?), ["a", "b", "c"]);
    assert_eq!(names(&run(User::ID.gt(id(3))).await?), ["e", "f"]);
    assert_eq!(names(&run(User::ID.ge(id(3))).await?), ["d", "e", "f"]);
    assert_eq!(names(&run(User::IS_VIP.eq(true)).await?), ["b", "d", "f"]);
    Ok(())
}

async fn in_lists_including_empty_ones(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    let run = |filter| {
        User::query()
            .filter(filter)
            .order_by(User::NAME.asc())
            .all(&t.db)
    };
    assert_eq!(
        names(&run(User::NAME.is_in(["e", "a", "zz"])).await?),
        ["a", "e"]
    );
    assert_eq!(
        names(&run(User::NAME.not_in(["a", "b", "c"])).await?),
        ["d", "e", "f"]
    );
    assert!(
        run(User::NAME.is_in(Vec::<String>::new()))
            .await?
            .is_empty()
    );
    assert_eq!(run(User::NAME.not_in(Vec::<String>::new())).await?.len(), 6);
    Ok(())
}

async fn null_checks_on_optional_columns(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    let run = |filter| {
        User::query()
            .filter(filter)
            .order_by(User::NAME.asc())
            .all(&t.db)
    };
    assert_eq!(
        names(&run(User::REAL_NAME.is_not_null()).await?),
        ["c", "d"]
    );
    assert_eq!(run(User::REAL_NAME.is_null()).await?.len(), 4);
    assert_eq!(names(&run(User::REAL_NAME.eq("Real d")).await?), ["d"]);
    Ok(())
}

async fn and_or_not_combine(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    let run = |filter| {
        User::query()
            .filter(filter)
            .order_by(User::NAME.asc())
            .all(&t.db)
    };
    let vip_or_c = User::IS_VIP.eq(true) | User::NAME.eq("c");
    assert_eq!(names(&run(vip_or_c.clone()).await?), ["b", "c", "d", "f"]);
    assert_eq!(
        names(&run(vip_or_c.clone() & User::REAL_NAME.is_not_null()).await?),
        ["c", "d"]
    );
    assert_eq!(names(&run(!vip_or_c).await?), ["a", "e"]);
    // Successive filter calls are ANDed.
    let both = User::query()
        .filter(User::IS_VIP.eq(true))
        .filter(User::NAME.ne("b"));
    assert_eq!(
        names(&both.order_by(User::NAME.asc()).all(&t.db).await?),
        ["d", "f"]
    );
    Ok(())
}

async fn like_is_case_sensitive_and_contains_escapes_wildcards(t: &TestDb) -> Result<()> {
    t.db.create_table::<User>().await?;
    for name in ["Cat", "cat", "concat", "100%", "1000", "a_b", "axb"] {
        User::named(name).save(&t.db).await?;
    }
    let run = |filter| {
        User::query()
            .filter(filter)
            .order_by(User::NAME.asc())
            .all(&t.db)
    };
    assert_eq!(names(&run(User::NAME.like("cat")).await?), ["cat"]);
    assert_eq!(
        names(&run(User::NAME.like("%cat")).await?),
        ["cat", "concat"]
    );
    assert_eq!(
        names(&run(User::NAME.contains("at")).await?),
        ["Cat", "cat", "concat"]
    );
    assert_eq!(names(&run(User::NAME.contains("0%")).await?), ["100%"]);
    assert_eq!(names(&run(User::NAME.contains("_")).await?), ["a_b"]);
    assert_eq!(names(&run(User::NAME.starts_with("C")).await?), ["Cat"]);
    // Without case: upper and lower case alike, on either side; wildcards still literal.
    assert_eq!(
        names(&run(User::NAME.contains_ignoring_case("CAT")).await?),
        ["Cat", "cat", "concat"]
    );
    assert_eq!(
        names(&run(User::NAME.contains_ignoring_case("A_B")).await?),
        ["a_b"]
    );
    Ok(())
}

async fn order_limit_offset_and_first(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    let newest = User::query().order_by(User::ID.desc());
    assert_eq!(
        names(&newest.clone().limit(2).all(&t.db).await?),
        ["f", "e"]
    );
    assert_eq!(
        names(&newest.clone().limit(2).offset(2).all(&t.db).await?),
        ["d", "c"]
    );
    assert_eq!(
        names(&newest.clone().offset(4).all(&t.db).await?),
        ["b", "a"]
    );
    assert!(newest.clone().offset(10).all(&t.db).await?.is_empty());
    assert_eq!(
        newest.clone().first(&t.db).await?.map(|u| u.name),
        Some("f".into())
    );
    let by_vip_then_name = User::query()
        .order_by(User::IS_VIP.desc())
        .order_by(User::NAME.asc());
    assert_eq!(
        names(&by_vip_then_name.all(&t.db).await?),
        ["b", "d", "f", "a", "c", "e"]
    );
    assert_eq!(
        User::query()
            .filter(User::NAME.eq("zz"))
            .first(&t.db)
            .await?,
        None
    );
    Ok(())
}

async fn count_ignores_window_and_exists(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    assert_eq!(User::query().count(&t.db).await?, 6);
    let vips = User::query().filter(User::IS_VIP.eq(true));
    assert_eq!(vips.clone().count(&t.db).await?, 3);
    assert_eq!(vips.clone().limit(1).offset(1).count(&t.db).await?, 3);
    assert!(vips.exists(&t.db).await?);
    assert!(
        !User::query()
            .filter(User::NAME.eq("zz"))
            .exists(&t.db)
            .await?
    );
    Ok(())
}

async fn delete_by_filter_reports_rows(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    assert_eq!(
        User::query()
            .filter(User::IS_VIP.eq(true))
            .delete(&t.db)
            .await?,
        3
    );
    assert_eq!(
        User::query()
            .filter(User::IS_VIP.eq(true))
            .delete(&t.db)
            .await?,
        0
    );
    assert_eq!(
        names(&User::query().order_by(User::NAME.asc()).all(&t.db).await?),
        ["a", "c", "e"]
    );
    Ok(())
}

async fn conditional_update_counts_matched_rows(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    let vips = || User::query().filter(User::IS_VIP.eq(true));
    assert_eq!(
        vips()
            .update(&t.db, [User::FAILED_LOGINS.increment(2)])
            .await?,
        3
    );
    assert_eq!(
        vips()
            .update(
                &t.db,
                [User::FAILED_LOGINS.increment(-1), User::IS_LOCKED.set(true)]
            )
            .await?,
        3
    );
    let b = User::query()
        .filter(User::NAME.eq("b"))
        .first(&t.db)
        .await?
        .unwrap();
    assert_eq!((b.failed_logins, b.is_locked), (1, true));
    let a = User::query()
        .filter(User::NAME.eq("a"))
        .first(&t.db)
        .await?
        .unwrap();
    assert_eq!((a.failed_logins, a.is_locked), (0, false));
    // Rows whose values do not change still count as matched, on both backends.
    assert_eq!(vips().update(&t.db, [User::IS_LOCKED.set(true)]).await?, 3);
    // A guard: only succeeds while the condition holds.
    let guard = || User::query().filter(User::NAME.eq("a") & User::FAILED_LOGINS.lt(1));
    assert_eq!(
        guard()
            .update(&t.db, [User::FAILED_LOGINS.increment(1)])
            .await?,
        1
    );
    assert_eq!(
        guard()
            .update(&t.db, [User::FAILED_LOGINS.increment(1)])
            .await?,
        0
    );
    Ok(())
}

async fn update_and_delete_refuse_windows_and_empty_sets(t: &TestDb) -> Result<()> {
    six_users(t).await?;
    let limited = User::query().limit(1);
    assert!(matches!(
        limited.clone().delete(&t.db).await,
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        limited.update(&t.db, [User::IS_VIP.set(true)]).await,
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        User::query().update(&t.db, []).await,
        Err(Error::InvalidQuery(_))
    ));
    assert!(matches!(
        User::query()
            .update(&t.db, [User::NAME.set("x".repeat(40))])
            .await,
        Err(Error::ValueTooLong { column: "name", .. })
    ));
    assert_eq!(User::query().count(&t.db).await?, 6, "nothing was deleted");
    Ok(())
}

async fn composite_filters_on_every_type(t: &TestDb) -> Result<()> {
    t.db.create_table::<Sample>().await?;
    for (owner, label, score) in [(1, "x", 1.5), (1, "y", 3.0), (2, "x", 2.0)] {
        let mut sample = Sample::new(owner, label);
        sample.score = score;
        sample.save(&t.db).await?;
    }
    let found = Sample::query()
        .filter(Sample::OWNER.eq(1) & Sample::SCORE.gt(2.0) & Sample::ORDER_NOTE.contains("--"))
        .all(&t.db)
        .await?;
    assert_eq!(
        found.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(),
        ["y"]
    );
    let negative = Sample::query()
        .filter(Sample::SMALL.eq(-7) & Sample::FLAG.eq(true))
        .count(&t.db)
        .await?;
    assert_eq!(negative, 3);
    Ok(())
}

backend_tests!(
    comparisons_filter_rows,
    in_lists_including_empty_ones,
    null_checks_on_optional_columns,
    and_or_not_combine,
    like_is_case_sensitive_and_contains_escapes_wildcards,
    order_limit_offset_and_first,
    count_ignores_window_and_exists,
    delete_by_filter_reports_rows,
    conditional_update_counts_matched_rows,
    update_and_delete_refuse_windows_and_empty_sets,
    composite_filters_on_every_type,
);
